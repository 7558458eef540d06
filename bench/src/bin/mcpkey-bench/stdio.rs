//! stdio: round trips to a child process, and connecting many servers at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use mcpkey::{Client, ServerConfig};
use mcpkey_bench::drive::{McpkeyWorker, Worker, drive};
use mcpkey_bench::raw::RawStdio;
use mcpkey_bench::stats::Stats;

struct StdioWorker {
    conn: Arc<RawStdio>,
    ids: Arc<AtomicI64>,
}

impl Worker for StdioWorker {
    async fn call(&mut self) {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        self.conn.call(id).await;
    }
}

pub async fn floor(server: &str, calls: usize, conc: usize) -> Stats {
    let conn = Arc::new(RawStdio::spawn(server, &["--stdio"]).await);
    let ids = Arc::new(AtomicI64::new(1));
    let workers = (0..conc)
        .map(|_| StdioWorker {
            conn: Arc::clone(&conn),
            ids: Arc::clone(&ids),
        })
        .collect();
    let s = drive(workers, 50, calls / conc).await;
    if let Ok(c) = Arc::try_unwrap(conn) {
        c.close().await;
    }
    s
}

fn config(server: &str) -> ServerConfig {
    ServerConfig::stdio(server).arg("--stdio")
}

/// `fast-server --stdio` arguments; a startup delay simulates a server
/// that loads something (I/O, not CPU) before it answers.
fn server_args(startup_ms: u64) -> Vec<String> {
    let mut a = vec!["--stdio".to_owned()];
    if startup_ms > 0 {
        a.extend(["--startup-ms".to_owned(), startup_ms.to_string()]);
    }
    a
}

pub async fn mcpkey(server: &str, calls: usize, conc: usize) -> Stats {
    let client = Client::builder().server("fast", config(server)).build();
    let s = client.session("fast").await.expect("mcpkey stdio connect");
    let workers = (0..conc).map(|_| McpkeyWorker::new(&s)).collect();
    let stats = drive(workers, 50, calls / conc).await;
    drop(s);
    client.close().await;
    stats
}

/// Time for mcpkey to connect `n` stdio servers at once (spawn + handshake,
/// every one ready), then closes them.
pub async fn mcpkey_connect(server: &str, n: usize, startup_ms: u64) -> Duration {
    let mut b = Client::builder();
    for i in 0..n {
        b = b.server(
            format!("s{i}"),
            ServerConfig::stdio(server).args(server_args(startup_ms)),
        );
    }
    let client = b.build();
    let t = Instant::now();
    let report = client.connect_all().await;
    let took = t.elapsed();
    assert!(
        report.failed.is_empty(),
        "stdio connects failed: {:?}",
        report.failed
    );
    client.close().await;
    took
}

/// The same with the floor client (spawn + initialize, all concurrently).
pub async fn floor_connect(server: &str, n: usize, startup_ms: u64) -> Duration {
    let args = server_args(startup_ms);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let t = Instant::now();
    let conns =
        futures_util::future::join_all((0..n).map(|_| RawStdio::spawn(server, &args))).await;
    let took = t.elapsed();
    futures_util::future::join_all(conns.into_iter().map(RawStdio::close)).await;
    took
}
