//! Fault injection: response streams cut mid-response (resumed with
//! `Last-Event-ID`, nothing lost or duplicated).

#![allow(deprecated)] // logging notifications are deprecated in 2026-07-28 but served.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpkey::{Client, Notification, ServerConfig};
use serde_json::json;

use crate::support::*;

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
