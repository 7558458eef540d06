//! The HTTP client OAuth uses for discovery, registration and tokens: its
//! own, separate from the MCP transport, following no redirects and with a
//! cap on response size (OAuth 2.1 §7 and the MCP security practices).

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

use crate::AuthError;

/// Largest OAuth response body read (1 MiB).
pub const MAX_OAUTH_BODY: usize = 1024 * 1024;

/// Sends OAuth requests. Implementations must not follow redirects and must
/// fail on bodies larger than [`MAX_OAUTH_BODY`].
#[async_trait]
pub trait OAuthHttp: Send + Sync + fmt::Debug {
    /// Sends one request and returns the whole response.
    async fn send(&self, req: Request<Bytes>) -> Result<Response<Bytes>, AuthError>;
}
