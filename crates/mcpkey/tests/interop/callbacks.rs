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

#[tokio::test]
async fn a_timed_out_stdio_call_is_cancelled_on_the_server() {
    let dir = tempdir::Dir::new();
    let log = dir.path().join("received.jsonl");
    let cfg = stdio_fault("record").env("FAULT_LOG", log.to_string_lossy());
    let client = Client::builder().server("rec", cfg).build();
    let s = client.session("rec").await.unwrap();
    let opts = CallOptions::default().timeout(std::time::Duration::from_millis(200));
    let err = s.call_tool_with("wait", None, opts).await.unwrap_err();
    assert!(matches!(err.kind(), mcpkey::ErrorKind::Timeout(_)), "{err}");
    let received = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let cancelled = eventually_async(std::time::Duration::from_secs(3), || {
        received()
            .iter()
            .any(|m| m["method"] == "notifications/cancelled")
    })
    .await;
    assert!(cancelled, "{:?}", received());
    let msgs = received();
    let call_id = msgs.iter().find(|m| m["method"] == "tools/call").unwrap()["id"].clone();
    let cancel = msgs
        .iter()
        .find(|m| m["method"] == "notifications/cancelled")
        .unwrap();
    assert_eq!(cancel["params"]["requestId"], call_id);
    // The session still works after the cancelled call.
    s.call_tool("echo", None).await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn list_cache_honours_ttl_and_change_notifications_on_modern() {
    let peer = py_server();
    let changes = Arc::new(AtomicUsize::new(0));
    let changes2 = Arc::clone(&changes);
    let client = Client::builder()
        .on_notification(move |_: &str, n: &Notification| {
            if matches!(n, Notification::ToolsListChanged) {
                changes2.fetch_add(1, Ordering::SeqCst);
            }
        })
        .server("py", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("py").await.unwrap();
    let seen = |s: mcpkey::Session| async move {
        let r = s
            .call_tool("seen", args(json!({"method": "tools/list"})))
            .await
            .unwrap();
        text_of(&r).parse::<u32>().unwrap()
    };
    s.list_tools().await.unwrap();
    s.list_tools().await.unwrap();
    assert_eq!(
        seen(s.clone()).await,
        1,
        "the second list came from the cache (ttlMs 60000)"
    );

    let sub = s.subscribe(mcpkey::Subscribe::all_lists()).await.unwrap();
    assert!(
        sub.acknowledged().tools_list_changed,
        "{:?}",
        sub.acknowledged()
    );
    s.call_tool("change_tools", None).await.unwrap();
    assert!(
        eventually_async(std::time::Duration::from_secs(3), || changes
            .load(Ordering::SeqCst)
            > 0)
        .await,
        "no tools/list_changed on the listen stream"
    );
    s.list_tools().await.unwrap();
    assert_eq!(
        seen(s.clone()).await,
        2,
        "the notification invalidated the cache"
    );
    drop(sub);
    client.close().await;
}

type Recorded = Arc<Mutex<Vec<String>>>;

fn updates_recorder() -> (
    Recorded,
    impl Fn(&str, &Notification) + Send + Sync + 'static,
) {
    let updated: Arc<Mutex<Vec<String>>> = Arc::default();
    let updated2 = Arc::clone(&updated);
    (updated, move |_: &str, n: &Notification| {
        if let Notification::ResourceUpdated(p) = n {
            updated2.lock().unwrap().push(p.uri.clone());
        }
    })
}

#[tokio::test]
async fn resource_updates_on_a_modern_listen_stream() {
    let peer = py_server();
    let (updated, handler) = updates_recorder();
    let client = Client::builder()
        .on_notification(handler)
        .server("py", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("py").await.unwrap();
    let sub = s
        .subscribe(mcpkey::Subscribe::default().resource("test://item/1"))
        .await
        .unwrap();
    assert_eq!(sub.acknowledged().resource_subscriptions, ["test://item/1"]);
    s.call_tool("touch", args(json!({"uri": "test://item/1"})))
        .await
        .unwrap();
    assert!(
        eventually_async(std::time::Duration::from_secs(3), || updated
            .lock()
            .unwrap()
            .iter()
            .any(|u| u == "test://item/1"))
        .await,
        "no resources/updated"
    );
    client.close().await;
}

#[tokio::test]
async fn resource_updates_after_legacy_resources_subscribe() {
    let peer = everything("streamableHttp");
    let (updated, handler) = updates_recorder();
    let client = Client::builder()
        .on_notification(handler)
        .server("ev", ServerConfig::http(peer.url("/mcp")))
        .build();
    let s = client.session("ev").await.unwrap();
    let uri = "demo://resource/static/document/architecture.md";
    let _sub = s
        .subscribe(mcpkey::Subscribe::default().resource(uri))
        .await
        .unwrap();
    // The everything server then sends updates for subscribed resources.
    s.call_tool("toggle-subscriber-updates", None)
        .await
        .unwrap();
    assert!(
        eventually_async(std::time::Duration::from_secs(15), || !updated
            .lock()
            .unwrap()
            .is_empty())
        .await,
        "no resources/updated from server-everything"
    );
    client.close().await;
}

#[tokio::test]
async fn legacy_server_without_subscriptions_says_so() {
    let peer = py_server();
    let cfg = ServerConfig::http(peer.url("/mcp")).protocol(mcpkey::ProtocolPin::Legacy(None));
    let client = Client::builder().server("py", cfg).build();
    let s = client.session("py").await.unwrap();
    let err = s
        .subscribe(mcpkey::Subscribe::default().resource("test://item/1"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not offer resource subscriptions"),
        "{err}"
    );
    client.close().await;
}
