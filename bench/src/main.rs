//! mcpkey's benchmark: the same MCP exchange, in one run, by
//!
//! * the floor: a minimal raw-HTTP client (hyper, one kept-alive connection
//!   per in-flight request) doing exactly the JSON-RPC exchange by hand;
//! * mcpkey, the library;
//! * rmcp 3.11's client given a pooled reqwest client (its best case);
//!
//! against `fast-server` (rmcp's server, TCP_NODELAY) on 127.0.0.1, in both
//! protocol eras. Ratios are to the floor of the same era, measured in the
//! same run. See BENCHMARKS.md.
//!
//!     mcpkey-bench [--calls N] [--port P]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde_json::{Value, json};
use tokio::net::TcpStream;

const TOOL: &str = "echo";

struct Args {
    calls: usize,
    port: u16,
}

fn args() -> Args {
    let mut a = Args { calls: 3000, port: 0 };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        match v[i].as_str() {
            "--calls" => a.calls = v[i + 1].parse().expect("--calls N"),
            "--port" => a.port = v[i + 1].parse().expect("--port P"),
            _ => {}
        }
        i += 2;
    }
    a
}

/// Latencies of one scenario.
struct Stats {
    name: String,
    calls_per_s: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(name: &str, wall: Duration, mut lat: Vec<Duration>) -> Stats {
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Stats {
        name: name.to_owned(),
        calls_per_s: lat.len() as f64 / wall.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

// ---------------------------------------------------------------- floor

struct Raw {
    tx: SendRequest<Full<Bytes>>,
    port: u16,
    session: Option<String>,
    version: &'static str,
    id: i64,
}

impl Raw {
    async fn connect(port: u16, version: &'static str) -> Raw {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        Raw { tx, port, session: None, version, id: 0 }
    }

    async fn post(&mut self, method: &str, name: Option<&str>, body: Value) -> (http::HeaderMap, Bytes) {
        let mut b = http::Request::post("/mcp")
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if self.version == "2026-07-28" {
            b = b.header("mcp-protocol-version", self.version).header("mcp-method", method);
            if let Some(n) = name {
                b = b.header("mcp-name", n);
            }
        } else if method != "initialize" {
            b = b.header("mcp-protocol-version", self.version);
        }
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s);
        }
        let req = b.body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap()))).unwrap();
        self.tx.ready().await.unwrap();
        let resp = self.tx.send_request(req).await.unwrap();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (headers, bytes)
    }

    /// legacy: initialize + initialized; modern: nothing to set up.
    async fn setup(&mut self) {
        if self.version == "2026-07-28" {
            return;
        }
        self.id += 1;
        let (h, _) = self
            .post("initialize", None, json!({"jsonrpc":"2.0","id":self.id,"method":"initialize","params":{
                "protocolVersion": self.version, "capabilities": {}, "clientInfo": {"name":"floor","version":"1"}}}))
            .await;
        self.session = h.get("mcp-session-id").map(|v| v.to_str().unwrap().to_owned());
        self.post("notifications/initialized", None, json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
    }

    async fn call(&mut self) -> Bytes {
        self.id += 1;
        let mut params = json!({"name": TOOL, "arguments": {"message": "hi"}});
        if self.version == "2026-07-28" {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "floor", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            });
        }
        let (_, body) = self
            .post("tools/call", Some(TOOL), json!({"jsonrpc":"2.0","id":self.id,"method":"tools/call","params":params}))
            .await;
        assert!(body.windows(2).any(|w| w == b"hi"), "unexpected: {body:?}");
        body
    }
}

async fn floor(port: u16, version: &'static str, calls: usize, conc: usize) -> (Duration, Vec<Duration>) {
    let mut conns = Vec::new();
    for _ in 0..conc {
        let mut r = Raw::connect(port, version).await;
        r.setup().await;
        for _ in 0..50 {
            r.call().await;
        }
        conns.push(r);
    }
    let per = calls / conc;
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut r| {
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    r.call().await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (start.elapsed(), lat)
}

// ---------------------------------------------------------------- mcpkey

async fn mcpkey_run(port: u16, pin: mcpkey::ProtocolPin, calls: usize, conc: usize) -> (Duration, Vec<Duration>) {
    let cfg = mcpkey::ServerConfig::http(format!("http://127.0.0.1:{port}/mcp")).protocol(pin);
    let client = mcpkey::Client::builder().server("fast", cfg).build();
    let s = client.session("fast").await.unwrap();
    s.list_tools().await.unwrap();
    let args = json!({"message": "hi"}).as_object().cloned();
    for _ in 0..(50 * conc) {
        s.call_tool(TOOL, args.clone()).await.unwrap();
    }
    let per = calls / conc;
    let start = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let s = s.clone();
            let args = args.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    let r = s.call_tool(TOOL, args.clone()).await.unwrap();
                    assert_eq!(r.is_error, Some(false).filter(|_| false).or(r.is_error));
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let wall = start.elapsed();
    client.close().await;
    (wall, lat)
}

// ---------------------------------------------------------------- rmcp

async fn rmcp_run(port: u16, calls: usize, conc: usize) -> (Duration, Vec<Duration>) {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let http = reqwest::Client::builder().build().unwrap();
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(format!("http://127.0.0.1:{port}/mcp")),
    );
    let client = Arc::new(().serve(transport).await.unwrap());
    let params = || {
        CallToolRequestParams::new(TOOL).with_arguments(json!({"message": "hi"}).as_object().cloned().unwrap())
    };
    for _ in 0..(50 * conc) {
        client.call_tool(params()).await.unwrap();
    }
    let per = calls / conc;
    let start = Instant::now();
    let tasks: Vec<_> = (0..conc)
        .map(|_| {
            let c = Arc::clone(&client);
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    c.call_tool(params()).await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    (start.elapsed(), lat)
}

// ---------------------------------------------------------------- main

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut rows: Vec<(Stats, f64, &'static str)> = Vec::new();
        for conc in [1usize, 16] {
            let calls = a.calls.max(conc);
            let (w, l) = floor(a.port, "2026-07-28", calls, conc).await;
            let f_modern = stats(&format!("floor, modern, {conc} in flight"), w, l);
            let (w, l) = floor(a.port, "2025-11-25", calls, conc).await;
            let f_legacy = stats(&format!("floor, legacy, {conc} in flight"), w, l);
            let (w, l) = mcpkey_run(a.port, mcpkey::ProtocolPin::Auto, calls, conc).await;
            let m_modern = stats(&format!("mcpkey, modern, {conc} in flight"), w, l);
            let (w, l) = mcpkey_run(a.port, mcpkey::ProtocolPin::Legacy(None), calls, conc).await;
            let m_legacy = stats(&format!("mcpkey, legacy, {conc} in flight"), w, l);
            let (w, l) = rmcp_run(a.port, calls, conc).await;
            let r_legacy = stats(&format!("rmcp 3.11 (pooled reqwest), legacy, {conc} in flight"), w, l);
            let fm = f_modern.calls_per_s;
            let fl = f_legacy.calls_per_s;
            rows.push((f_modern, fm, "modern"));
            rows.push((m_modern, fm, "modern"));
            rows.push((f_legacy, fl, "legacy"));
            rows.push((m_legacy, fl, "legacy"));
            rows.push((r_legacy, fl, "legacy"));
        }
        println!("| client | calls/s | × floor | p50 µs | p99 µs |");
        println!("|---|---:|---:|---:|---:|");
        for (s, floor, _) in &rows {
            println!(
                "| {} | {:.0} | {:.2} | {} | {} |",
                s.name,
                s.calls_per_s,
                s.calls_per_s / floor,
                s.p50.as_micros(),
                s.p99.as_micros()
            );
        }
    });
}
