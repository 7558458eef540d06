//! The wire: one HTTP exchange. No redirects, no retries, body left unread
//! (the [`Authenticator`](mcpkey_auth::Authenticator) above does the rest).
//!
//! Direct connections use hyper's HTTP/1.1 client connections over
//! hyper-rustls's connector, pooled by [`pool`](super::pool) — the stack
//! reqwest wraps, without its per-request layers (redirect and retry
//! services, URL re-parsing, pool-key hashing: a third of a call's CPU in
//! the benchmark) and without opening a second connection while the first
//! is finishing its previous response. When the environment names a
//! proxy for the server (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`), requests go through reqwest, which speaks to proxies.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, TryStreamExt};
use http::Uri;
use http::header::{AUTHORIZATION, HOST, HeaderValue, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use mcpkey_auth::{AuthError, AuthRequest, AuthResponse, Body, BoxError, Exchange, RedactedUrl};
use url::Url;

use super::pool::{Checked, ConnectError, Pool};
use super::tls;
use crate::transport::TransportError;

const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("mcpkey/", env!("CARGO_PKG_VERSION")));
/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Per-server wire settings.
#[derive(Debug, Clone)]
pub(crate) struct WireSettings {
    pub connect_timeout: Duration,
    /// Longest silence while waiting for a response head or the next chunk.
    pub read_timeout: Duration,
    /// Largest response head (hyper's read buffer; at least 8 KiB).
    pub max_header_bytes: usize,
}

/// How one server's requests reach it.
#[derive(Debug)]
pub(crate) struct Wire {
    route: Route,
    /// A configured `Authorization` header, when an auth is configured too.
    static_authorization: Option<HeaderValue>,
    warned: AtomicBool,
}

enum Route {
    Direct(Direct),
    Proxied(reqwest::Client),
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Route::Direct(_) => "Direct",
            Route::Proxied(_) => "Proxied",
        })
    }
}

struct Direct {
    pool: Arc<Pool>,
    read_timeout: Duration,
}

fn build_error(what: &str, e: impl std::fmt::Display) -> TransportError {
    TransportError::Protocol(format!("cannot build the HTTP client ({what}): {e}"))
}

impl Wire {
    /// The wire for a server at `url`.
    pub(crate) fn new(
        url: &Url,
        settings: &WireSettings,
        static_authorization: Option<HeaderValue>,
    ) -> Result<Self, TransportError> {
        let tls = tls::client_config().map_err(|e| build_error("TLS", e))?;
        let proxied = url.as_str().parse::<http::Uri>().ok().is_some_and(|uri| {
            hyper_util::client::proxy::matcher::Matcher::from_env()
                .intercept(&uri)
                .is_some()
        });
        let route = if proxied {
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(settings.connect_timeout)
                .read_timeout(settings.read_timeout)
                .tcp_nodelay(true)
                .pool_idle_timeout(POOL_IDLE)
                .user_agent(USER_AGENT_VALUE)
                .build()
                .map_err(|e| build_error("proxy", e))?;
            Route::Proxied(client)
        } else {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(settings.connect_timeout));
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Route::Direct(Direct {
                pool: Pool::new(https, settings.max_header_bytes),
                read_timeout: settings.read_timeout,
            })
        };
        Ok(Self {
            route,
            static_authorization,
            warned: AtomicBool::new(false),
        })
    }

    fn warn_if_overridden(&self, req: &AuthRequest) {
        if let Some(configured) = &self.static_authorization
            && req.headers.get(AUTHORIZATION) != Some(configured)
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                server = %mcpkey_auth::redact::origin_string(&req.url),
                "both a configured Authorization header and the auth set Authorization; the auth wins"
            );
        }
    }
}

#[async_trait]
impl Exchange for Wire {
    async fn exchange(&self, req: AuthRequest) -> Result<AuthResponse, AuthError> {
        self.warn_if_overridden(&req);
        match &self.route {
            Route::Direct(d) => d.exchange(req).await,
            Route::Proxied(c) => reqwest_exchange(c, req).await,
        }
    }
}

fn transport(e: TransportError) -> AuthError {
    AuthError::Transport(Box::new(e))
}

impl Direct {
    async fn exchange(&self, req: AuthRequest) -> Result<AuthResponse, AuthError> {
        let unusable = || {
            transport(TransportError::Protocol(format!(
                "{} is not a URL the HTTP client accepts",
                RedactedUrl(&req.url)
            )))
        };
        let uri: Uri = req.url.as_str().parse().map_err(|_| unusable())?;
        let (Some(authority), Some(path)) = (uri.authority(), uri.path_and_query()) else {
            return Err(unusable());
        };
        let host = HeaderValue::from_str(authority.as_str()).map_err(|_| unusable())?;
        let target = Uri::from(path.clone());
        let mut checked = self
            .pool
            .checkout(&uri)
            .await
            .map_err(|e| transport(connect_error(&req.url, e)))?;
        let mut r = http::Request::new(Full::new(req.body));
        *r.method_mut() = req.method;
        *r.uri_mut() = target;
        *r.headers_mut() = req.headers;
        let headers = r.headers_mut();
        headers.entry(HOST).or_insert(host);
        headers.entry(USER_AGENT).or_insert(USER_AGENT_VALUE);
        let sent = checked.sender.send_request(r);
        let resp = match tokio::time::timeout(self.read_timeout, sent).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                let stale = checked.reused && is_stale(&e);
                return Err(transport(TransportError::Connect {
                    url: RedactedUrl(&req.url).to_string(),
                    reason: format!("request failed: {}", error_chain(&e)),
                    stale,
                    source: Box::new(e),
                }));
            }
            Err(_) => {
                return Err(transport(TransportError::Connect {
                    url: RedactedUrl(&req.url).to_string(),
                    reason: format!(
                        "no response within {:?} (sse_read_timeout)",
                        self.read_timeout
                    ),
                    stale: false,
                    source: "timed out".into(),
                }));
            }
        };
        let (parts, body) = resp.into_parts();
        let reuse = Some((Arc::clone(&self.pool), checked));
        Ok(AuthResponse::new(
            parts.status,
            parts.headers,
            req.url,
            Body::from_stream(body_stream(body, self.read_timeout, reuse)),
        ))
    }
}

fn connect_error(url: &Url, e: ConnectError) -> TransportError {
    TransportError::Connect {
        url: RedactedUrl(url).to_string(),
        reason: error_chain(&e),
        stale: false,
        source: Box::new(e),
    }
}

type Reuse = Option<(Arc<Pool>, Checked)>;

/// The response body as chunks; a silence longer than `read_timeout` ends
/// it with an error. Read to the end, the connection goes back to the pool.
fn body_stream(
    body: Incoming,
    read_timeout: Duration,
    reuse: Reuse,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send {
    futures_util::stream::unfold(Some((body, reuse)), move |state| async move {
        let (mut body, reuse) = state?;
        loop {
            match tokio::time::timeout(read_timeout, body.frame()).await {
                Ok(None) => {
                    if let Some((pool, checked)) = reuse {
                        pool.put_back(checked);
                    }
                    return None;
                }
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => return Some((Ok(data), Some((body, reuse)))),
                    _ => continue, // empty chunk or trailers
                },
                Ok(Some(Err(e))) => {
                    let e: BoxError = Box::new(TransportError::Protocol(format!(
                        "the connection broke while reading the response: {}",
                        error_chain(&e)
                    )));
                    return Some((Err(e), None));
                }
                Err(_) => {
                    let e: BoxError = Box::new(TransportError::Protocol(
                        "the server went silent on an open stream longer than sse_read_timeout"
                            .into(),
                    ));
                    return Some((Err(e), None));
                }
            }
        }
    })
}

/// The messages of an error and its sources, deduplicated, joined by ": ".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Whether a request failed because a reused connection was already closed
/// (the server never answered), as opposed to a refused connection or a
/// timeout.
fn is_stale(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(h) = e.downcast_ref::<hyper::Error>()
        && (h.is_incomplete_message() || h.is_canceled())
    {
        return true;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled())
        {
            return true;
        }
        src = s.source();
    }
    false
}

async fn reqwest_exchange(
    client: &reqwest::Client,
    req: AuthRequest,
) -> Result<AuthResponse, AuthError> {
    let url = req.url;
    let mut r = reqwest::Request::new(req.method, url.clone());
    *r.headers_mut() = req.headers;
    if !req.body.is_empty() {
        *r.body_mut() = Some(reqwest::Body::from(req.body));
    }
    let resp = client.execute(r).await.map_err(|e| {
        let timeout = e.is_timeout();
        let stale = !e.is_connect() && !timeout && is_stale(&e);
        let reason = match (timeout, std::error::Error::source(&e)) {
            (true, _) => "timed out".to_owned(),
            (false, Some(s)) => format!("request via proxy failed: {}", error_chain(s)),
            (false, None) => "request via proxy failed".to_owned(),
        };
        transport(TransportError::Connect {
            url: RedactedUrl(&url).to_string(),
            reason,
            stale,
            source: Box::new(e.without_url()),
        })
    })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let stream = resp.bytes_stream().map_err(|e| -> BoxError {
        Box::new(TransportError::Protocol(if e.is_timeout() {
            "the server went silent on an open stream longer than sse_read_timeout".into()
        } else {
            format!(
                "the connection broke while reading the response: {}",
                error_chain(&e)
            )
        }))
    });
    Ok(AuthResponse::new(
        status,
        headers,
        url,
        Body::from_stream(stream),
    ))
}
