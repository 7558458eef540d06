#![allow(deprecated)] // sampling and logging are deprecated in 2026-07-28 but served.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use mcpkey::model::{CreateMessageRequestParams, CreateMessageResult, Role, SamplingMessage};
use mcpkey::{CallOptions, Client, Notification, SamplingHandler, ServerConfig};
use serde_json::json;

use crate::support::*;

struct FakeLlm;

#[async_trait]
impl SamplingHandler for FakeLlm {
    async fn create_message(
        &self,
        _server: &str,
        _p: CreateMessageRequestParams,
    ) -> Result<CreateMessageResult, String> {
        Ok(CreateMessageResult::new(
            SamplingMessage::new(
                Role::Assistant,
                mcpkey::model::SamplingMessageContentBlock::text("forty-two"),
            ),
            "fake-model".into(),
        ))
    }
}

#[tokio::test]
async fn sampling_roots_and_elicitation_on_modern_and_legacy_python() {
    let peer = py_server();
    for pin in [mcpkey::ProtocolPin::Auto, mcpkey::ProtocolPin::Legacy(None)] {
        let cfg = ServerConfig::http(peer.url("/mcp")).protocol(pin.clone());
        let client = Client::builder()
            .sampling(FakeLlm)
            .roots(vec![mcpkey::model::Root::new("file:///work/project")])
            .server("py", cfg)
            .build();
        let s = client.session("py").await.unwrap();
        let r = s
            .call_tool("ask_llm", args(json!({"question": "meaning?"})))
            .await
            .unwrap();
        assert_eq!(text_of(&r), "LLM says: forty-two", "{pin:?}");
        let r = s.call_tool("count_roots", None).await.unwrap();
        assert_eq!(text_of(&r), "1 roots: file:///work/project", "{pin:?}");
        client.close().await;
    }
}

#[tokio::test]
async fn sampling_request_from_everything_over_http() {
    let peer = everything("streamableHttp");
    let client = Client::builder()
        .sampling(FakeLlm)
        .server("ev", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("ev").await.unwrap();
    let r = s
        .call_tool(
            "trigger-sampling-request",
            args(json!({"prompt": "hi", "maxTokens": 5})),
        )
        .await
        .unwrap();
    assert!(text_of(&r).contains("forty-two"), "{r:?}");
    client.close().await;
}

#[tokio::test]
async fn progress_notifications_reach_the_call() {
    for (name, cfg, tool, a) in [
        (
            "ev-stdio",
            everything_stdio(),
            "trigger-long-running-operation",
            json!({"duration": 1, "steps": 3}),
        ),
        ("py-stdio", py_stdio(), "slow", json!({"steps": 3})),
    ] {
        let client = Client::builder().server(name, cfg).build();
        let s = client.session(name).await.unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let seen2 = Arc::clone(&seen);
        let opts = CallOptions::default().on_progress(move |_| {
            seen2.fetch_add(1, Ordering::SeqCst);
        });
        s.call_tool_with(tool, args(a), opts).await.unwrap();
        assert!(
            seen.load(Ordering::SeqCst) >= 2,
            "{name}: {} progress notifications",
            seen.load(Ordering::SeqCst)
        );
        client.close().await;
    }
}

#[tokio::test]
async fn log_notifications_reach_the_handler_in_both_eras() {
    let peer = py_server();
    for pin in [mcpkey::ProtocolPin::Auto, mcpkey::ProtocolPin::Legacy(None)] {
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let logs2 = Arc::clone(&logs);
        let client = Client::builder()
            .log_level("info")
            .on_notification(move |_server: &str, n: &Notification| {
                if let Notification::Log(l) = n {
                    logs2.lock().unwrap().push(l.data.to_string());
                }
            })
            .server(
                "py",
                ServerConfig::http(peer.url("/mcp")).protocol(pin.clone()),
            )
            .build();
        let s = client.session("py").await.unwrap();
        s.call_tool("log_message", args(json!({"message": "hello log"})))
            .await
            .unwrap();
        assert!(
            eventually_async(std::time::Duration::from_secs(3), || logs
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("hello log")))
            .await,
            "{pin:?}: {:?}",
            logs.lock().unwrap()
        );
        client.close().await;
    }
}
