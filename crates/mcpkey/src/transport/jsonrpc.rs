//! JSON-RPC 2.0 framing: serializing outgoing messages, classifying incoming
//! ones. Payloads stay as raw JSON until the session layer decodes them into
//! `rmcp` model types, so the transport never parses a result twice.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON-RPC error object as received from a server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Extra data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Server-provided text: cap its length so a hostile server cannot
        // flood the terminal through an error message.
        let msg: String = self.message.chars().take(500).collect();
        write!(f, "{msg} (code {})", self.code)
    }
}

/// Error codes defined by MCP 2026-07-28 (`-32020`..`-32099` are reserved for
/// the specification).
pub mod codes {
    /// Headers do not match the body.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// The request needs a client capability that was not declared.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
    /// The requested protocol version is not supported.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
    /// Method not found.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid params.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = -32603;

    /// Whether this code identifies a modern (2026-07-28+) server.
    pub fn is_modern(code: i64) -> bool {
        (-32099..=-32020).contains(&code)
    }
}

/// The outcome of one request: a raw result object, or the server's error.
pub type RpcResult = Result<Box<RawValue>, RpcError>;

/// A message from the server, classified.
#[derive(Debug)]
pub enum Incoming {
    /// A response to one of our requests.
    Response {
        /// The id we sent (as the server echoed it).
        id: Value,
        /// Result or error.
        result: RpcResult,
    },
    /// A request from the server (legacy era: sampling, elicitation, roots, ping).
    Request {
        /// Server-chosen id, echoed verbatim in our answer.
        id: Value,
        /// Method name.
        method: String,
        /// Raw params.
        params: Option<Box<RawValue>>,
    },
    /// A notification from the server.
    Notification {
        /// Method name.
        method: String,
        /// Raw params.
        params: Option<Box<RawValue>>,
    },
}

impl Incoming {
    /// The numeric id of a response, if it is one of ours.
    pub fn response_id(&self) -> Option<i64> {
        match self {
            Incoming::Response { id, .. } => id_as_i64(id),
            _ => None,
        }
    }
}

/// Our ids are integers; servers echo them as numbers (or, rarely, strings).
pub fn id_as_i64(id: &Value) -> Option<i64> {
    match id {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// Why an incoming message could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not JSON.
    #[error("the server sent invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not a JSON-RPC message.
    #[error("the server sent JSON that is not a JSON-RPC message")]
    NotJsonRpc,
}

/// Parses one JSON text holding a message or a batch of messages.
pub fn parse_incoming(text: &[u8]) -> Result<Vec<Incoming>, FrameError> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        let raw: Vec<RawMessage> = serde_json::from_slice(text)?;
        raw.into_iter().map(classify).collect()
    } else {
        let raw: RawMessage = serde_json::from_slice(text)?;
        Ok(vec![classify(raw)?])
    }
}

fn classify(m: RawMessage) -> Result<Incoming, FrameError> {
    match (m.id, m.method) {
        (Some(id), Some(method)) if !id.is_null() => Ok(Incoming::Request {
            id,
            method,
            params: m.params,
        }),
        (None, Some(method)) | (Some(Value::Null), Some(method)) => Ok(Incoming::Notification {
            method,
            params: m.params,
        }),
        (id, None) => {
            let id = id.unwrap_or(Value::Null);
            if let Some(err) = m.error {
                Ok(Incoming::Response {
                    id,
                    result: Err(err),
                })
            } else if let Some(result) = m.result {
                Ok(Incoming::Response {
                    id,
                    result: Ok(result),
                })
            } else {
                Err(FrameError::NotJsonRpc)
            }
        }
        _ => Err(FrameError::NotJsonRpc),
    }
}

#[derive(Serialize)]
struct OutRequest<'a, P: Serialize> {
    jsonrpc: &'static str,
    id: i64,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct OutNotification<'a, P: Serialize> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
}

#[derive(Serialize)]
struct OutResponse<'a> {
    jsonrpc: &'static str,
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RpcError>,
}

/// Serializes a request.
pub fn encode_request<P: Serialize>(id: i64, method: &str, params: Option<&P>) -> Vec<u8> {
    // Serializing plain maps and strings cannot fail.
    serde_json::to_vec(&OutRequest {
        jsonrpc: "2.0",
        id,
        method,
        params,
    })
    .unwrap_or_default()
}

/// Serializes a notification.
pub fn encode_notification<P: Serialize>(method: &str, params: Option<&P>) -> Vec<u8> {
    serde_json::to_vec(&OutNotification {
        jsonrpc: "2.0",
        method,
        params,
    })
    .unwrap_or_default()
}

/// Serializes our answer to a server request.
pub fn encode_response(id: &Value, result: Result<&Value, &RpcError>) -> Vec<u8> {
    let (result, error) = match result {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e)),
    };
    serde_json::to_vec(&OutResponse {
        jsonrpc: "2.0",
        id,
        result,
        error,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_all_kinds() {
        let v = parse_incoming(br#"{"jsonrpc":"2.0","id":3,"result":{"a":1}}"#).unwrap();
        assert_eq!(v[0].response_id(), Some(3));
        let v = parse_incoming(br#"{"jsonrpc":"2.0","id":"7","error":{"code":-1,"message":"x"}}"#)
            .unwrap();
        assert!(matches!(&v[0], Incoming::Response { result: Err(e), .. } if e.code == -1));
        assert_eq!(v[0].response_id(), Some(7));
        let v = parse_incoming(br#"{"jsonrpc":"2.0","id":"s1","method":"ping"}"#).unwrap();
        assert!(matches!(&v[0], Incoming::Request { method, .. } if method == "ping"));
        let v = parse_incoming(
            br#"[{"jsonrpc":"2.0","method":"notifications/message","params":{}},{"jsonrpc":"2.0","id":1,"result":{}}]"#,
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert!(parse_incoming(br#"{"jsonrpc":"2.0"}"#).is_err());
        assert!(parse_incoming(b"not json").is_err());
    }

    #[test]
    fn encodes() {
        let p = json!({"name":"x"});
        let b = encode_request(1, "tools/call", Some(&p));
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#
        );
        let b = encode_notification::<Value>("notifications/initialized", None);
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
        );
    }

    #[test]
    fn modern_codes() {
        assert!(codes::is_modern(codes::UNSUPPORTED_PROTOCOL_VERSION));
        assert!(!codes::is_modern(-32601));
        assert!(!codes::is_modern(-32000));
    }
}
