//! Streamable HTTP: the floor, mcpkey and rmcp making the same calls.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use mcpkey::{Client, ProtocolPin, ServerConfig};
use mcpkey_bench::drive::{McpkeyWorker, Worker, drive};
use mcpkey_bench::raw::{RawHttp, TOOL};
use mcpkey_bench::stats::Stats;
use mcpkey_bench::*;

/// TCP connections the server accepted so far (this request's included).
pub async fn conns(port: u16) -> u64 {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (mut tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let req = http::Request::get(CONNS_PATH)
        .header("host", "127.0.0.1")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = tx.send_request(req).await.expect("GET /_conns");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body)
        .trim()
        .parse()
        .expect("a count")
}

pub async fn floor(port: u16, version: &'static str, calls: usize, conc: usize) -> Stats {
    let mut workers = Vec::with_capacity(conc);
    for _ in 0..conc {
        let mut r = RawHttp::connect(port, version).await;
        r.setup().await;
        workers.push(r);
    }
    drive(workers, 50, calls / conc).await
}

/// mcpkey against one configured server; also returns the TCP connections
/// the server accepted for it.
pub async fn mcpkey_calls(port: u16, client: Client, calls: usize, conc: usize) -> (Stats, u64) {
    let before = conns(port).await;
    let s = client.session("fast").await.expect("mcpkey connect");
    s.list_tools().await.expect("tools/list");
    let workers = (0..conc).map(|_| McpkeyWorker::new(&s)).collect();
    let stats = drive(workers, 50, calls / conc).await;
    drop(s);
    client.close().await;
    let after = conns(port).await;
    (stats, after - before - 1)
}

pub fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

pub fn plain(port: u16, pin: ProtocolPin) -> Client {
    Client::builder()
        .server(
            "fast",
            ServerConfig::http(url(port, OPEN_PATH)).protocol(pin),
        )
        .build()
}

struct RmcpWorker(Arc<rmcp::service::RunningService<rmcp::RoleClient, ()>>);

impl Worker for RmcpWorker {
    async fn call(&mut self) {
        use rmcp::model::CallToolRequestParams;
        let p = CallToolRequestParams::new(TOOL).with_arguments(
            serde_json::json!({"message": "hi"})
                .as_object()
                .cloned()
                .expect("object"),
        );
        let r = self.0.call_tool(p).await.expect("rmcp call");
        assert_eq!(mcpkey_bench::first_text(&r), Some("hi"));
    }
}

/// rmcp's client given a pooled reqwest client (its best case).
pub async fn rmcp(port: u16, calls: usize, conc: usize) -> Stats {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let http = reqwest::Client::builder().build().expect("reqwest");
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url(port, OPEN_PATH)),
    );
    let client = Arc::new(().serve(transport).await.expect("rmcp connect"));
    let workers = (0..conc).map(|_| RmcpWorker(Arc::clone(&client))).collect();
    drive(workers, 50, calls / conc).await
}
