use mcpkey::{Client, ErrorKind, ServerConfig, TransportKind};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn everything_over_legacy_sse_explicitly() {
    let peer = everything("sse");
    let client = Client::builder()
        .server("ev", ServerConfig::sse(peer.url("/sse")))
        .build();
    let s = client.session("ev").await.unwrap();
    assert_eq!(s.details().transport, TransportKind::Sse);
    let r = s
        .call_tool("echo", args(json!({"message": "sse"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: sse");
    let r = s
        .call_tool("get-sum", args(json!({"a": 1, "b": 1})))
        .await
        .unwrap();
    assert!(text_of(&r).contains('2'));
    client.close().await;
}

#[tokio::test]
async fn python_sdk_over_legacy_sse() {
    let peer = py_server();
    let client = Client::builder()
        .elicitation(mcpkey::AcceptDefaults)
        .server("py", ServerConfig::sse(peer.url("/sse")))
        .build();
    let s = client.session("py").await.unwrap();
    assert_eq!(s.details().transport, TransportKind::Sse);
    assert_eq!(s.list_resources().await.unwrap().len(), 7);
    let r = s.call_tool("ask_name", None).await.unwrap();
    assert_eq!(text_of(&r), "Hello, Ada!");
    client.close().await;
}

#[tokio::test]
async fn cross_origin_endpoint_is_refused_and_gets_nothing() {
    let other = free_port();
    let peer = fault_server(&["--cross-origin", &other.to_string()]);
    let client = Client::builder()
        .server("x", ServerConfig::sse(peer.url("/sse")))
        .build();
    let err = client.session("x").await.unwrap_err();
    match err.kind() {
        ErrorKind::Transport(mcpkey::transport::TransportError::EndpointCrossOrigin {
            endpoint_origin,
            ..
        }) => {
            assert_eq!(endpoint_origin, &format!("http://127.0.0.1:{other}"));
        }
        other => panic!("unexpected: {other:?}"),
    }
    let reqs = peer.requests();
    assert!(reqs.iter().any(|r| r["method"] == "GET"));
    assert!(
        reqs.iter().all(|r| r["origin"] != "other"),
        "the other origin received: {reqs:?}"
    );
}
