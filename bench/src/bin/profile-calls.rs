//! A target for profilers (`perf record`, `valgrind --tool=callgrind`):
//! N sequential echo calls by one client, nothing else.
//!
//!     profile-calls PORT N floor|mcpkey modern|legacy

use mcpkey::{Client, ProtocolPin, ServerConfig};
use mcpkey_bench::drive::{McpkeyWorker, drive};
use mcpkey_bench::raw::{LEGACY, MODERN, RawHttp};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let port: u16 = a[1].parse().expect("PORT");
    let n: usize = a[2].parse().expect("N");
    let (who, era) = (a[3].as_str(), a[4].as_str());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    rt.block_on(async {
        let s = match who {
            "floor" => {
                let mut r =
                    RawHttp::connect(port, if era == "modern" { MODERN } else { LEGACY }).await;
                r.setup().await;
                drive(vec![r], 50, n).await
            }
            _ => {
                let pin = if era == "modern" {
                    ProtocolPin::Auto
                } else {
                    ProtocolPin::Legacy(None)
                };
                let client = Client::builder()
                    .server(
                        "fast",
                        ServerConfig::http(format!("http://127.0.0.1:{port}/mcp")).protocol(pin),
                    )
                    .build();
                let s = client.session("fast").await.expect("connect");
                drive(vec![McpkeyWorker::new(&s)], 50, n).await
            }
        };
        eprintln!("{who} {era}: {:.0} calls/s, p50 {:?}", s.per_s(), s.p50);
    });
}
