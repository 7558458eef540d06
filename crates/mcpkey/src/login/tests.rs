//! Tests with a real HTTP client against the loopback listener.

use super::callback::html_escape;
use super::*;

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn test_ui(port: u16) -> LoopbackUi {
    LoopbackUi::new("test")
        .port(port)
        .open_browser(false)
        .paste_fallback(false)
        .server_name("test-server")
}

fn auth_url() -> Url {
    Url::parse("https://as.example/authorize?client_id=c&state=S3CRET-state").unwrap()
}

/// A real HTTP/1.1 GET; retries the connect until the listener is up.
/// Returns (status, whole response).
async fn get(port: u16, target: &str) -> (u16, String) {
    let mut stream = None;
    for _ in 0..200 {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let mut stream = stream.expect("listener never came up");
    let req = format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\
         Accept: text/html\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    stream.read_to_end(&mut resp).await.unwrap();
    let resp = String::from_utf8(resp).unwrap();
    let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, resp)
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn wrong_state_is_refused_then_right_one_completes_and_listener_closes() {
    let port = free_port();
    let ui = test_ui(port);
    assert_eq!(
        ui.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    let url = auth_url();
    let flow = ui.run(&url, "S3CRET-state", "ignored");
    let client = async {
        let (status, resp) = get(port, "/callback?code=evil&state=wrong").await;
        assert_eq!(status, 400);
        assert!(resp.contains("state does"), "{resp}");
        assert_eq!(
            header(&resp, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(&resp, "cache-control"), Some("no-store"));
        assert_eq!(
            header(&resp, "content-security-policy"),
            Some("default-src 'none'; style-src 'unsafe-inline'")
        );
        let (status, _) = get(port, "/callback?code=x").await;
        assert_eq!(status, 400);
        let (status, _) = get(port, "/callback?state=S3CRET-state&state=wrong").await;
        assert_eq!(status, 400);
        let (status, _) = get(port, "/favicon.ico").await;
        assert_eq!(status, 404);
        let (status, resp) = get(
            port,
            "/callback?code=the-code&state=S3CRET-state&iss=https%3A%2F%2Fas.example",
        )
        .await;
        assert_eq!(status, 200);
        assert!(resp.contains("Login complete"), "{resp}");
        assert!(resp.contains("test-server"), "{resp}");
        assert!(
            !resp.contains("the-code"),
            "the page must not show the code"
        );
    };
    let (result, ()) = tokio::join!(flow, client);
    let redirect = result.unwrap();
    assert_eq!(
        redirect.as_str(),
        format!(
            "http://127.0.0.1:{port}/callback?code=the-code&state=S3CRET-state&iss=https%3A%2F%2Fas.example"
        )
    );
    // Exactly one callback: the listener is gone.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn error_callback_completes_and_page_escapes_description() {
    let port = free_port();
    let ui = test_ui(port).path("cb");
    let url = auth_url();
    let flow = ui.run(&url, "S3CRET-state", "srv");
    let client = get(
        port,
        "/cb?error=access_denied&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state=S3CRET-state",
    );
    let (result, (status, resp)) = tokio::join!(flow, client);
    let redirect = result.unwrap();
    assert_eq!(
        redirect.query(),
        Some(
            "error=access_denied&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state=S3CRET-state"
        )
    );
    assert_eq!(redirect.path(), "/cb");
    assert_eq!(status, 200);
    assert!(resp.contains("Login failed"), "{resp}");
    assert!(resp.contains("access_denied"), "{resp}");
    assert!(resp.contains("&lt;script&gt;x&lt;/script&gt;"), "{resp}");
    assert!(!resp.contains("<script>"), "{resp}");
}

#[tokio::test]
async fn times_out_with_a_message_naming_the_timeout() {
    let port = free_port();
    let ui = test_ui(port).timeout(Duration::from_millis(150));
    let started = std::time::Instant::now();
    let err = ui
        .run(&auth_url(), "S3CRET-state", "srv")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let AuthError::Rejected { scheme, reason } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(scheme, "oauth");
    assert!(reason.contains("timed out after 150 ms"), "{reason}");
    assert!(reason.contains("test-server"), "{reason}");
    assert!(reason.contains("again"), "{reason}");
    assert!(!reason.contains("S3CRET"), "{reason}");
    // The listener was released.
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    assert_eq!(fmt_duration(Duration::from_secs(300)), "300 s");
}

#[test]
fn default_port_is_deterministic_and_in_range() {
    let a = LoopbackUi::default_port("https://mcp.example.com/mcp");
    assert_eq!(a, LoopbackUi::default_port("https://mcp.example.com/mcp"));
    assert_eq!(
        LoopbackUi::new("https://mcp.example.com/mcp").redirect_uri(),
        format!("http://127.0.0.1:{a}/callback")
    );
    // Pinned: the formula must never change (registered redirect URIs).
    // 30000 + fnv1a64(key) % 10000.
    assert_eq!(LoopbackUi::default_port(""), 36037);
    assert_eq!(LoopbackUi::default_port("a"), 31996);
    assert_eq!(a, 36110);
    let mut distinct = std::collections::HashSet::new();
    for i in 0..100 {
        let p = LoopbackUi::default_port(&format!("https://server{i}.example/mcp"));
        assert!((30000..=39999).contains(&p), "{p}");
        distinct.insert(p);
    }
    assert!(distinct.len() > 90, "{}", distinct.len());
    assert_ne!(a, LoopbackUi::default_port("https://other.example.com/mcp"));
}

#[tokio::test]
async fn busy_port_fails_naming_the_port() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let err = test_ui(port)
        .run(&auth_url(), "S3CRET-state", "srv")
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("port {port}")), "{msg}");
    assert!(msg.contains("callback_port"), "{msg}");
    assert!(msg.contains("in use"), "{msg}");
}

#[tokio::test]
async fn pasted_redirect_completes() {
    let port = free_port();
    let right = format!("http://127.0.0.1:{port}/callback?code=pasted-code&state=S3CRET-state");
    let input =
        format!("\nnot a url\nhttp://127.0.0.1:{port}/callback?code=c&state=wrong\n  {right}  \n");
    let ui = test_ui(port)
        .paste_fallback(true)
        .paste_input(std::io::Cursor::new(input.into_bytes()));
    let redirect = ui.run(&auth_url(), "S3CRET-state", "srv").await.unwrap();
    assert_eq!(redirect.as_str(), right);
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn pasted_query_completes_and_eof_keeps_listening() {
    let port = free_port();
    let ui = test_ui(port)
        .paste_fallback(true)
        .paste_input(std::io::Cursor::new(
            b"?code=q&state=S3CRET-state\n".to_vec(),
        ));
    let redirect = ui.run(&auth_url(), "S3CRET-state", "srv").await.unwrap();
    assert_eq!(
        redirect.as_str(),
        format!("http://127.0.0.1:{port}/callback?code=q&state=S3CRET-state")
    );

    // Input that ends without the redirect: the listener still works.
    let port = free_port();
    let ui = test_ui(port)
        .paste_fallback(true)
        .paste_input(std::io::Cursor::new(b"nothing useful\n".to_vec()));
    let url = auth_url();
    let flow = ui.run(&url, "S3CRET-state", "srv");
    let client = get(port, "/callback?code=h&state=S3CRET-state");
    let (result, (status, _)) = tokio::join!(flow, client);
    assert_eq!(status, 200);
    assert_eq!(result.unwrap().query(), Some("code=h&state=S3CRET-state"));
}

#[tokio::test]
async fn oversized_and_odd_requests_are_refused() {
    let port = free_port();
    let ui = test_ui(port);
    let url = auth_url();
    let flow = ui.run(&url, "S3CRET-state", "srv");
    let client = async {
        let long = format!("/callback?x={}", "a".repeat(20 * 1024));
        let (status, _) = get(port, &long).await;
        assert_eq!(status, 431);
        // Not GET.
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(b"POST /callback?state=S3CRET-state HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 405 "), "{resp}");
        // An idle connection does not hold up the callback.
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        get(port, "/callback?code=z&state=S3CRET-state").await
    };
    let (result, (status, _)) = tokio::join!(flow, client);
    assert_eq!(status, 200);
    assert!(result.is_ok());
}

#[test]
fn escapes_html() {
    assert_eq!(
        html_escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn ipv6_host_is_bracketed() {
    let ui = LoopbackUi::new("k").host("[::1]").port(4000).path("cb");
    assert_eq!(ui.redirect_uri(), "http://[::1]:4000/cb");
    let ui = LoopbackUi::new("k").host("localhost").port(4000);
    assert_eq!(ui.redirect_uri(), "http://localhost:4000/callback");
}
