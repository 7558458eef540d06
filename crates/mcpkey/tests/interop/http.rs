use std::time::Duration;

use mcpkey::{AcceptDefaults, Client, Era, ProtocolPin, ServerConfig, TransportKind};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn everything_over_streamable_http_is_legacy_with_a_session() {
    let peer = everything("streamableHttp");
    let client = Client::builder()
        .server("ev", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("ev").await.unwrap();
    assert_eq!(s.details().era, Era::Legacy);
    assert_eq!(s.details().transport, TransportKind::StreamableHttp);
    let r = s
        .call_tool("echo", args(json!({"message": "over http"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: over http");
    assert!(!s.list_prompts().await.unwrap().is_empty());
    s.ping().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn python_sdk_over_streamable_http_is_modern() {
    let peer = py_server();
    let client = Client::builder()
        .elicitation(AcceptDefaults)
        .server("py", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("py").await.unwrap();
    assert_eq!(s.details().era, Era::Modern);
    assert_eq!(s.details().protocol_version, "2026-07-28");
    assert_eq!(s.details().implementation.as_ref().unwrap().name, "py-peer");

    let r = s.call_tool("ask_name", None).await.unwrap();
    assert_eq!(text_of(&r), "Hello, Ada!", "input_required round answered");
    let resources = s.list_resources().await.unwrap();
    assert_eq!(resources.len(), 7, "pagination followed to the end");
    let read = s.read_resource("test://item/4").await.unwrap();
    assert!(serde_json::to_string(&read).unwrap().contains("item 4"));
    let p = s
        .get_prompt("review", args(json!({"code": "fn main() {}"})))
        .await
        .unwrap();
    assert!(serde_json::to_string(&p).unwrap().contains("fn main()"));
    s.ping().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn pinned_legacy_uses_initialize_and_sessions() {
    let peer = py_server();
    let cfg = ServerConfig::http(peer.url("/mcp")).protocol(ProtocolPin::Legacy(None));
    let client = Client::builder()
        .elicitation(AcceptDefaults)
        .server("py", cfg)
        .build();
    let s = client.session("py").await.unwrap();
    assert_eq!(s.details().era, Era::Legacy);
    // On a legacy session the elicitation arrives as a server request.
    let r = s.call_tool("ask_name", None).await.unwrap();
    assert_eq!(text_of(&r), "Hello, Ada!");
    client.close().await;
}

#[tokio::test]
async fn expired_legacy_session_is_reinitialized_transparently() {
    let mut peer = py_server();
    let port = peer.port;
    let cfg = ServerConfig::http(peer.url("/mcp")).protocol(ProtocolPin::Legacy(None));
    let client = Client::builder().server("py", cfg).build();
    let s = client.session("py").await.unwrap();
    let r = s
        .call_tool("echo", args(json!({"message": "before"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "before");
    // The server restarts and forgets every session: the next request
    // carrying our session id gets 404.
    peer.kill();
    let _peer2 = py_server_on(port);
    let r = s
        .call_tool("echo", args(json!({"message": "after"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "after");
    client.close().await;
}

#[tokio::test]
async fn modern_request_timeout_is_reported() {
    let peer = py_server();
    let client = Client::builder()
        .server("py", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("py").await.unwrap();
    let opts = mcpkey::CallOptions::default().timeout(Duration::from_millis(300));
    let err = s
        .call_tool_with("slow", args(json!({"steps": 5})), opts)
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), mcpkey::ErrorKind::Timeout(_)), "{err}");
    assert!(err.hint().unwrap().contains("timeout"));
    // The session is still usable.
    let r = s
        .call_tool("echo", args(json!({"message": "still here"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "still here");
    client.close().await;
}
