//! Legacy HTTP+SSE (protocol 2024-11-05): `GET /sse` opens the event stream
//! whose first event names the POST endpoint; each JSON-RPC message POSTed
//! there gets `202 Accepted` and its response arrives on the stream. rmcp no
//! longer ships this transport, so it is written here, answering the same
//! `echo` tool.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub type Body = BoxBody<Bytes, Infallible>;

/// Open streams by session id.
#[derive(Clone, Default)]
pub struct Sessions {
    next: Arc<AtomicU64>,
    streams: Arc<Mutex<HashMap<String, mpsc::Sender<Bytes>>>>,
}

pub fn full(status: StatusCode, ctype: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(body.into()).boxed())
        .expect("static response parts")
}

impl Sessions {
    /// `GET /sse`.
    pub fn open(&self) -> Response<Body> {
        let id = format!("s{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = mpsc::channel::<Bytes>(1024);
        let first = Bytes::from(format!(
            "event: endpoint\ndata: /messages?sessionId={id}\n\n"
        ));
        let _ = tx.try_send(first);
        self.streams.lock().expect("not poisoned").insert(id, tx);
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| Ok(Frame::data(b)));
        Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .expect("static response parts")
    }

    /// `POST /messages?sessionId=…`.
    pub async fn post(&self, query: &str, body: &[u8]) -> Response<Body> {
        let Some(id) = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("sessionId="))
        else {
            return full(StatusCode::BAD_REQUEST, "text/plain", "sessionId missing");
        };
        let Some(tx) = self.streams.lock().expect("not poisoned").get(id).cloned() else {
            return full(StatusCode::NOT_FOUND, "text/plain", "no such session");
        };
        let Ok(msg) = serde_json::from_slice::<Value>(body) else {
            return full(StatusCode::BAD_REQUEST, "text/plain", "not JSON");
        };
        if let Some(reply) = answer(&msg) {
            let event = format!("event: message\ndata: {reply}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                self.streams.lock().expect("not poisoned").remove(id);
                return full(StatusCode::NOT_FOUND, "text/plain", "stream closed");
            }
        }
        full(StatusCode::ACCEPTED, "text/plain", "Accepted")
    }
}

/// The JSON-RPC answer to one message (none for notifications).
fn answer(msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let result = match method {
        "initialize" => json!({
            "protocolVersion": "2024-11-05",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "fast-server-sse", "version": "1"}
        }),
        "ping" => json!({}),
        "tools/list" => json!({"tools": [{
            "name": "echo",
            "description": "Echo the message back",
            "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
        }]}),
        "tools/call" => {
            let p = msg.get("params");
            let name = p.and_then(|p| p.get("name")).and_then(Value::as_str);
            let text = p
                .and_then(|p| p.get("arguments"))
                .and_then(|a| a.get("message"))
                .and_then(Value::as_str);
            match (name, text) {
                (Some("echo"), Some(t)) => {
                    json!({"content": [{"type": "text", "text": t}], "isError": false})
                }
                _ => {
                    return Some(json!({"jsonrpc": "2.0", "id": id,
                        "error": {"code": -32602, "message": "unknown tool or missing message"}}));
                }
            }
        }
        _ => {
            return Some(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "method not found"}}));
        }
    };
    Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}
