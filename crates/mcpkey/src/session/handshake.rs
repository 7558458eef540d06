//! Connecting: starting the transport, detecting the protocol era exactly
//! as MCP 2026-07-28 prescribes, and the legacy `initialize` handshake.
//!
//! * stdio: probe with `server/discover`; a `DiscoverResult` or a recognized
//!   modern error means modern; any other error, or silence for
//!   `probe_timeout`, means legacy → `initialize`.
//! * HTTP: send `server/discover` as a modern request; success or a 4xx
//!   with a recognized modern JSON-RPC error means modern; any other 4xx
//!   (except 401/403) means legacy → `initialize`; if that POST answers
//!   400, 404 or 405, and the transport is not pinned, fall back to legacy
//!   HTTP+SSE. 401, 403, 5xx and network errors never trigger a fallback.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use http::HeaderMap;
use mcpkey_auth::{Authenticator, Policy};
use rmcp::model::{Implementation, ServerCapabilities};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dispatch::{self, Shared};
use super::engine::{Engine, Era, Reinit};
use super::{ServerDetails, Session};
use crate::client::handler::Handlers;
use crate::config::{
    AuthSetting, HttpTransport, LEGACY_VERSIONS, MODERN_VERSIONS, ProtocolPin, ServerConfig, Target,
};
use crate::error::{Attempt, Error, ErrorKind};
use crate::transport::http::core::{DEFAULT_MAX_MESSAGE_BYTES, HttpCore, HttpSettings};
use crate::transport::http::legacy_sse::LegacySse;
use crate::transport::http::streamable::{PostOutcome, StreamableHttp};
use crate::transport::jsonrpc::{RpcError, codes, encode_notification, encode_request};
use crate::transport::stdio::StdioTransport;
use crate::transport::{Call, INBOUND_CAPACITY, Transport, TransportError, TransportKind};

/// Settings shared by every connection of a client.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    pub client_info: Value,
    pub handlers: Handlers,
    pub probe_timeout: Duration,
    pub log_level: Option<String>,
}

/// What worked last time, remembered for the client's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Memo {
    pub transport: TransportKind,
    pub era: Era,
}

/// Connects to one server.
pub(crate) async fn connect(
    name: &str,
    cfg: &ServerConfig,
    opts: &ConnectOptions,
    memo: Option<Memo>,
) -> Result<(Session, Memo), Error> {
    let fail = |kind: ErrorKind| Error::new(name, "connect", kind);
    if let Some(p) = cfg.problems.first() {
        return Err(fail(ErrorKind::Config(
            crate::config::ConfigError::Invalid {
                server: name.to_owned(),
                key: ".".into(),
                message: p.clone(),
            },
        )));
    }
    if cfg.disabled {
        return Err(fail(ErrorKind::Disabled));
    }
    let deadline = Instant::now() + cfg.connect_timeout;
    match tokio::time::timeout_at(deadline, connect_inner(name, cfg, opts, memo, deadline)).await {
        Ok(r) => r.map_err(fail),
        Err(_) => Err(fail(ErrorKind::Timeout(cfg.connect_timeout))),
    }
}

/// The pieces a session is assembled from.
struct Parts {
    transport: Arc<dyn Transport>,
    era: Era,
    version: String,
    details: DiscoveredDetails,
    reinit: Option<(Arc<StreamableHttp>, Value)>,
    http_headers: bool,
}

#[derive(Default)]
struct DiscoveredDetails {
    implementation: Option<Implementation>,
    capabilities: ServerCapabilities,
    instructions: Option<String>,
}

async fn connect_inner(
    name: &str,
    cfg: &ServerConfig,
    opts: &ConnectOptions,
    memo: Option<Memo>,
    deadline: Instant,
) -> Result<(Session, Memo), ErrorKind> {
    let (tx, rx) = mpsc::channel(INBOUND_CAPACITY);
    let ids = Arc::new(AtomicI64::new(1));
    let capabilities = opts.handlers.capabilities();
    let ctx = Ctx {
        ids: &ids,
        opts,
        capabilities: &capabilities,
        pin: effective_pin(&cfg.protocol, memo.as_ref()),
        deadline,
    };

    let parts = match &cfg.target {
        Target::Stdio(target) => {
            let t = StdioTransport::spawn(target, tx, DEFAULT_MAX_MESSAGE_BYTES)
                .map_err(ErrorKind::Transport)?;
            let transport: Arc<dyn Transport> = Arc::new(t);
            match stdio_handshake(&ctx, &transport).await {
                Ok(p) => p,
                Err(e) => {
                    transport.close().await;
                    return Err(e);
                }
            }
        }
        Target::Http { url, transport } => {
            let core = http_core(cfg)?;
            let choice = match memo.as_ref().map(|m| m.transport) {
                Some(TransportKind::Sse) => HttpTransport::Sse,
                Some(TransportKind::StreamableHttp) => HttpTransport::Streamable,
                _ => *transport,
            };
            http_handshake(&ctx, core, url, choice, tx).await?
        }
    };

    let shared = Arc::new(Shared {
        name: name.to_owned(),
        transport: Arc::clone(&parts.transport),
        handlers: opts.handlers.clone(),
        cache: Default::default(),
        progress: Default::default(),
    });
    let dispatcher = dispatch::spawn(Arc::clone(&shared), rx);
    let memo = Memo {
        transport: parts.transport.kind(),
        era: parts.era,
    };
    let details = ServerDetails {
        era: parts.era,
        protocol_version: parts.version.clone(),
        transport: parts.transport.kind(),
        implementation: parts.details.implementation,
        capabilities: parts.details.capabilities,
        instructions: parts.details.instructions,
    };
    let engine = Engine {
        shared,
        era: parts.era,
        version: std::sync::Mutex::new(parts.version),
        ids,
        client_info: opts.client_info.clone(),
        capabilities,
        log_level: opts.log_level.clone(),
        http_headers: parts.http_headers,
        reinit: parts.reinit.map(|(http, init_params)| Reinit {
            http,
            init_params,
            generation: tokio::sync::Mutex::new(0),
            seen: AtomicU64::new(0),
        }),
    };
    let session = Session::assemble(engine, details, dispatcher, cfg.request_timeout);
    tracing::debug!(server = %name, era = ?memo.era, transport = %memo.transport, "connected");
    Ok((session, memo))
}

fn effective_pin(pin: &ProtocolPin, memo: Option<&Memo>) -> ProtocolPin {
    match (pin, memo) {
        (ProtocolPin::Auto, Some(m)) => match m.era {
            Era::Modern => ProtocolPin::Modern(None),
            Era::Legacy => ProtocolPin::Legacy(None),
        },
        (p, _) => p.clone(),
    }
}

fn http_core(cfg: &ServerConfig) -> Result<HttpCore, ErrorKind> {
    let auth = match &cfg.auth {
        AuthSetting::Auth(a) => Some(Arc::clone(a)),
        AuthSetting::Unset | AuthSetting::Disabled => None,
    };
    let mut policy = Policy::default();
    policy.allow_insecure_http = cfg.allow_insecure_http;
    let authenticator = Authenticator::new(auth).with_policy(policy);
    HttpCore::new(
        authenticator,
        cfg.headers.clone(),
        HttpSettings {
            connect_timeout: cfg.connect_timeout,
            read_timeout: cfg.sse_read_timeout,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        },
    )
    .map_err(ErrorKind::Transport)
}

struct Ctx<'a> {
    ids: &'a AtomicI64,
    opts: &'a ConnectOptions,
    capabilities: &'a Value,
    pin: ProtocolPin,
    deadline: Instant,
}

impl Ctx<'_> {
    fn next_id(&self) -> i64 {
        self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn modern_version(&self) -> String {
        match &self.pin {
            ProtocolPin::Modern(Some(v)) => v.clone(),
            _ => MODERN_VERSIONS[0].to_owned(),
        }
    }

    fn legacy_version(&self) -> String {
        match &self.pin {
            ProtocolPin::Legacy(Some(v)) => v.clone(),
            _ => LEGACY_VERSIONS[0].to_owned(),
        }
    }

    fn discover_call(&self, version: &str, http: bool) -> Call {
        let id = self.next_id();
        let mut meta = Map::new();
        meta.insert(
            "io.modelcontextprotocol/protocolVersion".into(),
            json!(version),
        );
        meta.insert(
            "io.modelcontextprotocol/clientInfo".into(),
            self.opts.client_info.clone(),
        );
        meta.insert(
            "io.modelcontextprotocol/clientCapabilities".into(),
            self.capabilities.clone(),
        );
        if let Some(level) = &self.opts.log_level {
            meta.insert("io.modelcontextprotocol/logLevel".into(), json!(level));
        }
        let params = json!({ "_meta": meta });
        let mut headers = HeaderMap::new();
        if http {
            headers.insert(
                super::headers::MCP_METHOD,
                http::HeaderValue::from_static("server/discover"),
            );
            if let Ok(v) = http::HeaderValue::from_str(version) {
                headers.insert(crate::transport::http::streamable::PROTOCOL_VERSION, v);
            }
        }
        Call {
            id,
            body: encode_request(id, "server/discover", Some(&params)).into(),
            headers,
        }
    }

    fn initialize_params(&self, version: &str) -> Value {
        json!({
            "protocolVersion": version,
            "capabilities": self.capabilities,
            "clientInfo": self.opts.client_info,
        })
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// What one modern probe concluded.
enum Probe {
    Modern {
        version: String,
        details: DiscoveredDetails,
    },
    /// Retry the probe with this version (the server listed it).
    Retry(String),
    /// A legacy server; optionally a legacy version it named.
    Legacy {
        reason: String,
        version: Option<String>,
    },
}

#[derive(Deserialize)]
struct DiscoverWire {
    #[serde(rename = "supportedVersions")]
    supported_versions: Vec<String>,
    #[serde(default)]
    capabilities: Option<Value>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(rename = "_meta", default)]
    meta: Option<Map<String, Value>>,
    #[serde(rename = "serverInfo", default)]
    server_info: Option<Value>,
}

fn lenient_capabilities(v: Option<Value>) -> ServerCapabilities {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn lenient_implementation(v: Option<Value>) -> Option<Implementation> {
    v.and_then(|v| serde_json::from_value(v).ok())
}

/// Classifies the answer to a `server/discover` probe.
fn classify_discover(
    requested: &str,
    result: Result<&serde_json::value::RawValue, &RpcError>,
) -> Probe {
    match result {
        Ok(raw) => match serde_json::from_str::<DiscoverWire>(raw.get()) {
            Ok(d) => {
                let common = MODERN_VERSIONS
                    .iter()
                    .find(|v| d.supported_versions.iter().any(|s| s == *v));
                match common {
                    Some(v) => {
                        let info = d
                            .meta
                            .as_ref()
                            .and_then(|m| m.get("io.modelcontextprotocol/serverInfo").cloned())
                            .or(d.server_info);
                        let details = DiscoveredDetails {
                            implementation: lenient_implementation(info),
                            capabilities: lenient_capabilities(d.capabilities),
                            instructions: d.instructions,
                        };
                        if *v == requested {
                            Probe::Modern {
                                version: requested.to_owned(),
                                details,
                            }
                        } else {
                            Probe::Retry((*v).to_owned())
                        }
                    }
                    None => Probe::Legacy {
                        reason: format!(
                            "the server supports only {}",
                            d.supported_versions.join(", ")
                        ),
                        version: LEGACY_VERSIONS
                            .iter()
                            .find(|v| d.supported_versions.iter().any(|s| s == *v))
                            .map(|v| (*v).to_owned()),
                    },
                }
            }
            Err(_) => Probe::Legacy {
                reason: "the answer to server/discover is not a DiscoverResult".into(),
                version: None,
            },
        },
        Err(rpc) => classify_modern_error(requested, rpc).unwrap_or_else(|| Probe::Legacy {
            reason: format!("server/discover failed with {rpc}"),
            version: None,
        }),
    }
}

/// A recognized modern error, as a probe outcome.
fn classify_modern_error(requested: &str, rpc: &RpcError) -> Option<Probe> {
    if rpc.code == codes::UNSUPPORTED_PROTOCOL_VERSION {
        let supported: Vec<String> = rpc
            .data
            .as_ref()
            .and_then(|d| d.get("supported"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(v) = MODERN_VERSIONS
            .iter()
            .find(|v| supported.iter().any(|s| s == *v))
        {
            return Some(Probe::Retry((*v).to_owned()));
        }
        if let Some(v) = LEGACY_VERSIONS
            .iter()
            .find(|v| supported.iter().any(|s| s == *v))
        {
            return Some(Probe::Legacy {
                reason: format!("the server supports only {}", supported.join(", ")),
                version: Some((*v).to_owned()),
            });
        }
        let _ = requested;
        return None;
    }
    None
}

async fn stdio_handshake(
    ctx: &Ctx<'_>,
    transport: &Arc<dyn Transport>,
) -> Result<Parts, ErrorKind> {
    let mut legacy_version = None;
    if !matches!(ctx.pin, ProtocolPin::Legacy(_)) {
        let mut version = ctx.modern_version();
        for _ in 0..2 {
            let call = ctx.discover_call(&version, false);
            let probe_for = if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                ctx.remaining()
            } else {
                ctx.opts.probe_timeout.min(ctx.remaining())
            };
            let outcome = match tokio::time::timeout(probe_for, transport.call(call)).await {
                Err(_) => Probe::Legacy {
                    reason: format!("no answer to server/discover within {probe_for:?}"),
                    version: None,
                },
                Ok(Err(e)) => return Err(ErrorKind::Transport(e)),
                Ok(Ok(r)) => classify_discover(&version, r.as_deref()),
            };
            match outcome {
                Probe::Modern { version, details } => {
                    return Ok(Parts {
                        transport: Arc::clone(transport),
                        era: Era::Modern,
                        version,
                        details,
                        reinit: None,
                        http_headers: false,
                    });
                }
                Probe::Retry(v) => version = v,
                Probe::Legacy { reason, version } => {
                    if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                        return Err(ErrorKind::Protocol(format!(
                            "the config pins a modern protocol, but {reason}"
                        )));
                    }
                    tracing::debug!(%reason, "stdio server is legacy; falling back to initialize");
                    legacy_version = version;
                    break;
                }
            }
        }
    }
    let version = legacy_version.unwrap_or_else(|| ctx.legacy_version());
    let (v, details) = initialize(ctx, transport.as_ref(), &version).await?;
    Ok(Parts {
        transport: Arc::clone(transport),
        era: Era::Legacy,
        version: v,
        details,
        reinit: None,
        http_headers: false,
    })
}

/// The legacy handshake on any transport: `initialize`, then
/// `notifications/initialized`. Returns the negotiated version.
async fn initialize(
    ctx: &Ctx<'_>,
    transport: &dyn Transport,
    version: &str,
) -> Result<(String, DiscoveredDetails), ErrorKind> {
    let id = ctx.next_id();
    let params = ctx.initialize_params(version);
    let call = Call {
        id,
        body: encode_request(id, "initialize", Some(&params)).into(),
        headers: HeaderMap::new(),
    };
    let raw = transport
        .call(call)
        .await
        .map_err(ErrorKind::Transport)?
        .map_err(ErrorKind::Server)?;
    finish_initialize(transport, raw.get()).await
}

async fn finish_initialize(
    transport: &dyn Transport,
    raw: &str,
) -> Result<(String, DiscoveredDetails), ErrorKind> {
    #[derive(Deserialize)]
    struct InitWire {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
        #[serde(default)]
        capabilities: Option<Value>,
        #[serde(rename = "serverInfo", default)]
        server_info: Option<Value>,
        #[serde(default)]
        instructions: Option<String>,
    }
    let init: InitWire = serde_json::from_str(raw)
        .map_err(|e| ErrorKind::Protocol(format!("the initialize result is malformed: {e}")))?;
    if !LEGACY_VERSIONS.contains(&init.protocol_version.as_str()) {
        return Err(ErrorKind::Protocol(format!(
            "the server answered initialize with protocol version {:?}, which mcpkey does not speak (it speaks {} and {})",
            init.protocol_version,
            MODERN_VERSIONS.join(", "),
            LEGACY_VERSIONS.join(", ")
        )));
    }
    transport.set_protocol_version(&init.protocol_version);
    let note = encode_notification::<Value>("notifications/initialized", None);
    transport
        .notify(note.into(), HeaderMap::new())
        .await
        .map_err(ErrorKind::Transport)?;
    Ok((
        init.protocol_version,
        DiscoveredDetails {
            implementation: lenient_implementation(init.server_info),
            capabilities: lenient_capabilities(init.capabilities),
            instructions: init.instructions,
        },
    ))
}

async fn http_handshake(
    ctx: &Ctx<'_>,
    core: HttpCore,
    url: &url::Url,
    choice: HttpTransport,
    tx: crate::transport::InboundTx,
) -> Result<Parts, ErrorKind> {
    let mut attempts: Vec<Attempt> = Vec::new();
    if choice == HttpTransport::Sse {
        return legacy_sse(ctx, core, url, tx, &mut attempts).await;
    }
    let http = StreamableHttp::new(core.clone(), url.clone(), tx.clone());
    let mut legacy_version = None;

    if !matches!(ctx.pin, ProtocolPin::Legacy(_)) {
        let mut version = ctx.modern_version();
        let mut tries = 0;
        loop {
            tries += 1;
            let call = ctx.discover_call(&version, true);
            let probe = match http.post_request(call).await {
                Err(e) => return Err(ErrorKind::Transport(e)),
                Ok(PostOutcome::Response(r)) => classify_discover(&version, r.as_deref()),
                Ok(PostOutcome::Status(e)) => match &e {
                    TransportError::HttpStatus {
                        status, rpc_error, ..
                    } if (400..500).contains(status) => {
                        let modern = rpc_error.as_ref().and_then(|rpc| {
                            classify_modern_error(&version, rpc).or_else(|| {
                                // A modern server answers an unknown method
                                // with 404 + -32601, and other validation
                                // failures with its reserved codes.
                                (codes::is_modern(rpc.code)
                                    || (*status == 404 && rpc.code == codes::METHOD_NOT_FOUND))
                                    .then(|| Probe::Modern {
                                        version: version.clone(),
                                        details: DiscoveredDetails::default(),
                                    })
                            })
                        });
                        match modern {
                            Some(p) => p,
                            None => Probe::Legacy {
                                reason: e.to_string(),
                                version: None,
                            },
                        }
                    }
                    _ => return Err(ErrorKind::Transport(e)),
                },
            };
            match probe {
                Probe::Modern { version, details } => {
                    http.set_protocol_version(&version);
                    let transport: Arc<dyn Transport> = Arc::new(http);
                    return Ok(Parts {
                        transport,
                        era: Era::Modern,
                        version,
                        details,
                        reinit: None,
                        http_headers: true,
                    });
                }
                Probe::Retry(v) if tries < 3 => version = v,
                Probe::Retry(v) => {
                    return Err(ErrorKind::Protocol(format!(
                        "the server keeps rejecting protocol version {v} that it lists as supported"
                    )));
                }
                Probe::Legacy { reason, version } => {
                    if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                        return Err(ErrorKind::Protocol(format!(
                            "the config pins a modern protocol, but {reason}"
                        )));
                    }
                    tracing::debug!(%reason, "HTTP server is not modern; trying initialize");
                    attempts.push(Attempt {
                        what: "modern request (server/discover)".into(),
                        error: TransportError::Protocol(reason),
                    });
                    legacy_version = version;
                    break;
                }
            }
        }
    }

    // Legacy Streamable HTTP.
    let version = legacy_version.unwrap_or_else(|| ctx.legacy_version());
    http.set_legacy(true);
    let id = ctx.next_id();
    let params = ctx.initialize_params(&version);
    let call = Call {
        id,
        body: encode_request(id, "initialize", Some(&params)).into(),
        headers: HeaderMap::new(),
    };
    match http
        .post_request(call)
        .await
        .map_err(ErrorKind::Transport)?
    {
        PostOutcome::Response(Ok(raw)) => {
            let transport: Arc<dyn Transport> = Arc::new(Arc::clone(&http));
            let (v, details) = finish_initialize(transport.as_ref(), raw.get()).await?;
            start_get_stream(&http, ctx).await;
            Ok(Parts {
                transport,
                era: Era::Legacy,
                version: v,
                details,
                reinit: Some((http, params)),
                http_headers: false,
            })
        }
        PostOutcome::Response(Err(rpc)) => Err(ErrorKind::Server(rpc)),
        PostOutcome::Status(e) => {
            let fallback =
                choice == HttpTransport::Auto && matches!(e.http_status(), Some(400 | 404 | 405));
            attempts.push(Attempt {
                what: "Streamable HTTP initialize".into(),
                error: e,
            });
            if fallback {
                tracing::debug!("falling back to the legacy HTTP+SSE transport");
                legacy_sse(ctx, core, url, tx, &mut attempts).await
            } else {
                Err(into_kind(attempts))
            }
        }
    }
}

/// Opens the standalone GET stream and waits (briefly) until the server
/// has answered it, so server requests sent right after a call starts are
/// not lost.
async fn start_get_stream(http: &Arc<StreamableHttp>, ctx: &Ctx<'_>) {
    let wait = Duration::from_secs(2).min(ctx.remaining());
    http.start_listening_and_wait(wait).await;
}

async fn legacy_sse(
    ctx: &Ctx<'_>,
    core: HttpCore,
    url: &url::Url,
    tx: crate::transport::InboundTx,
    attempts: &mut Vec<Attempt>,
) -> Result<Parts, ErrorKind> {
    let sse = match LegacySse::connect(core, url, tx, ctx.remaining()).await {
        Ok(s) => s,
        Err(e) => {
            attempts.push(Attempt {
                what: "legacy HTTP+SSE".into(),
                error: e,
            });
            return Err(into_kind(std::mem::take(attempts)));
        }
    };
    let transport: Arc<dyn Transport> = Arc::new(sse);
    let version = ctx.legacy_version();
    match initialize(ctx, transport.as_ref(), &version).await {
        Ok((v, details)) => Ok(Parts {
            transport,
            era: Era::Legacy,
            version: v,
            details,
            reinit: None,
            http_headers: false,
        }),
        Err(e) => {
            transport.close().await;
            Err(e)
        }
    }
}

fn into_kind(mut attempts: Vec<Attempt>) -> ErrorKind {
    if attempts.len() == 1 {
        if let Some(a) = attempts.pop() {
            return ErrorKind::Transport(a.error);
        }
    }
    ErrorKind::Attempts(attempts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.into()).unwrap()
    }

    #[test]
    fn discover_results() {
        let r = raw(
            r#"{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s","version":"1"}},"ttlMs":0,"cacheScope":"private"}"#,
        );
        assert!(
            matches!(classify_discover("2026-07-28", Ok(&r)), Probe::Modern { details, .. } if details.implementation.is_some())
        );
        let r = raw(r#"{}"#);
        assert!(matches!(
            classify_discover("2026-07-28", Ok(&r)),
            Probe::Legacy { .. }
        ));
        let r = raw(r#"{"supportedVersions":["2025-11-25"]}"#);
        assert!(
            matches!(classify_discover("2026-07-28", Ok(&r)), Probe::Legacy { version: Some(v), .. } if v == "2025-11-25")
        );
        let e = RpcError {
            code: -32601,
            message: "Method not found".into(),
            data: None,
        };
        assert!(matches!(
            classify_discover("2026-07-28", Err(&e)),
            Probe::Legacy { .. }
        ));
        let e = RpcError {
            code: -32022,
            message: "Unsupported protocol version".into(),
            data: Some(json!({"supported": ["2026-07-28"], "requested": ""})),
        };
        assert!(
            matches!(classify_discover("2026-07-28", Err(&e)), Probe::Retry(v) if v == "2026-07-28")
        );
    }
}
