//! The user-agent step of the authorization code flow: send the user to the
//! authorization URL and bring back the redirect.

use std::fmt;

use async_trait::async_trait;
use url::Url;

use crate::AuthError;

/// One authorization to perform.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuthorizationPrompt<'a> {
    /// The authorization endpoint URL with every parameter.
    pub url: &'a Url,
    /// The `state` the redirect must carry; implementations that receive
    /// several callbacks wait for the one that carries it (compare in
    /// constant time). The flow checks it again.
    pub state: &'a str,
    /// The redirect URI sent in the request.
    pub redirect_uri: &'a str,
    /// The server the login is for (for messages).
    pub server: &'a str,
}

/// Takes the user to the authorization server and returns the redirect URL
/// it sent back (with `code`, `state` and perhaps `iss`, or `error`).
///
/// mcpkey ships a browser + loopback listener (with a paste fallback) and a
/// headless "follow the redirect without a browser" implementation used by
/// the conformance suite.
#[async_trait]
pub trait AuthorizationUi: Send + Sync + fmt::Debug {
    /// The redirect URI this UI receives callbacks on. It must stay the same
    /// across runs so a registered client stays valid.
    fn redirect_uri(&self) -> String;

    /// Performs the authorization; returns the full redirect URL.
    async fn authorize(&self, prompt: AuthorizationPrompt<'_>) -> Result<Url, AuthError>;
}

/// Follows the authorization URL without a browser: GETs it with redirects
/// disabled and returns the `Location` the authorization server answers.
///
/// This is what the conformance suite's authorization servers (which approve
/// at once) need, and what unattended tests use. A real authorization server
/// shows a login page instead, so this UI fails there with a message saying
/// so.
#[derive(Debug)]
pub struct FollowRedirectUi {
    http: std::sync::Arc<dyn super::OAuthHttp>,
    redirect_uri: String,
}

impl FollowRedirectUi {
    /// Uses `http` (which must not follow redirects) and reports
    /// `redirect_uri` as the callback.
    pub fn new(
        http: std::sync::Arc<dyn super::OAuthHttp>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            http,
            redirect_uri: redirect_uri.into(),
        }
    }
}

#[async_trait]
impl AuthorizationUi for FollowRedirectUi {
    fn redirect_uri(&self) -> String {
        self.redirect_uri.clone()
    }

    async fn authorize(&self, prompt: AuthorizationPrompt<'_>) -> Result<Url, AuthError> {
        let req = http::Request::builder()
            .method(http::Method::GET)
            .uri(prompt.url.as_str())
            .body(bytes::Bytes::new())
            .map_err(|_| AuthError::prepare("oauth", "cannot build the authorization request"))?;
        let resp = self.http.send(req).await?;
        let location = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|_| resp.status().is_redirection())
            .ok_or_else(|| {
                AuthError::prepare(
                    "oauth",
                    format!(
                        "the authorization server answered HTTP {} instead of redirecting back; it needs an interactive login",
                        resp.status().as_u16()
                    ),
                )
            })?;
        prompt
            .url
            .join(location)
            .map_err(|_| AuthError::prepare("oauth", "the authorization redirect is not a URL"))
    }
}
