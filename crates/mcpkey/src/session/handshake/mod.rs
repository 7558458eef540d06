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

mod probe;
mod via_http;
mod via_stdio;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use http::HeaderMap;
use mcpkey_auth::{Authenticator, Policy};
use rmcp::model::{Implementation, ServerCapabilities};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dispatch::{self, Shared};
use super::engine::{Engine, Era, Reinit};
use super::meta::ProtocolMeta;
use super::{ServerDetails, Session};
use crate::client::handler::Handlers;
use crate::config::{
    AuthSetting, HttpTransport, LEGACY_VERSIONS, MODERN_VERSIONS, ProtocolPin, ServerConfig, Target,
};
use crate::error::{Error, ErrorKind};
use crate::transport::http::core::{HttpCore, HttpSettings};
use crate::transport::http::streamable::StreamableHttp;
use crate::transport::jsonrpc::encode_request;
use crate::transport::stdio::StdioTransport;
use crate::transport::{Call, Transport, TransportKind};

/// Settings shared by every connection of a client.
#[derive(Clone, Debug)]
pub(crate) struct ConnectOptions {
    pub client_info: Value,
    pub handlers: Handlers,
    pub probe_timeout: Duration,
    pub log_level: Option<String>,
    pub oauth: crate::client::oauth::OAuthEnv,
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
    if let Err((key, message)) = cfg.limits.check() {
        return Err(fail(ErrorKind::Config(
            crate::config::ConfigError::Invalid {
                server: name.to_owned(),
                key: format!("limits.{key}"),
                message,
            },
        )));
    }
    if cfg.disabled {
        return Err(fail(ErrorKind::Disabled));
    }
    let deadline = Instant::now() + cfg.connect_timeout;
    let work = connect_inner(name, cfg, opts, memo, deadline);
    match opts
        .oauth
        .attention
        .timeout_at(deadline, cfg.connect_timeout, work)
        .await
    {
        Ok(r) => r.map_err(fail),
        Err(_) => Err(fail(ErrorKind::Timeout(cfg.connect_timeout))),
    }
}

/// The pieces a session is assembled from.
pub(super) struct Parts {
    transport: Arc<dyn Transport>,
    era: Era,
    version: String,
    details: Box<DiscoveredDetails>,
    reinit: Option<(Arc<StreamableHttp>, Value)>,
    http_headers: bool,
}

#[derive(Default)]
pub(super) struct DiscoveredDetails {
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
    let (tx, rx) = mpsc::channel(cfg.limits.max_pending_messages);
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
            let t = StdioTransport::spawn(target, tx, cfg.limits.max_message_bytes)
                .map_err(ErrorKind::Transport)?;
            let transport: Arc<dyn Transport> = Arc::new(t);
            match via_stdio::handshake(&ctx, &transport).await {
                Ok(p) => p,
                Err(e) => {
                    transport.close().await;
                    return Err(e);
                }
            }
        }
        Target::Http { url, transport } => {
            let core = http_core(name, cfg, url, opts)?;
            let choice = match memo.as_ref().map(|m| m.transport) {
                Some(TransportKind::Sse) => HttpTransport::Sse,
                Some(TransportKind::StreamableHttp) => HttpTransport::Streamable,
                _ => *transport,
            };
            via_http::handshake(&ctx, core, url, choice, tx).await?
        }
    };

    let shared = Arc::new(Shared {
        name: name.to_owned(),
        transport: Arc::clone(&parts.transport),
        handlers: opts.handlers.clone(),
        cache: Default::default(),
        progress: Default::default(),
        acks: Default::default(),
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
        meta: std::sync::Mutex::new(Arc::new(ProtocolMeta::new(
            &parts.version,
            &opts.client_info,
            &capabilities,
            opts.log_level.as_deref(),
        ))),
        ids,
        client_info: opts.client_info.clone(),
        capabilities,
        log_level: opts.log_level.clone(),
        attention: opts.oauth.attention.clone(),
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

fn http_core(
    name: &str,
    cfg: &ServerConfig,
    url: &url::Url,
    opts: &ConnectOptions,
) -> Result<HttpCore, ErrorKind> {
    let oauth = |settings| {
        opts.oauth
            .build(name, url, settings, cfg.limits.max_metadata_bytes)
            .map(Some)
            .map_err(|e| ErrorKind::Transport(e.into()))
    };
    let auth = match &cfg.auth {
        AuthSetting::Auth(a) => Some(Arc::clone(a)),
        AuthSetting::Disabled => None,
        AuthSetting::OAuth(settings) => oauth(Some(settings.as_ref()))?,
        // No auth configured: OAuth answers a 401 challenge, unless the config
        // already sends an Authorization header.
        AuthSetting::Unset
            if cfg
                .headers
                .iter()
                .any(|(k, _)| k == http::header::AUTHORIZATION) =>
        {
            None
        }
        AuthSetting::Unset => oauth(None)?,
    };
    let mut policy = Policy::default();
    policy.allow_insecure_http = cfg.allow_insecure_http;
    let authenticator = Authenticator::new(auth).with_policy(policy);
    HttpCore::new(
        url,
        authenticator,
        cfg.headers.clone(),
        HttpSettings {
            connect_timeout: cfg.connect_timeout,
            read_timeout: cfg.sse_read_timeout,
            max_message_bytes: cfg.limits.max_message_bytes,
            max_header_bytes: cfg.limits.max_header_bytes,
        },
    )
    .map_err(ErrorKind::Transport)
}

pub(super) struct Ctx<'a> {
    ids: &'a AtomicI64,
    opts: &'a ConnectOptions,
    capabilities: &'a Value,
    pin: ProtocolPin,
    deadline: Instant,
}

impl Ctx<'_> {
    pub(super) fn next_id(&self) -> i64 {
        self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn modern_version(&self) -> String {
        match &self.pin {
            ProtocolPin::Modern(Some(v)) => v.clone(),
            _ => MODERN_VERSIONS[0].to_owned(),
        }
    }

    pub(super) fn legacy_version(&self) -> String {
        match &self.pin {
            ProtocolPin::Legacy(Some(v)) => v.clone(),
            _ => LEGACY_VERSIONS[0].to_owned(),
        }
    }

    pub(super) fn discover_call(&self, version: &str, http: bool) -> Call {
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

    pub(super) fn initialize_params(&self, version: &str) -> Value {
        json!({
            "protocolVersion": version,
            "capabilities": self.capabilities,
            "clientInfo": self.opts.client_info,
        })
    }

    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
