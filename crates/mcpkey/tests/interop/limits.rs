use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use mcpkey::{Client, Limits, ServerConfig};

use crate::support::{args, text_of};

/// A raw HTTP/1.1 server answering every request with `reply` (status line,
/// headers and body, as given), on a thread; returns its port.
fn raw_server(reply: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                loop {
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.to_ascii_lowercase();
                        if let Some(v) = l.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() || w.write_all(&reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn response(content_type: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The whole error chain, as a person reading the CLI's output sees it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn connect_error(port: u16, limits: Limits) -> String {
    let cfg = ServerConfig::http(format!("http://127.0.0.1:{port}/mcp"))
        .no_auth()
        .limits(limits)
        .connect_timeout(Duration::from_secs(5));
    let client = Client::builder().server("big", cfg).build();
    let err = client.session("big").await.unwrap_err();
    chain(&err)
}

fn big_result() -> String {
    let text = "x".repeat(64 * 1024);
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"content":[{{"type":"text","text":"{text}"}}]}}}}"#
    )
}

#[tokio::test]
async fn json_body_over_the_limit_is_a_clear_error() {
    let port = raw_server(response("application/json", "", &big_result()));
    let msg = connect_error(port, Limits::default().max_message_bytes(16 * 1024)).await;
    assert!(
        msg.contains("16384") && msg.contains("limits.max_message_bytes"),
        "{msg}"
    );
}

#[tokio::test]
async fn sse_event_over_the_limit_is_a_clear_error() {
    let body = format!("event: message\ndata: {}\n\n", big_result());
    let port = raw_server(response("text/event-stream", "", &body));
    let msg = connect_error(port, Limits::default().max_message_bytes(16 * 1024)).await;
    assert!(
        msg.contains("16384") && msg.contains("limits.max_message_bytes"),
        "{msg}"
    );
}

#[tokio::test]
async fn response_head_over_the_limit_is_refused() {
    let huge = format!("x-padding: {}\r\n", "p".repeat(32 * 1024));
    let port = raw_server(response("application/json", &huge, "{}"));
    let msg = connect_error(port, Limits::default().max_header_bytes(8 * 1024)).await;
    assert!(msg.to_lowercase().contains("too large"), "{msg}");
}

#[tokio::test]
async fn metadata_over_the_limit_is_a_clear_error() {
    // The server asks for OAuth; its protected-resource metadata is huge.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut buf = [0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let reply = if head.starts_with("POST") {
                    let chal = format!(
                        "www-authenticate: Bearer resource_metadata=\"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp\"\r\n"
                    );
                    format!("HTTP/1.1 401 Unauthorized\r\n{chal}content-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
                } else {
                    let body = format!(
                        r#"{{"resource":"http://127.0.0.1:{port}/mcp","pad":"{}"}}"#,
                        "p".repeat(200_000)
                    );
                    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).into_bytes()
                };
                let _ = conn.write_all(&reply);
            }
        });
        port
    };
    let cfg = ServerConfig::http(format!("http://127.0.0.1:{port}/mcp"))
        .limits(Limits::default().max_metadata_bytes(64 * 1024))
        .allow_insecure_http(true);
    let client = Client::builder().server("meta", cfg).build();
    let msg = chain(&client.session("meta").await.unwrap_err());
    assert!(
        msg.contains("65536") && msg.contains("limits.max_metadata_bytes"),
        "{msg}"
    );
}

#[test]
fn bad_limits_in_a_config_name_the_key() {
    let cfg = mcpkey::Config::parse(
        r#"{"mcpServers": {
            "s": {"url": "http://127.0.0.1:1/mcp", "limits": {"max_header_bytes": 10}},
            "t": {"url": "http://127.0.0.1:1/mcp", "limits": {"max_bites": 10}},
            "ok": {"url": "http://127.0.0.1:1/mcp", "limits": {"max_message_bytes": 1000}}
        }}"#,
        "mcp.json",
    )
    .unwrap();
    let err = cfg.resolve("s").unwrap_err().to_string();
    assert!(
        err.contains("limits.max_header_bytes") && err.contains("8192"),
        "{err}"
    );
    let err = cfg.resolve("t").unwrap_err().to_string();
    assert!(err.contains("max_bites"), "{err}");
    assert!(cfg.resolve("ok").is_ok());
}

/// A stdio server that floods notifications before answering: with room
/// for only 4 waiting messages the client reads at the pace it handles
/// them, and the call still gets its answer.
#[tokio::test]
async fn notification_flood_is_absorbed_with_a_small_queue() {
    let script = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    if m["method"] == "initialize":
        r = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": {"name": "flood", "version": "1"}}
    elif m["method"] == "tools/call":
        for i in range(5000):
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x" * 100}}) + "\n")
        r = {"content": [{"type": "text", "text": "done"}]}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32601, "message": "no"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}), flush=True)
"#;
    let cfg = ServerConfig::stdio("python3")
        .args(["-c", script])
        .protocol(mcpkey::ProtocolPin::Legacy(None))
        .limits(Limits::default().max_pending_messages(4));
    let client = Client::builder().server("flood", cfg).build();
    let s = client.session("flood").await.unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        s.call_tool("anything", args(serde_json::json!({}))),
    )
    .await
    .expect("no deadlock")
    .unwrap();
    assert_eq!(text_of(&r), "done");
    client.close().await;
}
