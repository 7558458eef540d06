use std::time::{Duration, Instant};

use mcpkey::{AcceptDefaults, Client, Era, TransportKind};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn everything_over_stdio_is_legacy_and_fully_usable() {
    let client = Client::builder().server("ev", everything_stdio()).build();
    let s = client.session("ev").await.unwrap();
    assert_eq!(s.details().era, Era::Legacy);
    assert_eq!(s.details().transport, TransportKind::Stdio);
    assert_eq!(s.details().protocol_version, "2025-11-25");

    let tools = s.list_tools().await.unwrap();
    assert!(tools.iter().any(|t| t.name == "echo"), "{tools:?}");
    let r = s
        .call_tool("echo", args(json!({"message": "hi"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "Echo: hi");
    let r = s
        .call_tool("get-sum", args(json!({"a": 2, "b": 40})))
        .await
        .unwrap();
    assert!(text_of(&r).contains("42"), "{r:?}");

    let resources = s.list_resources().await.unwrap();
    assert!(!resources.is_empty());
    let read = s.read_resource(&resources[0].uri).await.unwrap();
    assert!(!read.contents.is_empty());
    assert!(!s.list_resource_templates().await.unwrap().is_empty());
    let prompts = s.list_prompts().await.unwrap();
    assert!(prompts.iter().any(|p| p.name == "simple-prompt"));
    let p = s.get_prompt("simple-prompt", None).await.unwrap();
    assert!(!p.messages.is_empty());
    s.ping().await.unwrap();
    client.close().await;
}

#[tokio::test]
async fn python_sdk_over_stdio_is_modern() {
    let client = Client::builder()
        .elicitation(AcceptDefaults)
        .server("py", py_stdio())
        .build();
    let s = client.session("py").await.unwrap();
    assert_eq!(s.details().era, Era::Modern);
    assert_eq!(s.details().protocol_version, "2026-07-28");
    // Multi round-trip request answered by the elicitation callback.
    let r = s.call_tool("ask_name", None).await.unwrap();
    assert_eq!(text_of(&r), "Hello, Ada!");
    // Seven resources served three per page.
    assert_eq!(s.list_resources().await.unwrap().len(), 7);
    let r = s
        .call_tool("add", args(json!({"a": 1, "b": 2})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "3");
    client.close().await;
}

#[tokio::test]
async fn stdio_env_is_merged_over_the_parent_environment() {
    let cfg = everything_stdio().env("MCPKEY_TEST_MARKER", "marker-value");
    let client = Client::builder().server("ev", cfg).build();
    let s = client.session("ev").await.unwrap();
    let r = s.call_tool("get-env", None).await.unwrap();
    let text = text_of(&r);
    assert!(text.contains("marker-value"), "configured variable missing");
    assert!(text.contains("\"PATH\""), "inherited PATH missing");
    client.close().await;
}

#[tokio::test]
async fn stdio_cwd_is_honoured() {
    let dir = repo_root().join("tests/peers");
    let cfg = mcpkey::ServerConfig::stdio(python().to_string_lossy())
        .args(["stdio_faults.py", "garbage"])
        .cwd(&dir);
    let client = Client::builder().server("f", cfg).build();
    let s = client.session("f").await.unwrap();
    let r = s.call_tool("echo", args(json!({"x": 1}))).await.unwrap();
    assert_eq!(text_of(&r), r#"{"x": 1}"#);
    client.close().await;
}

#[tokio::test]
async fn exiting_server_error_carries_status_and_stderr() {
    let client = Client::builder()
        .server("dead", stdio_fault("exit"))
        .build();
    let started = Instant::now();
    let err = client.session("dead").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let msg = err.to_string();
    assert!(msg.contains("exit code 3"), "{msg}");
    assert!(msg.contains("fatal: missing API_KEY"), "{msg}");
    assert!(msg.contains("'dead'"), "{msg}");
    assert_eq!(err.exit_code(), 4);
}

#[tokio::test]
async fn hanging_server_times_out_and_leaves_no_process() {
    let dir = tempdir::Dir::new();
    let pidfile = dir.path().join("child.pid");
    let cfg = stdio_fault("hang")
        .env("FAULT_CHILD_PIDFILE", pidfile.to_string_lossy())
        .connect_timeout(Duration::from_secs(2));
    let client = Client::builder()
        .probe_timeout(Duration::from_millis(300))
        .server("hang", cfg)
        .build();
    let started = Instant::now();
    let err = client.session("hang").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(err.to_string().contains("no answer within 2s"), "{err}");
    assert_eq!(err.exit_code(), 4);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually_async(Duration::from_secs(3), || !alive(pid)).await,
        "grandchild {pid} survived"
    );
}

#[tokio::test]
async fn stderr_flood_does_not_block_and_close_cleans_up() {
    let dir = tempdir::Dir::new();
    let pidfile = dir.path().join("child.pid");
    let cfg = stdio_fault("flood").env("FAULT_CHILD_PIDFILE", pidfile.to_string_lossy());
    let client = Client::builder()
        .probe_timeout(Duration::from_secs(2))
        .server("flood", cfg)
        .build();
    let s = client.session("flood").await.unwrap();
    let r = s
        .call_tool("echo", args(json!({"ok": true})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), r#"{"ok": true}"#);
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    s.close().await;
    s.close().await; // idempotent
    assert!(
        eventually_async(Duration::from_secs(2), || !alive(pid)).await,
        "grandchild {pid} survived close"
    );
    assert!(
        s.call_tool("echo", None).await.is_err(),
        "closed session refuses calls"
    );
}

#[tokio::test]
async fn dropping_the_client_stops_the_server() {
    let dir = tempdir::Dir::new();
    let pidfile = dir.path().join("child.pid");
    let cfg = stdio_fault("flood").env("FAULT_CHILD_PIDFILE", pidfile.to_string_lossy());
    {
        let client = Client::builder().server("flood", cfg).build();
        client.session("flood").await.unwrap();
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually_async(Duration::from_secs(5), || !alive(pid)).await,
        "grandchild {pid} survived drop"
    );
}

#[tokio::test]
async fn garbage_on_stdout_is_skipped() {
    let client = Client::builder()
        .server("g", stdio_fault("garbage"))
        .build();
    let s = client.session("g").await.unwrap();
    assert_eq!(s.list_tools().await.unwrap().len(), 1);
    client.close().await;
}

#[tokio::test]
async fn crash_during_a_call_is_reported_with_stderr() {
    let client = Client::builder().server("c", stdio_fault("crash")).build();
    let s = client.session("c").await.unwrap();
    let err = s.call_tool("echo", None).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("exit code 70"), "{msg}");
    assert!(msg.contains("panic: something broke"), "{msg}");
    assert!(msg.contains("tools/call 'echo'"), "{msg}");
}
