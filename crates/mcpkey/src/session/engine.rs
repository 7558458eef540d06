//! Sending one request: ids, per-request metadata (modern era), HTTP
//! metadata headers, timeouts, cancellation, and the retries the protocol
//! prescribes (a new id after a broken modern stream; a fresh
//! `initialize` after a legacy session expired; the supported version
//! after `UnsupportedProtocolVersionError`; multi round-trip input).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::attention::Attention;
use super::dispatch::{Shared, answer};
use super::headers::{MCP_METHOD, MCP_NAME, encode_value};
use super::meta::{ProtocolMeta, WithMeta};
use crate::ErrorKind;
use crate::config::MODERN_VERSIONS;
use crate::transport::http::streamable::StreamableHttp;
use crate::transport::jsonrpc::{RpcError, codes, encode_notification, encode_request};
use crate::transport::{Call, TransportError};

/// Most `input_required` rounds for one request.
const MAX_INPUT_ROUNDS: usize = 10;

/// The protocol era a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Era {
    /// 2026-07-28 and later: stateless, per-request `_meta`.
    Modern,
    /// 2025-11-25 and earlier: `initialize` handshake and sessions.
    Legacy,
}

/// What a legacy Streamable HTTP session needs to start over after the
/// server forgot it.
pub(crate) struct Reinit {
    pub http: Arc<StreamableHttp>,
    pub init_params: Value,
    pub generation: tokio::sync::Mutex<u64>,
    pub seen: AtomicU64,
}

/// The request engine of one session.
pub(crate) struct Engine {
    pub shared: Arc<Shared>,
    pub era: Era,
    /// The modern `_meta` fields (and the version they carry).
    pub meta: Mutex<Arc<ProtocolMeta>>,
    pub ids: Arc<AtomicI64>,
    /// Client info and capabilities for modern `_meta`.
    pub client_info: Value,
    pub capabilities: Value,
    pub log_level: Option<String>,
    /// Logins in progress: request timeouts do not count them.
    pub attention: Attention,
    /// Whether to send `Mcp-Method`/`Mcp-Name`/`Mcp-Param-*` (modern HTTP).
    pub http_headers: bool,
    pub reinit: Option<Reinit>,
}

impl Engine {
    pub(crate) fn next_id(&self) -> i64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Our `_meta` fields, in the modern era.
    pub(crate) fn protocol_meta(&self) -> Option<Arc<ProtocolMeta>> {
        (self.era == Era::Modern)
            .then(|| Arc::clone(&self.meta.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// The request body: `params` with our `_meta` merged in (modern era).
    pub(crate) fn encode(
        &self,
        id: i64,
        method: &str,
        params: Option<&Map<String, Value>>,
    ) -> Vec<u8> {
        let meta = self.protocol_meta();
        let p = WithMeta {
            params,
            meta: meta.as_deref(),
        };
        if p.is_some() {
            encode_request(id, method, Some(&p))
        } else {
            encode_request::<()>(id, method, None)
        }
    }

    fn set_version(&self, version: &str) {
        let meta = ProtocolMeta::new(
            version,
            &self.client_info,
            &self.capabilities,
            self.log_level.as_deref(),
        );
        *self.meta.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(meta);
        self.shared.transport.set_protocol_version(version);
    }

    pub(crate) fn headers(
        &self,
        method: &str,
        params: Option<&Map<String, Value>>,
        extra: &[(http::HeaderName, http::HeaderValue)],
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        if !self.http_headers {
            return h;
        }
        h.insert(MCP_METHOD, encode_value(method));
        let name_key = match method {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" => Some("uri"),
            _ => None,
        };
        if let Some(k) = name_key
            && let Some(Value::String(v)) = params.and_then(|p| p.get(k))
        {
            h.insert(MCP_NAME, encode_value(v));
        }
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
        h
    }

    /// Sends one request and returns its raw result.
    pub(crate) async fn request(
        &self,
        method: &str,
        params: Option<&Map<String, Value>>,
        extra_headers: &[(http::HeaderName, http::HeaderValue)],
        timeout: Duration,
    ) -> Result<Box<RawValue>, ErrorKind> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut stream_retries = 0;
        let mut version_retry = false;
        let mut reinit_done = false;
        loop {
            let id = self.next_id();
            let headers = self.headers(method, params, extra_headers);
            let body = self.encode(id, method, params);
            let call = Call {
                id,
                body: body.into(),
                headers,
            };
            let generation = self.reinit.as_ref().map(|r| r.seen.load(Ordering::Acquire));
            let mut guard = CancelGuard::new(self, id);
            let outcome = match self
                .attention
                .timeout_at(deadline, timeout, self.shared.transport.call(call))
                .await
            {
                Err(_) => {
                    guard.fire("timed out");
                    return Err(ErrorKind::Timeout(timeout));
                }
                Ok(res) => {
                    guard.disarm();
                    res
                }
            };
            match outcome {
                Ok(Ok(raw)) => return Ok(raw),
                Ok(Err(rpc)) => {
                    if self.era == Era::Modern
                        && !version_retry
                        && let Some(v) = supported_modern_version(&rpc)
                    {
                        tracing::debug!(server = %self.shared.name, version = %v, "server asked for another protocol version; retrying");
                        self.set_version(&v);
                        version_retry = true;
                        continue;
                    }
                    return Err(ErrorKind::Server(rpc));
                }
                Err(TransportError::HttpStatus {
                    rpc_error: Some(rpc),
                    status: 400,
                    ..
                }) if self.era == Era::Modern
                    && !version_retry
                    && supported_modern_version(&rpc).is_some() =>
                {
                    if let Some(v) = supported_modern_version(&rpc) {
                        self.set_version(&v);
                    }
                    version_retry = true;
                    continue;
                }
                Err(TransportError::StreamEnded)
                    if self.era == Era::Modern && stream_retries < 2 =>
                {
                    // 2026-07-28: a broken response stream loses the request;
                    // re-issue it with a new id.
                    stream_retries += 1;
                    tracing::debug!(server = %self.shared.name, %method, "response stream broke; re-issuing with a new id");
                    continue;
                }
                Err(TransportError::SessionExpired) if self.reinit.is_some() && !reinit_done => {
                    reinit_done = true;
                    self.reinitialize(generation.unwrap_or(0), deadline).await?;
                    continue;
                }
                Err(TransportError::HttpStatus {
                    rpc_error: Some(rpc),
                    ..
                }) if self.era == Era::Modern => {
                    // Modern servers answer failed requests with a 4xx and a
                    // JSON-RPC error body: that is the server's answer.
                    return Err(ErrorKind::Server(*rpc));
                }
                Err(e) => return Err(ErrorKind::Transport(e)),
            }
        }
    }

    /// Starts a fresh legacy session after the server forgot ours, unless
    /// another request already did.
    async fn reinitialize(
        &self,
        seen: u64,
        deadline: tokio::time::Instant,
    ) -> Result<(), ErrorKind> {
        let Some(r) = &self.reinit else { return Ok(()) };
        let mut generation = r.generation.lock().await;
        if *generation != seen {
            return Ok(());
        }
        tracing::info!(server = %self.shared.name, "the server forgot our session (HTTP 404); initializing again");
        r.http.reset_session();
        let id = self.next_id();
        let params = r.init_params.as_object().cloned();
        let body = encode_request(id, "initialize", params.as_ref());
        let call = Call {
            id,
            body: body.into(),
            headers: HeaderMap::new(),
        };
        let res = tokio::time::timeout_at(deadline, self.shared.transport.call(call))
            .await
            .map_err(|_| ErrorKind::Timeout(Duration::ZERO))?
            .map_err(ErrorKind::Transport)?
            .map_err(ErrorKind::Server)?;
        drop(res);
        let note = encode_notification::<Value>("notifications/initialized", None);
        self.shared
            .transport
            .notify(note.into(), HeaderMap::new())
            .await
            .map_err(ErrorKind::Transport)?;
        *generation += 1;
        r.seen.store(*generation, Ordering::Release);
        Ok(())
    }

    /// Sends a request that may be answered with `input_required` (modern
    /// `tools/call`, `prompts/get`, `resources/read`): gathers the input
    /// through the user's callbacks and retries with `inputResponses` and
    /// the exact `requestState`. Returns the final result and whether input
    /// rounds happened (such results must not be cached).
    pub(crate) async fn request_with_input(
        &self,
        method: &str,
        params: &Map<String, Value>,
        extra_headers: &[(http::HeaderName, http::HeaderValue)],
        timeout: Duration,
    ) -> Result<(Box<RawValue>, bool), ErrorKind> {
        let mut retry: Option<(Map<String, Value>, Option<Value>)> = None;
        for round in 0..=MAX_INPUT_ROUNDS {
            // The first round sends `params` as given; later rounds add the
            // answers (a copy only then).
            let with_input = retry.take().map(|(responses, state)| {
                let mut p = params.clone();
                p.insert("inputResponses".into(), Value::Object(responses));
                if let Some(s) = state {
                    p.insert("requestState".into(), s);
                }
                p
            });
            let p = with_input.as_ref().unwrap_or(params);
            let raw = self
                .request(method, Some(p), extra_headers, timeout)
                .await?;
            if self.era != Era::Modern {
                return Ok((raw, false));
            }
            #[derive(Deserialize)]
            struct Head {
                #[serde(rename = "resultType")]
                result_type: Option<String>,
            }
            let head: Head = serde_json::from_str(raw.get()).map_err(|e| {
                ErrorKind::Protocol(format!("the {method} result is not a JSON object: {e}"))
            })?;
            match head.result_type.as_deref() {
                None | Some("complete") => return Ok((raw, round > 0)),
                Some("input_required") => {
                    retry = Some(self.gather_input(method, &raw).await?);
                }
                Some(other) => {
                    return Err(ErrorKind::Protocol(format!(
                        "the server answered {method} with resultType {other:?}, which this client does not know"
                    )));
                }
            }
        }
        Err(ErrorKind::Protocol(format!(
            "the server still asked for input after {MAX_INPUT_ROUNDS} rounds of {method}"
        )))
    }

    async fn gather_input(
        &self,
        method: &str,
        raw: &RawValue,
    ) -> Result<(Map<String, Value>, Option<Value>), ErrorKind> {
        #[derive(Deserialize)]
        struct InputRequest {
            method: String,
            #[serde(default)]
            params: Option<Value>,
        }
        #[derive(Deserialize)]
        struct InputRequired {
            #[serde(rename = "inputRequests", default)]
            input_requests: Option<std::collections::BTreeMap<String, InputRequest>>,
            #[serde(rename = "requestState", default)]
            request_state: Option<Value>,
        }
        let ir: InputRequired = serde_json::from_str(raw.get()).map_err(|e| {
            ErrorKind::Protocol(format!("malformed input_required result for {method}: {e}"))
        })?;
        let mut responses = Map::new();
        for (key, req) in ir.input_requests.unwrap_or_default() {
            match answer(&self.shared, &req.method, req.params).await {
                Ok(v) => {
                    responses.insert(key, v);
                }
                Err(e) => {
                    return Err(ErrorKind::Protocol(format!(
                        "the server needs {} to complete {method}, which this client cannot provide: {}",
                        req.method, e.message
                    )));
                }
            }
        }
        Ok((responses, ir.request_state))
    }
}

/// The version to retry with after `UnsupportedProtocolVersionError`.
fn supported_modern_version(rpc: &RpcError) -> Option<String> {
    if rpc.code != codes::UNSUPPORTED_PROTOCOL_VERSION {
        return None;
    }
    let supported = rpc.data.as_ref()?.get("supported")?.as_array()?;
    MODERN_VERSIONS
        .iter()
        .find(|v| supported.iter().any(|s| s.as_str() == Some(v)))
        .map(|v| (*v).to_owned())
}

/// Announces cancellation if the request future is dropped or times out.
struct CancelGuard<'a> {
    engine: &'a Engine,
    id: i64,
    armed: bool,
}

impl<'a> CancelGuard<'a> {
    fn new(engine: &'a Engine, id: i64) -> Self {
        let modern = engine.era == Era::Modern;
        Self {
            engine,
            id,
            armed: engine.shared.transport.needs_cancel_notification(modern),
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }

    fn fire(&mut self, reason: &'static str) {
        if std::mem::take(&mut self.armed) {
            spawn_cancel(self.engine, self.id, reason);
        }
    }
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        self.fire("cancelled by the client");
    }
}

fn spawn_cancel(engine: &Engine, id: i64, reason: &'static str) {
    let transport = Arc::clone(&engine.shared.transport);
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let p = json!({"requestId": id, "reason": reason});
            let body = encode_notification("notifications/cancelled", Some(&p));
            let _ = transport.notify(body.into(), HeaderMap::new()).await;
        });
    }
}
