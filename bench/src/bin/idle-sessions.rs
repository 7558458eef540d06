//! Memory of idle sessions: connects one session, notes the RSS, connects
//! n − 1 more (each its own server entry, so its own session and
//! connection), notes the RSS again; prints `{"rss_1_kb","rss_n_kb","n"}`.
//!
//!     idle-sessions http-modern|http-legacy|sse URL N
//!     idle-sessions stdio FAST_SERVER_PATH N

use std::time::Duration;

use mcpkey::{Client, ProtocolPin, ServerConfig};

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn config(kind: &str, target: &str) -> ServerConfig {
    match kind {
        "http-modern" => ServerConfig::http(target).protocol(ProtocolPin::Modern(None)),
        "http-legacy" => ServerConfig::http(target).protocol(ProtocolPin::Legacy(None)),
        "sse" => ServerConfig::sse(target),
        "stdio" => ServerConfig::stdio(target).arg("--stdio"),
        _ => panic!("unknown kind {kind}"),
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (kind, target, n) = (&a[1], &a[2], a[3].parse::<usize>().expect("N"));
    assert!(n >= 2);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut b = Client::builder();
        for i in 0..n {
            b = b.server(format!("s{i}"), config(kind, target));
        }
        let client = b.build();
        let first = client.session("s0").await.expect("connect s0");
        first.list_tools().await.expect("tools/list");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss_1 = rss_kb();
        let mut sessions = vec![first];
        for i in 1..n {
            let s = client.session(&format!("s{i}")).await.expect("connect");
            s.list_tools().await.expect("tools/list");
            sessions.push(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss_n = rss_kb();
        println!(
            "{}",
            serde_json::json!({"rss_1_kb": rss_1, "rss_n_kb": rss_n, "n": n})
        );
        drop(sessions);
        client.close().await;
    });
}
