//! The HTTP client OAuth uses (discovery, registration, token requests):
//! separate from the MCP transport's, following no redirects, with a
//! timeout and a cap on response size.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use mcpkey_auth::oauth::{MAX_OAUTH_BODY, OAuthHttp};
use mcpkey_auth::{AuthError, RedactedUrl};

/// reqwest with redirects off, a 30 s timeout and a body cap (1 MiB unless
/// [`with_max_body`](Self::with_max_body) says otherwise).
#[derive(Debug, Clone)]
pub struct ReqwestOAuthHttp {
    client: reqwest::Client,
    max_body: usize,
}

impl ReqwestOAuthHttp {
    /// A new client.
    pub fn new() -> Result<Self, AuthError> {
        let tls = super::tls::client_config()
            .map_err(|e| AuthError::prepare("oauth", format!("cannot set up TLS: {e}")))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mcpkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                AuthError::prepare("oauth", format!("cannot build the OAuth HTTP client: {e}"))
            })?;
        Ok(Self {
            client,
            max_body: MAX_OAUTH_BODY,
        })
    }

    /// The same client (sharing its connections) with another body cap.
    pub fn with_max_body(&self, max_body: usize) -> Self {
        Self {
            client: self.client.clone(),
            max_body,
        }
    }
}

#[async_trait]
impl OAuthHttp for ReqwestOAuthHttp {
    async fn send(&self, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, AuthError> {
        let (parts, body) = req.into_parts();
        let url = url::Url::parse(&parts.uri.to_string())
            .map_err(|_| AuthError::prepare("oauth", "invalid OAuth request URL"))?;
        let shown = RedactedUrl(&url).to_string();
        let mut r = reqwest::Request::new(parts.method, url);
        *r.headers_mut() = parts.headers;
        if !body.is_empty() {
            *r.body_mut() = Some(reqwest::Body::from(body));
        }
        tracing::debug!(url = %shown, "OAuth request");
        let resp = self.client.execute(r).await.map_err(|e| {
            AuthError::prepare(
                "oauth",
                format!("could not reach {shown}: {}", e.without_url()),
            )
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut stream = resp.bytes_stream();
        let mut buf = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                AuthError::prepare(
                    "oauth",
                    format!("reading {shown} failed: {}", e.without_url()),
                )
            })?;
            if buf.len() + chunk.len() > self.max_body {
                return Err(AuthError::prepare(
                    "oauth",
                    format!(
                        "{shown} sent more than {} bytes; raise the server's limits.max_metadata_bytes if this is expected",
                        self.max_body
                    ),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(buf.freeze());
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}
