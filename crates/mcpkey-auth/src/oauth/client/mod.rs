//! [`OAuth`]: the MCP authorization flow as an [`Auth`].
//!
//! It does nothing until a server answers 401 (or 403 `insufficient_scope`)
//! with a Bearer challenge. Then, under a single-flight lock that is never
//! held across the protected request: adopt a token another task or process
//! stored meanwhile; else refresh (under the store's cross-process lock);
//! else authorize from scratch (discovery → client identity → PKCE
//! authorization via the [`AuthorizationUi`] → token), and send the request
//! again. Step-up asks for the union of the scopes requested so far and the
//! challenged ones, at most `max_authorizations` times per request. A token
//! endpoint that fails transiently during a refresh is retried with backoff
//! (`refresh.rs`); the stored refresh token is kept.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::StatusCode;
use http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;
use url::Url;

use super::challenge::{BearerChallenge, Challenge, find_bearer};
use super::config::{EnterpriseManaged, Grant, OAuthConfig};
use super::crypto::{Pkce, random_token};
use super::discovery::{self, MetadataSource, ServerMetadata, check_url};
use super::http::OAuthHttp;
use super::registration::{ClientIdentity, identity};
use super::store::TokenStore;
use super::token::{self, ClientAuth, TokenFailure, choose_client_auth};
use super::types::{TokenRecord, TokenSet};
use super::ui::{AuthorizationPrompt, AuthorizationUi};
use crate::secret::{ExposeSecret, SecretString, sensitive_value};
use crate::{Auth, AuthError, AuthRequest, AuthResponse, Next};

mod grant;
mod redirect;
mod refresh;
#[cfg(test)]
mod tests;

use redirect::validate_redirect;
use refresh::RefreshLog;

/// The canonical URI of an MCP server (RFC 8707 §2): lowercase scheme and
/// host, port when not the default, path without a trailing slash, no query
/// or fragment. Tokens are stored under it.
pub fn canonical_resource(server: &Url) -> String {
    let mut s = format!(
        "{}://{}",
        server.scheme(),
        server.host_str().unwrap_or_default().to_ascii_lowercase()
    );
    if let Some(p) = server.port() {
        s.push_str(&format!(":{p}"));
    }
    s.push_str(server.path().trim_end_matches('/'));
    s
}

/// What is known about the current token and how to renew it.
#[derive(Clone)]
struct Current {
    record: TokenRecord,
    /// Filled once metadata and registration are known in this process.
    renew: Option<Renewal>,
}

#[derive(Clone)]
struct Renewal {
    token_endpoint: Url,
    client_auth: ClientAuth,
    issuer: String,
}

#[derive(Default)]
struct State {
    loaded: bool,
    current: Option<Current>,
    requested_scopes: BTreeSet<String>,
    /// Refresh attempts so far and how the last one ended.
    refreshes: RefreshLog,
}

/// OAuth 2.1 for one MCP server.
pub struct OAuth {
    server: Url,
    resource_key: String,
    config: OAuthConfig,
    http: Arc<dyn OAuthHttp>,
    store: Arc<dyn TokenStore>,
    ui: Option<Arc<dyn AuthorizationUi>>,
    server_name: String,
    state: std::sync::Mutex<State>,
    flight: tokio::sync::Mutex<()>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("server", &crate::RedactedUrl(&self.server))
            .field("grant", &self.config.grant)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// OAuth for the MCP server at `server`, storing tokens in `store`,
    /// talking to authorization servers through `http`.
    pub fn new(
        server: Url,
        config: OAuthConfig,
        http: Arc<dyn OAuthHttp>,
        store: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            resource_key: canonical_resource(&server),
            server,
            config,
            http,
            store,
            ui: None,
            server_name: String::new(),
            state: std::sync::Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// How users log in (browser, headless...). Without one, an
    /// authorization code login fails with a message to log in first.
    pub fn with_ui(mut self, ui: Arc<dyn AuthorizationUi>) -> Self {
        self.ui = Some(ui);
        self
    }

    /// The server's name, for messages.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = name.into();
        self
    }

    /// The key tokens are stored under.
    pub fn resource_key(&self) -> &str {
        &self.resource_key
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn allow_http(&self) -> bool {
        self.config.allow_http
    }

    async fn ensure_loaded(&self) -> Result<(), AuthError> {
        if self.state().loaded {
            return Ok(());
        }
        let records = self.store.tokens(&self.resource_key).await?;
        let mut st = self.state();
        if !st.loaded {
            st.loaded = true;
            st.current = records.into_iter().next().map(|record| Current {
                record,
                renew: None,
            });
        }
        Ok(())
    }

    fn current_tokens(&self) -> Option<TokenSet> {
        self.state()
            .current
            .as_ref()
            .map(|c| c.record.tokens.clone())
    }

    fn changed_since(&self, sent: &Option<TokenSet>) -> bool {
        match (sent, self.current_tokens()) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => !a.same_access_token(&b),
            _ => false,
        }
    }

    /// The token to send now, refreshed first if it is about to expire.
    /// `generation`: [`OAuth::refresh_generation`] when the request started.
    async fn usable_token(&self, generation: u64) -> Result<Option<TokenSet>, AuthError> {
        let (tokens, margin) = {
            let st = self.state();
            match st.current.as_ref() {
                Some(c) => {
                    // Refresh `refresh_margin` before expiry, but never earlier
                    // than a quarter of the token's lifetime before it (short-lived
                    // tokens would otherwise be refreshed on every request).
                    let lifetime = c
                        .record
                        .tokens
                        .expires_at
                        .map(|e| e.saturating_sub(c.record.updated_at))
                        .unwrap_or(u64::MAX);
                    (
                        Some(c.record.tokens.clone()),
                        self.config.refresh_margin.min(lifetime / 4),
                    )
                }
                None => (None, 0),
            }
        };
        if let Some(t) = &tokens
            && t.refresh_token.is_some()
            && t.expires_within(margin)
        {
            let _flight = self.flight.lock().await;
            // While the token still works, one attempt; once it expired, the
            // token endpoint gets its retries.
            let patient = t.expires_within(0);
            if !self.changed_since(&tokens)
                && let Err(e) = self.refresh_once(t, generation, patient).await
            {
                tracing::debug!(error = %e, "proactive refresh failed; trying the current token");
            }
            return Ok(self.current_tokens());
        }
        Ok(tokens)
    }

    /// Token endpoint and client authentication for a stored record.
    async fn renewal_for(&self, record: &TokenRecord) -> Result<Renewal, AuthError> {
        let meta = match &self.config.metadata {
            Some(m) => m.clone(),
            None => {
                discovery::server_metadata(self.http.as_ref(), &record.issuer, self.allow_http())
                    .await?
            }
        };
        let token_endpoint = self.token_endpoint(&meta)?;
        let (secret, method) =
            if self.config.client_id.as_deref() == Some(record.client_id.as_str()) {
                (self.config.client_secret.clone(), None)
            } else {
                match self.store.registration(&record.issuer).await? {
                    Some(r) if r.client_id == record.client_id => {
                        (r.client_secret, r.token_endpoint_auth_method)
                    }
                    _ => (None, None),
                }
            };
        let client_auth = match &self.config.private_key {
            Some((key, alg))
                if self.config.client_id.as_deref() == Some(record.client_id.as_str()) =>
            {
                ClientAuth::PrivateKeyJwt {
                    key: key.clone(),
                    alg: *alg,
                }
            }
            _ => choose_client_auth(
                secret.as_ref(),
                method.as_deref(),
                meta.token_endpoint_auth_methods_supported.as_deref(),
            ),
        };
        Ok(Renewal {
            token_endpoint,
            client_auth,
            issuer: meta.issuer.clone(),
        })
    }

    fn token_endpoint(&self, meta: &ServerMetadata) -> Result<Url, AuthError> {
        let raw = meta.token_endpoint.as_deref().ok_or_else(|| {
            AuthError::prepare(
                "oauth",
                "the authorization server metadata has no token_endpoint",
            )
        })?;
        check_url("token endpoint", raw, self.allow_http())
    }
}

#[async_trait]
impl Auth for OAuth {
    fn scheme(&self) -> &str {
        "oauth"
    }

    fn is_lazy(&self) -> bool {
        true
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        self.ensure_loaded().await?;
        if let Some(t) = self.usable_token(self.refresh_generation()).await? {
            req.headers.insert(
                AUTHORIZATION,
                sensitive_value(
                    &AUTHORIZATION,
                    &format!("Bearer {}", t.access_token.expose_secret()),
                )?,
            );
        }
        Ok(())
    }

    async fn send(&self, req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
        self.ensure_loaded().await?;
        let mut authorizations = 0u32;
        let mut refreshed = false;
        loop {
            // A refresh that fails during this round (proactively, or for a
            // task ahead of us) is not tried again for the same 401.
            let generation = self.refresh_generation();
            let sent = self.usable_token(generation).await?;
            let mut attempt = req.clone();
            if let Some(t) = &sent {
                attempt.headers.insert(
                    AUTHORIZATION,
                    sensitive_value(
                        &AUTHORIZATION,
                        &format!("Bearer {}", t.access_token.expose_secret()),
                    )?,
                );
            }
            let resp = next.send(attempt).await?;
            let status = resp.status;
            if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
                return Ok(resp);
            }
            let challenge = match find_bearer(resp.www_authenticate()) {
                Challenge::Bearer(c) => c,
                // The server wants another scheme: not ours to answer.
                Challenge::OtherScheme => return Ok(resp),
                Challenge::Absent if status == StatusCode::UNAUTHORIZED => {
                    BearerChallenge::default()
                }
                Challenge::Absent => return Ok(resp),
            };
            if status == StatusCode::FORBIDDEN && !challenge.insufficient_scope() {
                return Ok(resp);
            }
            resp.discard().await;
            let _flight = self.flight.lock().await;
            if self.changed_since(&sent) {
                // Another task renewed the token while we waited.
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && !refreshed
                && let Some(t) = &sent
            {
                refreshed = true;
                if self.refresh_once(t, generation, true).await? {
                    continue;
                }
            }
            if authorizations >= self.config.max_authorizations {
                return Err(AuthError::Rejected {
                    scheme: "oauth".into(),
                    reason: format!(
                        "the server still refuses after {authorizations} authorizations{}",
                        challenge
                            .scope
                            .as_deref()
                            .map(|s| format!(" (it asks for scope \"{s}\")"))
                            .unwrap_or_default()
                    ),
                });
            }
            authorizations += 1;
            self.obtain(Some(&challenge)).await?;
        }
    }
}
