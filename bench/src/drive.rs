//! Runs workers (one per call in flight) and collects latencies.

use std::future::Future;
use std::time::Instant;

use crate::stats::Stats;

/// One in-flight lane: makes one call at a time.
pub trait Worker: Send + 'static {
    fn call(&mut self) -> impl Future<Output = ()> + Send;
}

/// Warms each worker up with `warmup` calls, then has each make `per`
/// calls concurrently; the wall time covers the measured calls only.
pub async fn drive<W: Worker>(mut workers: Vec<W>, warmup: usize, per: usize) -> Stats {
    for w in &mut workers {
        for _ in 0..warmup {
            w.call().await;
        }
    }
    let start = Instant::now();
    let cpu = crate::stats::process_cpu();
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    w.call().await;
                    lat.push(t.elapsed());
                }
                (lat, w)
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(per * tasks.len());
    let mut keep = Vec::new();
    for t in tasks {
        let (l, w) = t.await.expect("worker panicked");
        lat.extend(l);
        keep.push(w); // dropped after the clock stops
    }
    let wall = start.elapsed();
    let cpu = crate::stats::process_cpu().saturating_sub(cpu);
    drop(keep);
    Stats::new(wall, cpu, lat)
}

/// mcpkey: a session shared by every worker (sessions are cheap clones).
pub struct McpkeyWorker {
    pub session: mcpkey::Session,
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
}

impl McpkeyWorker {
    pub fn new(session: &mcpkey::Session) -> Self {
        McpkeyWorker {
            session: session.clone(),
            args: serde_json::json!({"message": "hi"}).as_object().cloned(),
        }
    }
}

impl Worker for McpkeyWorker {
    async fn call(&mut self) {
        let r = self
            .session
            .call_tool(crate::raw::TOOL, self.args.clone())
            .await
            .expect("mcpkey call");
        assert_eq!(crate::first_text(&r), Some("hi"));
    }
}

impl Worker for crate::raw::RawHttp {
    async fn call(&mut self) {
        crate::raw::RawHttp::call(self).await;
    }
}
