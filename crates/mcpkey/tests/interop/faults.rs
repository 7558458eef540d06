//! Fault injection: response streams cut mid-response (resumed with
//! `Last-Event-ID`, nothing lost or duplicated), slow-loris servers (the
//! request timeout fires, memory and descriptors stay flat), and processes
//! killed with SIGKILL while writing tokens (the store is never corrupt).

#![allow(deprecated)] // logging notifications are deprecated in 2026-07-28 but served.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpkey::auth::ExposeSecret;
use mcpkey::auth::oauth::{FileStore, TokenRecord, TokenSet, TokenStore};
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
        // Should the request timeout not fire, fail here rather than hang.
        let call = s.call_tool("echo", args(json!({"message": "hello?"})));
        let err = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .unwrap_or_else(|_| panic!("{mode}: request_timeout did not fire"))
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

// ------------------------------------------------------------ SIGKILL during token writes

const WRITER_ENV: &str = "MCPKEY_TOKEN_WRITER_DIR";
const RESOURCE: &str = "http://127.0.0.1:1/mcp";

/// Token record number `n`: every part of it names `n`, and it is large
/// enough (about 40 KB) that writing it takes a moment.
fn record(n: u64) -> TokenRecord {
    let mut t = TokenSet::bearer(format!("at-{n}").into());
    t.refresh_token = Some(format!("rt-{n}").into());
    t.scope = Some(format!("n{n} ").repeat(40_000 / (n.to_string().len() + 2)));
    TokenRecord::new("http://127.0.0.1:1", "client", t)
}

/// The number of a stored record, after checking all of it names the same.
fn number_of(r: &TokenRecord) -> u64 {
    let at = r.tokens.access_token.expose_secret();
    let n: u64 = at.strip_prefix("at-").unwrap().parse().unwrap();
    let rt = r.tokens.refresh_token.as_ref().unwrap();
    assert_eq!(rt.expose_secret(), format!("rt-{n}"));
    let scope = r.tokens.scope.as_deref().unwrap();
    assert!(
        scope.split_whitespace().all(|w| w == format!("n{n}")),
        "torn record"
    );
    assert_eq!(scope, record(n).tokens.scope.unwrap());
    n
}

/// In the child: store records n+1, n+2, ... forever, printing each number
/// once its write returned.
async fn write_tokens_forever(dir: &str) -> ! {
    let store = FileStore::new(dir);
    let mut n = store
        .tokens(RESOURCE)
        .await
        .unwrap()
        .first()
        .map_or(0, number_of);
    loop {
        n += 1;
        store.put_tokens(RESOURCE, record(n)).await.unwrap();
        println!("wrote {n}");
    }
}

fn temp_files(tokens_dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(tokens_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[tokio::test]
async fn sigkill_during_token_writes_never_corrupts_the_store() {
    if let Ok(dir) = std::env::var(WRITER_ENV) {
        write_tokens_forever(&dir).await;
    }
    let dir = tempdir::Dir::new();
    let tokens_dir = dir.path().join("tokens");
    // Deterministic "random" kill moments, 0 to 20 ms after the first write.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut acked = 0u64;
    let mut mid_write = 0;
    for round in 0..50 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "faults::sigkill_during_token_writes_never_corrupts_the_store",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let last = Arc::new(AtomicU64::new(acked));
        let (first_tx, first_rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let last2 = Arc::clone(&last);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("wrote ") {
                    last2.store(n.parse().unwrap(), Ordering::SeqCst);
                    let _ = first_tx.send(());
                }
            }
        });
        first_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the writer wrote nothing");
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 20_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let confirmed = last.load(Ordering::SeqCst);

        let temps = temp_files(&tokens_dir);
        assert!(
            temps.len() <= 1,
            "round {round}: temporary files pile up: {temps:?}"
        );
        mid_write += temps.len();
        let records = FileStore::new(dir.path())
            .tokens(RESOURCE)
            .await
            .unwrap_or_else(|e| panic!("round {round}: the store cannot be read: {e}"));
        assert_eq!(records.len(), 1, "round {round}");
        let n = number_of(&records[0]);
        assert!(
            n == confirmed || n == confirmed + 1,
            "round {round}: the store holds record {n}, but the last confirmed write was {confirmed}"
        );
        {
            use std::os::unix::fs::PermissionsExt;
            for entry in std::fs::read_dir(&tokens_dir).unwrap().flatten() {
                let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "round {round}: {:?}", entry.file_name());
            }
        }
        acked = n;
    }
    println!("{mid_write} of 50 kills left a write unfinished");
    // The next write clears what killed writers left.
    let store = FileStore::new(dir.path());
    store.put_tokens(RESOURCE, record(acked + 1)).await.unwrap();
    assert_eq!(temp_files(&tokens_dir), Vec::<String>::new());
    assert_eq!(
        number_of(&store.tokens(RESOURCE).await.unwrap()[0]),
        acked + 1
    );
}

// ------------------------------------------------ sessions a server forgets

/// A server that forgets every session, even the one it just created: the
/// 404 is answered by one re-initialize and one retry, then the caller is
/// told (and nothing loops).
#[tokio::test]
async fn a_session_lost_again_after_reinitializing_is_reported_once() {
    let peer = fault_server(&["--forget-sessions"]);
    let cfg = ServerConfig::http(peer.url("/mcp"))
        .no_auth()
        .protocol(mcpkey::ProtocolPin::Legacy(None));
    let client = Client::builder().server("f", cfg).build();
    let s = client.session("f").await.unwrap();
    let err = s
        .call_tool("echo", args(json!({"message": "x"})))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("404"), "{msg}");
    let reqs = peer.requests();
    let count = |m: &str| {
        reqs.iter()
            .filter(|r| r["method"] == "POST")
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(r["body"].as_str()?).ok())
            .filter(|b| b["method"] == m)
            .count()
    };
    assert_eq!(count("initialize"), 2, "{reqs:?}");
    assert_eq!(count("tools/call"), 2, "{reqs:?}");
    client.close().await;
}

// ------------------------------------------------ stdio faults next to healthy servers

/// One stdio server hangs in a call, another crashes in one: each caller
/// gets a clear error within its timeout, and the healthy server next to
/// them keeps answering.
#[tokio::test]
async fn hanging_and_crashing_stdio_servers_leave_the_others_alone() {
    let dir = tempdir::Dir::new();
    let log = dir.path().join("record.log");
    let client = Client::builder()
        .server(
            "hangs",
            stdio_fault("record").env("FAULT_LOG", log.to_string_lossy()),
        )
        .server("crashes", stdio_fault("crash"))
        .server("healthy", py_stdio())
        .build();
    let report = client.connect_all().await;
    assert_eq!(report.connected.len(), 3, "{:?}", report.failed);
    let hangs = client.session("hangs").await.unwrap();
    let crashes = client.session("crashes").await.unwrap();
    let healthy = client.session("healthy").await.unwrap();

    let t = Instant::now();
    let opts = mcpkey::CallOptions::default().timeout(Duration::from_millis(400));
    let (hung, crashed, fine) = tokio::join!(
        hangs.call_tool_with("wait", None, opts),
        crashes.call_tool("echo", None),
        healthy.call_tool("echo", args(json!({"message": "still here"}))),
    );
    let hung = hung.unwrap_err();
    assert!(
        matches!(hung.kind(), mcpkey::ErrorKind::Timeout(_)),
        "{hung}"
    );
    assert!(t.elapsed() < Duration::from_secs(3));
    let crashed = crashed.unwrap_err().to_string();
    assert!(crashed.contains("exit code 70"), "{crashed}");
    assert_eq!(text_of(&fine.unwrap()), "still here");

    // The hung server is still usable for other calls; the healthy one too.
    let r = hangs
        .call_tool("echo", args(json!({"message": "after"})))
        .await
        .unwrap();
    assert!(text_of(&r).contains("after"), "{}", text_of(&r));
    let r = healthy
        .call_tool("echo", args(json!({"message": "again"})))
        .await
        .unwrap();
    assert_eq!(text_of(&r), "again");
    client.close().await;
}
