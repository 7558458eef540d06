//! `HttpCore`: one pooled HTTP client per server, the server's static
//! headers, and its [`Authenticator`]. Every HTTP request of every HTTP
//! transport is sent by `HttpCore::send`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use mcpkey_auth::{
    AuthError, AuthRequest, AuthResponse, Authenticator, Body, BoxError, RedactedUrl, RequestKind,
};
use url::Url;

use super::wire::{Wire, WireSettings};
use crate::transport::TransportError;
use crate::transport::jsonrpc::{Incoming, RpcError, parse_incoming};

/// Largest error body read for a message (64 KiB).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Settings of one server's HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct HttpSettings {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
}

/// The per-server HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct HttpCore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    wire: Wire,
    auth: Authenticator,
    static_headers: Vec<(HeaderName, HeaderValue)>,
    settings: HttpSettings,
}

impl HttpCore {
    pub(crate) fn new(
        url: &Url,
        auth: Authenticator,
        static_headers: Vec<(HeaderName, HeaderValue)>,
        settings: HttpSettings,
    ) -> Result<Self, TransportError> {
        let static_authorization = static_headers
            .iter()
            .find(|(k, _)| k == http::header::AUTHORIZATION)
            .map(|(_, v)| v.clone())
            .filter(|_| auth.scheme().is_some());
        let wire = Wire::new(
            url,
            &WireSettings {
                connect_timeout: settings.connect_timeout,
                read_timeout: settings.read_timeout,
                max_header_bytes: settings.max_header_bytes,
            },
            static_authorization,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                wire,
                auth,
                static_headers,
                settings,
            }),
        })
    }

    pub(crate) fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The configured auth scheme's name, for messages.
    pub(crate) fn scheme(&self) -> Option<&str> {
        self.inner.auth.scheme()
    }

    /// Sends one request through the auth seam. The status is not checked.
    pub(crate) async fn send(
        &self,
        kind: RequestKind,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<AuthResponse, TransportError> {
        let mut req = AuthRequest::new(method, url.clone(), kind);
        req.headers
            .reserve(self.inner.static_headers.len() + headers.len());
        for (k, v) in &self.inner.static_headers {
            req.headers.insert(k.clone(), v.clone());
        }
        for (k, v) in headers {
            if let Some(k) = k {
                req.headers.insert(k, v);
            }
        }
        req.body = body;
        tracing::trace!(request = ?req, "sending");
        let mut retried = false;
        loop {
            match self.inner.auth.send(req.clone(), &self.inner.wire).await {
                Ok(resp) => {
                    tracing::trace!(status = resp.status.as_u16(), url = %RedactedUrl(&resp.url), "response");
                    return Ok(resp);
                }
                Err(AuthError::Transport(e)) => match unbox_transport(e) {
                    TransportError::Connect { stale: true, .. } if !retried => {
                        // A keep-alive connection the server had already
                        // closed (idle timeout, restart): nothing was
                        // answered, so send again on a fresh connection.
                        tracing::debug!(
                            "pooled connection was closed by the server; retrying on a new one"
                        );
                        retried = true;
                    }
                    other => return Err(other),
                },
                Err(e) => return Err(TransportError::Auth(e)),
            }
        }
    }

    /// Turns a response we cannot use into an error, reading a bounded part
    /// of its body for the message.
    pub(crate) async fn status_error(&self, method: &Method, resp: AuthResponse) -> TransportError {
        let status = resp.status;
        let url = RedactedUrl(&resp.url).to_string();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let what = describe_challenge(&resp, self.scheme());
            resp.discard().await;
            return TransportError::AuthRequired {
                url,
                status: status.as_u16(),
                what,
            };
        }
        let is_json = content_type_is(&resp.headers, "application/json");
        let body = resp.bytes(MAX_ERROR_BODY).await.unwrap_or_default();
        let rpc_error = if is_json || body.first() == Some(&b'{') {
            rpc_error_in(&body).map(Box::new)
        } else {
            None
        };
        let detail = match &rpc_error {
            Some(e) => e.to_string(),
            None => text_snippet(&body),
        };
        TransportError::HttpStatus {
            method: method.to_string(),
            url,
            status: status.as_u16(),
            detail,
            rpc_error,
        }
    }

    /// Reads a whole body within the message limit.
    pub(crate) async fn read_body(&self, body: Body) -> Result<Bytes, TransportError> {
        body.read_to_bytes(self.inner.settings.max_message_bytes)
            .await
            .map_err(|e| match e {
                AuthError::BodyTooLarge { limit } => TransportError::BodyTooLarge { limit },
                AuthError::Body(source) => unbox_transport(source),
                other => TransportError::Auth(other),
            })
    }
}

/// The JSON-RPC error carried by an HTTP error body, if any.
pub(crate) fn rpc_error_in(body: &[u8]) -> Option<RpcError> {
    match parse_incoming(body).ok()?.into_iter().next()? {
        Incoming::Response { result: Err(e), .. } => Some(e),
        _ => None,
    }
}

fn text_snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(300)
        .collect();
    s.trim().to_owned()
}

fn describe_challenge(resp: &AuthResponse, configured: Option<&str>) -> String {
    let schemes: Vec<String> = resp
        .www_authenticate()
        .filter_map(|v| v.split_whitespace().next())
        .map(|s| s.trim_end_matches(',').to_owned())
        .collect();
    let asked = if schemes.is_empty() {
        String::from("the server did not say which scheme it wants")
    } else {
        format!("the server asks for {}", schemes.join(", "))
    };
    let is_403 = resp.status == StatusCode::FORBIDDEN;
    match (configured, is_403) {
        (Some(s), true) => format!("{asked}; the configured {s} credentials lack permission"),
        (Some(s), false) => format!("{asked}; the configured {s} credentials were rejected"),
        (None, _) => {
            format!("{asked}; no auth is configured for this server (set \"auth\" or \"headers\")")
        }
    }
}

/// Whether the response's media type is `ty` (parameters ignored).
pub(crate) fn content_type_is(headers: &HeaderMap, ty: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(ty))
}

fn unbox_transport(e: BoxError) -> TransportError {
    match e.downcast::<TransportError>() {
        Ok(t) => *t,
        Err(other) => TransportError::Protocol(format!("HTTP error: {other}")),
    }
}
