//! OAuth accounts of a client's servers: log in, log out, status. Tokens are
//! read from the token store; their values are never returned.

use bytes::Bytes;
use mcpkey_auth::oauth::{BearerChallenge, Challenge, canonical_resource, find_bearer, now_unix};
use serde::Serialize;
use url::Url;

use super::Client;
use crate::config::{AuthSetting, Target};
use crate::error::{Error, ErrorKind};
use crate::transport::TransportError;

/// The OAuth state of one server, without any token.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AccountStatus {
    /// Server name.
    pub server: String,
    /// The resource tokens are stored under.
    pub resource: String,
    /// Whether tokens are stored.
    pub logged_in: bool,
    /// The issuing authorization server.
    pub issuer: Option<String>,
    /// Granted scopes.
    pub scope: Option<String>,
    /// Expiry (unix seconds), if known.
    pub expires_at: Option<u64>,
    /// Whether the access token has expired.
    pub expired: bool,
    /// Whether a refresh token is stored (its value is not shown).
    pub refreshable: bool,
}

/// What `login` found.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Tokens were obtained and stored.
    LoggedIn(AccountStatus),
    /// The server answered without asking for authentication.
    NotRequired,
}

impl Client {
    fn http_server(
        &self,
        name: &str,
    ) -> Result<(Url, Option<crate::config::OAuthSettings>, usize), Error> {
        let (cfg, _) = self.server_config(name)?;
        let url = match cfg.target() {
            Target::Http { url, .. } => url.clone(),
            Target::Stdio(_) => {
                return Err(Error::new(
                    name,
                    "login",
                    ErrorKind::Protocol(
                        "stdio servers take credentials from their environment, not OAuth".into(),
                    ),
                ));
            }
        };
        let settings = match &cfg.auth {
            AuthSetting::OAuth(s) => Some(s.as_ref().clone()),
            AuthSetting::Unset => None,
            _ => {
                return Err(Error::new(
                    name,
                    "login",
                    ErrorKind::Protocol(
                        "this server has another \"auth\" configured; OAuth login does not apply"
                            .into(),
                    ),
                ));
            }
        };
        Ok((url, settings, cfg.limits.max_metadata_bytes))
    }

    /// Logs in to `name` now: asks the server for its challenge, then runs
    /// the OAuth authorization (with the client's login UI) and stores the
    /// tokens.
    pub async fn login(&self, name: &str) -> Result<LoginOutcome, Error> {
        let (url, settings, max_body) = self.http_server(name)?;
        let env = &self.inner.opts.oauth;
        let fail = |e: mcpkey_auth::AuthError| {
            Error::new(name, "login", ErrorKind::Transport(TransportError::Auth(e)))
        };
        let challenge = match self.probe(&url, max_body).await.map_err(fail)? {
            Some(c) => c,
            None => return Ok(LoginOutcome::NotRequired),
        };
        let oauth = env
            .oauth(name, &url, settings.as_ref(), max_body)
            .map_err(fail)?;
        oauth.login(Some(&challenge)).await.map_err(fail)?;
        let status = self.account_status(name).await?;
        Ok(LoginOutcome::LoggedIn(status))
    }

    /// An unauthenticated request to learn the server's Bearer challenge;
    /// `None` if it does not ask for authentication.
    async fn probe(
        &self,
        url: &Url,
        max_body: usize,
    ) -> Result<Option<BearerChallenge>, mcpkey_auth::AuthError> {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "server/discover",
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": self.inner.opts.client_info,
                "io.modelcontextprotocol/clientCapabilities": {}
            }}
        });
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "server/discover")
            .body(Bytes::from(body.to_string()))
            .map_err(|_| {
                mcpkey_auth::AuthError::prepare("oauth", "cannot build the probe request")
            })?;
        let resp = self.inner.opts.oauth.http(max_body)?.send(req).await?;
        if resp.status() != http::StatusCode::UNAUTHORIZED
            && resp.status() != http::StatusCode::FORBIDDEN
        {
            return Ok(None);
        }
        let values = resp.headers().get_all(http::header::WWW_AUTHENTICATE);
        Ok(
            match find_bearer(values.iter().filter_map(|v| v.to_str().ok())) {
                Challenge::Bearer(c) => Some(c),
                Challenge::Absent => Some(BearerChallenge::default()),
                Challenge::OtherScheme => {
                    return Err(mcpkey_auth::AuthError::Rejected {
                        scheme: "oauth".into(),
                        reason:
                            "the server asks for a non-OAuth scheme; configure its \"auth\" instead"
                                .into(),
                    });
                }
            },
        )
    }

    /// Forgets the stored tokens of `name`; false if there were none.
    pub async fn logout(&self, name: &str) -> Result<bool, Error> {
        let (url, _, _) = self.http_server(name)?;
        let key = canonical_resource(&url);
        let store = &self.inner.opts.oauth.store;
        let fail = |e: mcpkey_auth::AuthError| {
            Error::new(
                name,
                "logout",
                ErrorKind::Transport(TransportError::Auth(e)),
            )
        };
        let had = !store.tokens(&key).await.map_err(fail)?.is_empty();
        store.remove_tokens(&key).await.map_err(fail)?;
        Ok(had)
    }

    /// The OAuth state of `name` (never a token).
    pub async fn account_status(&self, name: &str) -> Result<AccountStatus, Error> {
        let (cfg, _) = self.server_config(name)?;
        let Target::Http { url, .. } = cfg.target() else {
            return Err(Error::new(
                name,
                "auth status",
                ErrorKind::Protocol("a stdio server has no OAuth account".into()),
            ));
        };
        let key = canonical_resource(url);
        let records = self
            .inner
            .opts
            .oauth
            .store
            .tokens(&key)
            .await
            .map_err(|e| {
                Error::new(
                    name,
                    "auth status",
                    ErrorKind::Transport(TransportError::Auth(e)),
                )
            })?;
        let first = records.into_iter().next();
        let now = now_unix();
        Ok(AccountStatus {
            server: name.to_owned(),
            resource: key,
            logged_in: first.is_some(),
            issuer: first.as_ref().map(|r| r.issuer.clone()),
            scope: first.as_ref().and_then(|r| r.tokens.scope.clone()),
            expires_at: first.as_ref().and_then(|r| r.tokens.expires_at),
            expired: first
                .as_ref()
                .and_then(|r| r.tokens.expires_at)
                .is_some_and(|t| t <= now),
            refreshable: first
                .as_ref()
                .is_some_and(|r| r.tokens.refresh_token.is_some()),
        })
    }
}
