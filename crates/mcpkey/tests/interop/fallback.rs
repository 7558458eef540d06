use mcpkey::{Client, ServerConfig, TransportKind};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn sse_url_falls_back_after_404_on_post() {
    // server-everything's SSE server answers POST /sse with 404.
    let peer = everything("sse");
    let client = Client::builder()
        .server("ev", ServerConfig::http(peer.url("/sse")))
        .build();
    let s = client.session("ev").await.unwrap();
    assert_eq!(s.details().transport, TransportKind::Sse);
    let r = s
        .call_tool("echo", args(json!({"message": "fell back"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: fell back");
    client.close().await;
}

#[tokio::test]
async fn sse_url_falls_back_after_405_on_post() {
    // The Python SDK's SSE route answers POST /sse with 405.
    let peer = py_server();
    let client = Client::builder()
        .server("py", ServerConfig::http(peer.url("/sse")))
        .build();
    let s = client.session("py").await.unwrap();
    assert_eq!(s.details().transport, TransportKind::Sse);
    client.close().await;
}

async fn no_fallback_on(status: u16) -> mcpkey::Error {
    let peer = fault_server(&["--post-status", &status.to_string()]);
    let client = Client::builder()
        .server("f", ServerConfig::http(peer.url("/sse")))
        .build();
    let err = client.session("f").await.unwrap_err();
    let reqs = peer.requests();
    assert!(reqs.iter().any(|r| r["method"] == "POST"));
    assert!(
        reqs.iter()
            .all(|r| !(r["method"] == "GET" && r["path"] == "/sse")),
        "fell back to SSE after HTTP {status}: {reqs:?}"
    );
    err
}

#[tokio::test]
async fn no_fallback_on_401() {
    let err = no_fallback_on(401).await;
    assert!(err.is_auth(), "{err}");
    assert_eq!(err.exit_code(), 3);
    let msg = err.to_string();
    assert!(
        msg.contains("mcpkey login f") && msg.contains("\"auth\""),
        "{msg}"
    );
}

#[tokio::test]
async fn no_fallback_on_500() {
    let err = no_fallback_on(500).await;
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("500"), "{err}");
}

#[tokio::test]
async fn unreachable_server_is_exit_code_4() {
    let port = free_port();
    let client = Client::builder()
        .server(
            "gone",
            ServerConfig::http(format!("http://127.0.0.1:{port}/mcp")),
        )
        .build();
    let err = client.session("gone").await.unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(err.hint().unwrap().contains("running"), "{err}");
}

#[tokio::test]
async fn explicit_streamable_transport_does_not_fall_back() {
    let peer = everything("sse");
    let cfg = ServerConfig::http_with(&peer.url("/sse"), mcpkey::HttpTransport::Streamable);
    let client = Client::builder().server("ev", cfg).build();
    let err = client.session("ev").await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
