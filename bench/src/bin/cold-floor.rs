//! The cold-start floor: a new process does, by hand over one connection,
//! exactly what mcpkey does on first use of a modern server —
//! `server/discover`, `tools/list`, one `tools/call` — and exits.
//!
//!     cold-floor PORT

use mcpkey_bench::raw::{MODERN, RawHttp};

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("cold-floor PORT");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut r = RawHttp::connect(port, MODERN).await;
        r.setup().await;
        let tools = r.list_tools().await;
        assert!(tools.windows(6).any(|w| w == b"\"echo\""));
        r.call().await;
    });
}
