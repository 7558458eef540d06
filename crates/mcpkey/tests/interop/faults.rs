//! Fault injection: response streams cut mid-response (resumed with
//! `Last-Event-ID`, nothing lost or duplicated) and slow-loris servers (the
//! request timeout fires, memory and descriptors stay flat).

#![allow(deprecated)] // logging notifications are deprecated in 2026-07-28 but served.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpkey::{Client, Notification, ServerConfig};
use serde_json::json;

use crate::support::*;

/// Runs the calling test again alone, in a fresh process of this test
/// binary, so that what it measures about its process (memory, open
/// descriptors) is not disturbed by the tests running beside it. Returns
/// `true` in that process (run the test there), `false` in the caller
/// (which then has nothing more to do: the child's result was asserted).
fn isolated(test: &str) -> bool {
    const ENV: &str = "MCPKEY_ISOLATED_TEST";
    if std::env::var(ENV).as_deref() == Ok(test) {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ENV, test)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "isolated run of {test} failed:\n{text}"
    );
    assert!(text.contains("1 passed"), "{test} did not run:\n{text}");
    false
}

// ------------------------------------------------------------ dropped streams

/// Log notifications the client delivered, by their text.
type Notes = Arc<Mutex<Vec<String>>>;

fn noting_client(url: &str) -> (Client, Notes) {
    let notes: Notes = Arc::default();
    let n2 = Arc::clone(&notes);
    let client = Client::builder()
        .on_notification(move |_: &str, n: &Notification| {
            if let Notification::Log(l) = n {
                n2.lock().unwrap().push(l.data.to_string());
            }
        })
        .server("drop", ServerConfig::http(url))
        .build();
    (client, notes)
}

/// The `Last-Event-ID` of every resuming GET the server saw, and how many
/// `tools/call` POSTs.
fn resumes_and_calls(peer: &Peer) -> (Vec<String>, usize) {
    let reqs = peer.requests();
    let resumes = reqs
        .iter()
        .filter(|r| r["method"] == "GET")
        .filter_map(|r| r["headers"]["last-event-id"].as_str().map(str::to_owned))
        .collect();
    let calls = reqs
        .iter()
        .filter(|r| {
            r["method"] == "POST" && r["body"].as_str().unwrap_or("").contains("tools/call")
        })
        .count();
    (resumes, calls)
}

/// Waits until `want` notifications arrived, then a little longer so that
/// a duplicate would arrive too (they are queued before the call returns).
async fn settled(notes: &Notes, want: usize) -> Vec<String> {
    eventually_async(Duration::from_secs(3), || {
        notes.lock().unwrap().len() >= want
    })
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    notes.lock().unwrap().clone()
}

#[tokio::test]
async fn a_stream_cut_after_priming_and_again_after_a_notification_is_resumed() {
    let peer = fault_server(&["--drop-stream", "resume"]);
    let (client, notes) = noting_client(&peer.url("/mcp"));
    let s = client.session("drop").await.unwrap();
    assert_eq!(s.details().era, mcpkey::Era::Legacy);
    for (call, msg) in [(1, "first"), (2, "second")] {
        let r = s
            .call_tool("echo", args(json!({"message": msg})))
            .await
            .unwrap();
        assert_eq!(text_of(&r), msg);
        let seen = settled(&notes, call).await;
        assert_eq!(seen.len(), call, "one notification per call: {seen:?}");
        assert!(
            seen[call - 1].contains(&format!("note {call}-1")),
            "{seen:?}"
        );
    }
    let (resumes, calls) = resumes_and_calls(&peer);
    // Each call: resumed after the priming event, then after the notification.
    assert_eq!(resumes, ["1-0", "1-1", "2-0", "2-1"]);
    assert_eq!(calls, 2, "resumed, never re-sent");
    client.close().await;
}

#[tokio::test]
async fn events_a_server_replays_on_resume_are_not_delivered_twice() {
    let peer = fault_server(&["--drop-stream", "replay"]);
    let (client, notes) = noting_client(&peer.url("/mcp"));
    let s = client.session("drop").await.unwrap();
    let r = s
        .call_tool("echo", args(json!({"message": "once"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "once");
    let seen = settled(&notes, 1).await;
    assert_eq!(
        seen.len(),
        1,
        "the replayed notification was delivered again: {seen:?}"
    );
    // The session goes on normally after the duplicated response.
    let r = s
        .call_tool("echo", args(json!({"message": "twice"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "twice");
    let seen = settled(&notes, 2).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    let (resumes, calls) = resumes_and_calls(&peer);
    assert_eq!(resumes, ["1-1", "2-1"]);
    assert_eq!(calls, 2);
    client.close().await;
}

// ------------------------------------------------------------ slow loris

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// 22 calls to a slow-loris server (two to warm up, 20 measured): each
/// fails with a timeout within the configured 200 ms (from the config
/// file's `request_timeout`), and neither memory nor open descriptors grow.
async fn slow_loris(mode: &str) {
    let peer = fault_server(&["--slow-loris", mode]);
    let text = json!({"mcpServers": {"slow": {
        "url": peer.url("/mcp"), "request_timeout": 0.2, "timeout": 5
    }}})
    .to_string();
    let config = mcpkey::Config::parse(&text, "faults.json").unwrap();
    let client = Client::builder().config(config).build();
    let s = client.session("slow").await.unwrap();
    let limit = Duration::from_millis(200);
    let mut before = (0, 0);
    for i in 0..22 {
        let started = Instant::now();
        let err = s
            .call_tool("echo", args(json!({"message": "hello?"})))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err.kind(), mcpkey::ErrorKind::Timeout(_)),
            "{mode}: {err}"
        );
        assert!(err.to_string().contains("200ms"), "{mode}: {err}");
        assert!(err.hint().unwrap().contains("request_timeout"), "{err}");
        assert!(
            took >= limit && took < limit + Duration::from_millis(800),
            "{mode}: the call took {took:?}"
        );
        if i == 1 {
            before = (status_kb("VmRSS:"), open_fds());
        }
    }
    // Every abandoned connection is closed: the server notices each.
    let closed = || {
        peer.requests()
            .iter()
            .filter(|r| r["event"] == "slow_closed")
            .count()
    };
    assert!(
        eventually_async(Duration::from_secs(3), || closed() == 22).await,
        "{mode}: the server saw {} of 22 connections closed",
        closed()
    );
    let after = (status_kb("VmRSS:"), open_fds());
    println!(
        "{mode}: RSS {} -> {} kB, fds {} -> {}",
        before.0, after.0, before.1, after.1
    );
    assert!(
        after.0 <= before.0 + 4096,
        "{mode}: RSS grew from {} kB to {} kB over 20 timed-out calls",
        before.0,
        after.0
    );
    assert!(
        after.1 <= before.1 + 1,
        "{mode}: open descriptors grew from {} to {}",
        before.1,
        after.1
    );
    client.close().await;
}

#[tokio::test]
async fn slow_loris_headers_time_out_with_flat_memory() {
    if isolated("faults::slow_loris_headers_time_out_with_flat_memory") {
        slow_loris("headers").await;
    }
}

#[tokio::test]
async fn slow_loris_body_times_out_with_flat_memory() {
    if isolated("faults::slow_loris_body_times_out_with_flat_memory") {
        slow_loris("body").await;
    }
}

#[tokio::test]
async fn an_event_stream_of_keep_alives_only_times_out_with_flat_memory() {
    if isolated("faults::an_event_stream_of_keep_alives_only_times_out_with_flat_memory") {
        slow_loris("sse").await;
    }
}
