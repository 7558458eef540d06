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
