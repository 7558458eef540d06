//! Legacy HTTP+SSE: the floor and mcpkey.

use mcpkey::{Client, ServerConfig};
use mcpkey_bench::drive::{Worker, drive};
use mcpkey_bench::raw::{RawSse, SsePoster};
use mcpkey_bench::stats::Stats;

struct SseWorker {
    poster: SsePoster,
    next_id: i64,
}

impl Worker for SseWorker {
    async fn call(&mut self) {
        self.next_id += 1;
        self.poster.call(self.next_id).await;
    }
}

/// One stream, one POST connection per call in flight; ids disjoint per worker.
pub async fn floor(port: u16, calls: usize, conc: usize) -> Stats {
    let sse = RawSse::connect(port).await;
    let mut workers = Vec::with_capacity(conc);
    for i in 0..conc {
        let mut poster = sse.poster().await;
        let base = (i as i64 + 1) * 1_000_000_000;
        if i == 0 {
            poster.setup(base).await;
        }
        workers.push(SseWorker {
            poster,
            next_id: base,
        });
    }
    drive(workers, 50, calls / conc).await
}

pub fn client(port: u16) -> Client {
    Client::builder()
        .server(
            "fast",
            ServerConfig::sse(format!("http://127.0.0.1:{port}{}", mcpkey_bench::SSE_PATH)),
        )
        .build()
}
