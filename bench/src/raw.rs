//! The floor: minimal clients doing the exact MCP exchange by hand, with no
//! abstraction between the caller and hyper / the pipe. No MCP client can
//! beat these against the same server; mcpkey is reported as a ratio to them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, BodyStream, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The tool every benchmark calls.
pub const TOOL: &str = "echo";
/// The modern protocol revision.
pub const MODERN: &str = "2026-07-28";
/// The legacy Streamable HTTP revision.
pub const LEGACY: &str = "2025-11-25";

fn check(body: &[u8]) {
    assert!(
        body.windows(4).any(|w| w == b"\"hi\""),
        "unexpected answer: {}",
        String::from_utf8_lossy(body)
    );
}

async fn connect<B>(port: u16) -> SendRequest<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let (tx, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    tx
}

/// Streamable HTTP over one kept-alive connection.
pub struct RawHttp {
    tx: SendRequest<Full<Bytes>>,
    port: u16,
    session: Option<String>,
    version: &'static str,
    id: i64,
}

impl RawHttp {
    pub async fn connect(port: u16, version: &'static str) -> Self {
        RawHttp {
            tx: connect(port).await,
            port,
            session: None,
            version,
            id: 0,
        }
    }

    async fn post(
        &mut self,
        method: &str,
        name: Option<&str>,
        body: Value,
    ) -> (http::HeaderMap, Bytes) {
        let mut b = http::Request::post("/mcp")
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if self.version == MODERN {
            b = b
                .header("mcp-protocol-version", self.version)
                .header("mcp-method", method);
            if let Some(n) = name {
                b = b.header("mcp-name", n);
            }
        } else if method != "initialize" {
            b = b.header("mcp-protocol-version", self.version);
        }
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s);
        }
        let req = b
            .body(Full::new(Bytes::from(
                serde_json::to_vec(&body).expect("json"),
            )))
            .expect("request");
        self.tx.ready().await.expect("ready");
        let resp = self.tx.send_request(req).await.expect("send");
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (headers, bytes)
    }

    fn meta() -> Value {
        json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "floor", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        })
    }

    /// Legacy: `initialize` + `notifications/initialized`; modern:
    /// `server/discover` (what mcpkey sends first).
    pub async fn setup(&mut self) {
        self.id += 1;
        if self.version == MODERN {
            let body = json!({"jsonrpc":"2.0","id":self.id,"method":"server/discover","params":{"_meta": Self::meta()}});
            let (_, b) = self.post("server/discover", None, body).await;
            assert!(
                b.windows(8).any(|w| w == b"\"result\""),
                "discover failed: {b:?}"
            );
            return;
        }
        let (h, _) = self
            .post("initialize", None, json!({"jsonrpc":"2.0","id":self.id,"method":"initialize","params":{
                "protocolVersion": self.version, "capabilities": {}, "clientInfo": {"name":"floor","version":"1"}}}))
            .await;
        self.session = h
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.post(
            "notifications/initialized",
            None,
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    }

    pub async fn list_tools(&mut self) -> Bytes {
        self.id += 1;
        let mut params = json!({});
        if self.version == MODERN {
            params["_meta"] = Self::meta();
        }
        let (_, b) = self
            .post(
                "tools/list",
                None,
                json!({"jsonrpc":"2.0","id":self.id,"method":"tools/list","params":params}),
            )
            .await;
        b
    }

    pub async fn call(&mut self) {
        self.id += 1;
        let mut params = json!({"name": TOOL, "arguments": {"message": "hi"}});
        if self.version == MODERN {
            params["_meta"] = Self::meta();
        }
        let (_, body) = self
            .post(
                "tools/call",
                Some(TOOL),
                json!({"jsonrpc":"2.0","id":self.id,"method":"tools/call","params":params}),
            )
            .await;
        check(&body);
    }
}

type Waiters = Arc<Mutex<HashMap<i64, oneshot::Sender<Bytes>>>>;

fn response_id(data: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(data)
        .ok()?
        .get("id")?
        .as_i64()
}

/// Legacy HTTP+SSE: one GET stream that carries every answer, POSTs on
/// their own kept-alive connection(s).
pub struct RawSse {
    port: u16,
    endpoint: String,
    waiters: Waiters,
}

impl RawSse {
    pub async fn connect(port: u16) -> Self {
        let mut get = connect::<Empty<Bytes>>(port).await;
        let req = http::Request::get("/sse")
            .header("host", format!("127.0.0.1:{port}"))
            .header("accept", "text/event-stream")
            .body(Empty::new())
            .expect("request");
        let resp = get.send_request(req).await.expect("GET /sse");
        let mut body = BodyStream::new(resp.into_body());
        let waiters: Waiters = Arc::default();
        let (ep_tx, ep_rx) = oneshot::channel::<String>();
        let w = Arc::clone(&waiters);
        tokio::spawn(async move {
            let _keep = get;
            let mut ep_tx = Some(ep_tx);
            let mut buf: Vec<u8> = Vec::new();
            while let Some(Ok(frame)) = body.next().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                buf.extend_from_slice(&data);
                while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let event: Vec<u8> = buf.drain(..end + 2).collect();
                    let text = String::from_utf8_lossy(&event);
                    let mut name = "message";
                    let mut payload = String::new();
                    for line in text.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            name = if v.trim() == "endpoint" {
                                "endpoint"
                            } else {
                                "message"
                            };
                        } else if let Some(v) = line.strip_prefix("data:") {
                            payload.push_str(v.trim_start());
                        }
                    }
                    if name == "endpoint" {
                        if let Some(tx) = ep_tx.take() {
                            let _ = tx.send(payload);
                        }
                    } else if let Some(id) = response_id(payload.as_bytes())
                        && let Some(tx) = w.lock().expect("not poisoned").remove(&id)
                    {
                        let _ = tx.send(Bytes::from(payload));
                    }
                }
            }
        });
        let endpoint = ep_rx.await.expect("endpoint event");
        RawSse {
            port,
            endpoint,
            waiters,
        }
    }

    /// A POSTing handle on its own connection.
    pub async fn poster(&self) -> SsePoster {
        SsePoster {
            tx: connect(self.port).await,
            port: self.port,
            endpoint: self.endpoint.clone(),
            waiters: Arc::clone(&self.waiters),
        }
    }
}

/// POSTs messages and waits for their answers on the shared stream.
pub struct SsePoster {
    tx: SendRequest<Full<Bytes>>,
    port: u16,
    endpoint: String,
    waiters: Waiters,
}

impl SsePoster {
    async fn post(&mut self, body: Value) {
        let req = http::Request::post(self.endpoint.as_str())
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                serde_json::to_vec(&body).expect("json"),
            )))
            .expect("request");
        self.tx.ready().await.expect("ready");
        let resp = self.tx.send_request(req).await.expect("POST");
        assert_eq!(resp.status(), 202);
        let _ = resp.into_body().collect().await;
    }

    pub async fn request(&mut self, id: i64, method: &str, params: Value) -> Bytes {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("not poisoned").insert(id, tx);
        self.post(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        rx.await.expect("answer on the stream")
    }

    pub async fn setup(&mut self, id: i64) {
        self.request(
            id,
            "initialize",
            json!({"protocolVersion":"2024-11-05","capabilities":{},
            "clientInfo":{"name":"floor","version":"1"}}),
        )
        .await;
        self.post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
    }

    pub async fn call(&mut self, id: i64) {
        let b = self
            .request(
                id,
                "tools/call",
                json!({"name": TOOL, "arguments": {"message": "hi"}}),
            )
            .await;
        check(&b);
    }
}

/// stdio: newline-delimited JSON-RPC to a child process.
pub struct RawStdio {
    child: tokio::process::Child,
    stdin: Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>,
    waiters: Waiters,
}

impl RawStdio {
    /// Spawns `program args...` and runs the legacy handshake.
    pub async fn spawn(program: &str, args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn stdio server");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let waiters: Waiters = Arc::default();
        let w = Arc::clone(&waiters);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(id) = response_id(line.as_bytes())
                    && let Some(tx) = w.lock().expect("not poisoned").remove(&id)
                {
                    let _ = tx.send(Bytes::from(line));
                }
            }
        });
        let s = RawStdio {
            child,
            stdin: Arc::new(tokio::sync::Mutex::new(stdin)),
            waiters,
        };
        s.request(
            0,
            "initialize",
            json!({"protocolVersion": LEGACY, "capabilities": {},
            "clientInfo": {"name": "floor", "version": "1"}}),
        )
        .await;
        s.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await;
        s
    }

    async fn send(&self, msg: Value) {
        let mut line = serde_json::to_vec(&msg).expect("json");
        line.push(b'\n');
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(&line).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    pub async fn request(&self, id: i64, method: &str, params: Value) -> Bytes {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("not poisoned").insert(id, tx);
        self.send(json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
            .await;
        rx.await.expect("answer")
    }

    pub async fn call(&self, id: i64) {
        let b = self
            .request(
                id,
                "tools/call",
                json!({"name": TOOL, "arguments": {"message": "hi"}}),
            )
            .await;
        check(&b);
    }

    pub async fn close(mut self) {
        drop(self.stdin);
        let _ = self.child.wait().await;
    }
}
