//! Every authentication scheme against a server that really verifies it
//! (tests/peers/auth_server.py: Python, constant-time comparisons, Digest by
//! flask-httpauth), on every request kind of every HTTP transport.

use mcpkey::{Client, Config, ErrorKind};
use serde_json::{Value, json};

use crate::support::*;

/// (scheme name, server arguments, client `auth` config)
fn schemes() -> Vec<(&'static str, Vec<&'static str>, Value)> {
    vec![
        ("bearer", vec!["--token", "tok-b3arer"], json!("tok-b3arer")),
        (
            "basic",
            vec!["--username", "alice", "--password", "s3cret:é"],
            json!({"type": "basic", "username": "alice", "password": "s3cret:é"}),
        ),
        (
            "digest",
            vec!["--username", "alice", "--password", "d1gest-pw"],
            json!({"type": "digest", "username": "alice", "password": "d1gest-pw"}),
        ),
        (
            "api_key",
            vec!["--api-key", "k-apikey", "--header-name", "X-Custom-Key"],
            json!({"type": "api_key", "api_key": "k-apikey", "header_name": "X-Custom-Key"}),
        ),
        (
            "query_param",
            vec!["--api-key", "k-query", "--param-name", "key"],
            json!({"type": "query_param", "api_key": "k-query", "param_name": "key"}),
        ),
        (
            "signature",
            vec!["--api-key", "k-sig", "--api-secret", "sec-sig"],
            json!({"type": "signature", "api_key": "k-sig", "api_secret": "sec-sig"}),
        ),
        (
            "multi_header",
            vec![
                "--headers",
                r#"{"X-API-Key":"k-multi","X-Tenant-ID":"tenant-7"}"#,
            ],
            json!({"type": "multi_header", "headers": {"X-API-Key": "k-multi", "X-Tenant-ID": "tenant-7"}}),
        ),
        (
            "bearer",
            vec!["--token", "tok-from-helper"],
            json!({"type": "command", "command": "sh", "args": ["-c", "printf '{\"Authorization\":\"Bearer tok-from-helper\"}'"]}),
        ),
    ]
}

fn client_for(url: &str, transport: &str, protocol: &str, auth: &Value) -> Client {
    let text = json!({"mcpServers": {"s": {"url": url, "transport": transport, "protocol": protocol, "auth": auth}}});
    Client::from_config(Config::parse(&text.to_string(), "auth-test.json").unwrap())
}

async fn exercise(client: &Client) {
    let s = client.session("s").await.unwrap();
    let r = s
        .call_tool("echo", args(json!({"message": "authenticated"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "authenticated");
    s.list_resources().await.unwrap();
    client.close().await;
}

/// Every logged request passed verification (Digest: except the unanswered
/// first request of each connection, which fetches the challenge).
fn check_log(peer: &Peer, scheme: &str, want: &[(&str, &str)]) {
    let reqs = peer.requests();
    let failed: Vec<&Value> = reqs.iter().filter(|r| r["verified"] != true).collect();
    let allowed = if scheme == "digest" { 1 } else { 0 };
    assert!(
        failed.len() <= allowed,
        "{scheme}: unverified requests {failed:#?}"
    );
    for (method, path) in want {
        assert!(
            reqs.iter()
                .any(|r| r["method"] == *method && r["path"] == *path && r["verified"] == true),
            "{scheme}: no verified {method} {path} in {reqs:#?}"
        );
    }
}

#[tokio::test]
async fn every_scheme_on_streamable_http_legacy_post_get_and_delete() {
    for (scheme, server_args, auth) in schemes() {
        let peer = auth_server(scheme, &server_args);
        let client = client_for(&peer.url("/mcp"), "streamable-http", "legacy", &auth);
        exercise(&client).await;
        check_log(
            &peer,
            scheme,
            &[("POST", "/mcp"), ("GET", "/mcp"), ("DELETE", "/mcp")],
        );
    }
}

#[tokio::test]
async fn every_scheme_on_streamable_http_modern() {
    for (scheme, server_args, auth) in schemes() {
        let peer = auth_server(scheme, &server_args);
        let client = client_for(&peer.url("/mcp"), "streamable-http", "auto", &auth);
        let s = client.session("s").await.unwrap();
        assert_eq!(s.details().era, mcpkey::Era::Modern, "{scheme}");
        exercise(&client).await;
        check_log(&peer, scheme, &[("POST", "/mcp")]);
    }
}

#[tokio::test]
async fn every_scheme_on_legacy_sse_get_and_endpoint_posts() {
    for (scheme, server_args, auth) in schemes() {
        let peer = auth_server(scheme, &server_args);
        let client = client_for(&peer.url("/sse"), "sse", "auto", &auth);
        exercise(&client).await;
        check_log(&peer, scheme, &[("GET", "/sse"), ("POST", "/messages/")]);
    }
}

#[tokio::test]
async fn wrong_credentials_name_server_and_scheme_without_the_secret() {
    let wrong = [
        (
            "bearer",
            vec!["--token", "right-token"],
            json!("wrong-token-value"),
        ),
        (
            "basic",
            vec!["--username", "u", "--password", "right"],
            json!({"type":"basic","username":"u","password":"wrong-pw-value"}),
        ),
        (
            "digest",
            vec!["--username", "u", "--password", "right"],
            json!({"type":"digest","username":"u","password":"wrong-pw-value"}),
        ),
        (
            "signature",
            vec!["--api-key", "k", "--api-secret", "right"],
            json!({"type":"signature","api_key":"k","api_secret":"wrong-secret-value"}),
        ),
    ];
    for (scheme, server_args, auth) in wrong {
        let peer = auth_server(scheme, &server_args);
        let client = client_for(&peer.url("/mcp"), "streamable-http", "auto", &auth);
        let err = client.session("s").await.unwrap_err();
        let msg = err.to_string();
        assert_eq!(err.exit_code(), 3, "{scheme}: {msg}");
        assert!(
            msg.contains("'s'") && msg.contains(scheme),
            "{scheme}: {msg}"
        );
        assert!(
            !msg.contains("wrong-") && !msg.contains("right"),
            "{scheme}: {msg}"
        );
        if scheme == "digest" {
            // One unanswered request and one answer: wrong passwords are not retried.
            assert_eq!(peer.requests().len(), 2, "{:#?}", peer.requests());
        }
    }
}

#[tokio::test]
async fn digest_reuses_the_challenge_for_later_requests() {
    let peer = auth_server("digest", &["--username", "u", "--password", "pw"]);
    let client = client_for(
        &peer.url("/mcp"),
        "streamable-http",
        "auto",
        &json!({"type":"digest","username":"u","password":"pw"}),
    );
    let s = client.session("s").await.unwrap();
    for i in 0..5 {
        let r = s
            .call_tool("echo", args(json!({"message": format!("m{i}")})))
            .await
            .unwrap();
        assert_eq!(text_of(&r), format!("m{i}"));
    }
    let reqs = peer.requests();
    let unanswered = reqs.iter().filter(|r| r["verified"] != true).count();
    assert_eq!(
        unanswered, 1,
        "one challenge round for the whole session: {reqs:#?}"
    );
    client.close().await;
}

#[tokio::test]
async fn seed_signature_matches_python_hmac() {
    let sig =
        mcpkey::auth::Signature::new("k".to_owned().into(), "py-secret".to_owned().into()).unwrap();
    let ours = sig.signature_for(
        b"POST",
        "/messages/",
        Some("session_id=1"),
        b"{}",
        1_750_000_000,
    );
    let out = std::process::Command::new(python())
        .args([
            "-c",
            "import hmac,hashlib;print(hmac.new(b'py-secret', f\"{'POST'}{'/messages/'}{1750000000}\".encode(), hashlib.sha256).hexdigest())",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), ours);
}

#[tokio::test]
async fn cross_origin_redirect_leaves_the_other_origin_with_nothing() {
    let other = free_port();
    let peer = fault_server(&["--redirect-other", &other.to_string()]);
    let text = json!({"mcpServers": {"s": {"url": peer.url("/mcp"), "headers": {"X-API-Key": "static-secret"}, "auth": "redirect-token"}}});
    let client = Client::from_config(Config::parse(&text.to_string(), "t.json").unwrap());
    let err = client.session("s").await.unwrap_err();
    match err.kind() {
        ErrorKind::Transport(mcpkey::transport::TransportError::Auth(
            mcpkey::auth::AuthError::CrossOriginRedirect { target },
        )) => {
            assert_eq!(target, &format!("http://127.0.0.1:{other}"));
        }
        k => panic!("{k:?}"),
    }
    let reqs = peer.requests();
    assert!(reqs.iter().all(|r| r["origin"] != "other"), "{reqs:#?}");
    assert!(
        !err.to_string().contains("redirect-token") && !err.to_string().contains("static-secret")
    );
}

#[tokio::test]
async fn credentials_over_plain_http_to_a_remote_host_are_refused_before_sending() {
    let text = json!({"mcpServers": {"s": {"url": "http://mcp.invalid/mcp", "auth": "tok"}}});
    let client = Client::from_config(Config::parse(&text.to_string(), "t.json").unwrap());
    let err = client.session("s").await.unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(err.to_string().contains("allow_insecure_http"), "{err}");
}
