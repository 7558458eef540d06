//! A target for profilers (`perf record`, `valgrind --tool=callgrind`):
//! N sequential echo calls by one client, nothing else.
//!
//!     profile-calls PORT N floor|mcpkey modern|legacy|sse|stdio [off|bearer|signature|digest|oauth]
//!
//! `CONC=16` runs mcpkey with that many calls in flight (one session).

use mcpkey::{Client, ProtocolPin, ServerConfig};
use mcpkey_bench::drive::{McpkeyWorker, drive};
use mcpkey_bench::raw::{LEGACY, MODERN, RawHttp};
use mcpkey_bench::schemes::{Scheme, auth_client};

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
                let client = match a.get(5).map(String::as_str) {
                    Some(name) => {
                        let scheme = match name {
                            "off" => Scheme::Off,
                            "bearer" => Scheme::Bearer,
                            "signature" => Scheme::Signature,
                            "digest" => Scheme::Digest,
                            "oauth" => Scheme::OAuthCached,
                            other => panic!("unknown scheme {other}"),
                        };
                        auth_client(port, scheme).await.0
                    }
                    None if era == "stdio" => {
                        let fast = std::env::current_exe()
                            .expect("exe")
                            .with_file_name("fast-server");
                        Client::builder()
                            .server(
                                "fast",
                                ServerConfig::stdio(fast.to_string_lossy()).arg("--stdio"),
                            )
                            .build()
                    }
                    None if era == "sse" => Client::builder()
                        .server(
                            "fast",
                            ServerConfig::sse(format!("http://127.0.0.1:{port}/sse")),
                        )
                        .build(),
                    None => Client::builder()
                        .server(
                            "fast",
                            ServerConfig::http(format!("http://127.0.0.1:{port}/mcp"))
                                .protocol(pin),
                        )
                        .build(),
                };
                let s = client.session("fast").await.expect("connect");
                let conc: usize = std::env::var("CONC")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                let workers = (0..conc).map(|_| McpkeyWorker::new(&s)).collect();
                drive(workers, 50, n / conc).await
            }
        };
        eprintln!("{who} {era}: {:.0} calls/s, p50 {:?}", s.per_s(), s.p50);
    });
}
