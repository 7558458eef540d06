//! [`OAuth`]: the MCP authorization flow as an [`Auth`].
//!
//! It does nothing until a server answers 401 (or 403 `insufficient_scope`)
//! with a Bearer challenge. Then, under a single-flight lock that is never
//! held across the protected request: adopt a token another task or process
//! stored meanwhile; else refresh (under the store's cross-process lock);
//! else authorize from scratch (discovery → client identity → PKCE
//! authorization via the [`AuthorizationUi`] → token), and send the request
//! again. Step-up asks for the union of the scopes requested so far and the
//! challenged ones, at most `max_authorizations` times per request.

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
    async fn usable_token(&self) -> Result<Option<TokenSet>, AuthError> {
        let tokens = self.current_tokens();
        if let Some(t) = &tokens
            && t.refresh_token.is_some()
            && t.expires_within(self.config.refresh_margin)
        {
            let _flight = self.flight.lock().await;
            if !self.changed_since(&tokens)
                && let Err(e) = self.refresh_locked(t).await
            {
                tracing::debug!(error = %e, "proactive refresh failed; trying the current token");
            }
            return Ok(self.current_tokens());
        }
        Ok(tokens)
    }

    /// Refreshes under the store's lock. Adopts a token another process
    /// stored meanwhile. `Ok(false)`: no refresh was possible.
    async fn refresh_locked(&self, seen: &TokenSet) -> Result<bool, AuthError> {
        let _lock = self.store.lock(&self.resource_key).await?;
        let current = self.state().current.clone();
        let Some(current) = current else {
            return Ok(false);
        };
        // Someone else may have refreshed: re-read the store.
        let stored = self.store.tokens(&self.resource_key).await?;
        if let Some(newer) = stored
            .into_iter()
            .find(|r| r.issuer == current.record.issuer && r.client_id == current.record.client_id)
            && !newer.tokens.same_access_token(seen)
        {
            tracing::debug!("another process already refreshed the token");
            self.state().current = Some(Current {
                record: newer,
                renew: current.renew,
            });
            return Ok(true);
        }
        let Some(refresh_token) = current.record.tokens.refresh_token.clone() else {
            return Ok(false);
        };
        let renew = match current.renew.clone() {
            Some(r) => r,
            None => match self.renewal_for(&current.record).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "cannot prepare a refresh");
                    return Ok(false);
                }
            },
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        let resource = current.record.resource_indicator.clone();
        if let Some(r) = &resource {
            params.push(("resource", r));
        }
        match token::request(
            self.http.as_ref(),
            &renew.token_endpoint,
            &current.record.client_id,
            &renew.client_auth,
            &renew.issuer,
            &params,
        )
        .await
        {
            Ok(mut tokens) => {
                // A server that does not rotate keeps the old refresh token valid.
                if tokens.refresh_token.is_none() {
                    tokens.refresh_token = Some(refresh_token);
                }
                let mut record =
                    TokenRecord::new(&current.record.issuer, &current.record.client_id, tokens);
                record.resource_indicator = resource;
                self.store
                    .put_tokens(&self.resource_key, record.clone())
                    .await?;
                self.state().current = Some(Current {
                    record,
                    renew: Some(renew),
                });
                tracing::debug!("token refreshed");
                Ok(true)
            }
            Err(TokenFailure::Refused { error, .. }) => {
                tracing::info!(%error, "the refresh token was refused; a new authorization is needed");
                Ok(false)
            }
            Err(TokenFailure::Transient(e)) => Err(e),
        }
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

    /// The scopes for a new authorization: configured ones; else the union
    /// of those requested before and the challenge's (step-up); else the
    /// resource's `scopes_supported`; plus `offline_access` when the server
    /// offers it and a refresh token can be used.
    fn scopes(
        &self,
        challenge: Option<&BearerChallenge>,
        prm_scopes: Option<&[String]>,
        meta: &ServerMetadata,
    ) -> Option<String> {
        if let Some(s) = &self.config.scope {
            return Some(s.clone());
        }
        let mut st = self.state();
        let challenged: Vec<String> = challenge
            .and_then(|c| c.scope.as_deref())
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if !challenged.is_empty() {
            st.requested_scopes.extend(challenged);
        } else if st.requested_scopes.is_empty()
            && let Some(p) = prm_scopes
        {
            st.requested_scopes.extend(p.iter().cloned());
        }
        let mut scopes: Vec<String> = st.requested_scopes.iter().cloned().collect();
        let offline = matches!(self.config.grant, Grant::AuthorizationCode)
            && meta
                .scopes_supported
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == "offline_access"));
        if offline && !scopes.iter().any(|s| s == "offline_access") {
            scopes.push("offline_access".into());
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    /// Obtains new tokens from scratch (discovery, identity, grant).
    async fn obtain(&self, challenge: Option<&BearerChallenge>) -> Result<(), AuthError> {
        let allow_http = self.allow_http();
        let prm = if self.config.metadata.is_some() {
            None
        } else {
            discovery::resource_metadata(self.http.as_ref(), &self.server, challenge, allow_http)
                .await?
        };
        let resource = prm
            .as_ref()
            .map(|p| p.resource.clone())
            .unwrap_or_else(|| canonical_resource(&self.server));
        let (meta, source) = if let Some(m) = &self.config.metadata {
            (m.clone(), MetadataSource::Configured)
        } else if let Some(prm) = &prm {
            let issuer = prm.authorization_servers.first().ok_or_else(|| {
                AuthError::prepare(
                    "oauth",
                    "the protected resource metadata lists no authorization server",
                )
            })?;
            (
                discovery::server_metadata(self.http.as_ref(), issuer, allow_http).await?,
                MetadataSource::Discovered,
            )
        } else {
            discovery::legacy_server_metadata(self.http.as_ref(), &self.server, allow_http).await?
        };
        let scope = self.scopes(
            challenge,
            prm.as_ref().and_then(|p| p.scopes_supported.as_deref()),
            &meta,
        );
        let token_endpoint = self.token_endpoint(&meta)?;

        let (client_id, client_auth, tokens) = match self.config.grant.clone() {
            Grant::ClientCredentials => {
                let client_id = self.config.client_id.clone().ok_or_else(|| {
                    AuthError::prepare(
                        "oauth",
                        "client_credentials needs a pre-registered \"client_id\"",
                    )
                })?;
                let client_auth = match &self.config.private_key {
                    Some((key, alg)) => ClientAuth::PrivateKeyJwt {
                        key: key.clone(),
                        alg: *alg,
                    },
                    None => choose_client_auth(
                        self.config.client_secret.as_ref(),
                        None,
                        meta.token_endpoint_auth_methods_supported.as_deref(),
                    ),
                };
                let mut params = vec![
                    ("grant_type", "client_credentials"),
                    ("resource", resource.as_str()),
                ];
                if let Some(s) = &scope {
                    params.push(("scope", s));
                }
                let tokens = token::request(
                    self.http.as_ref(),
                    &token_endpoint,
                    &client_id,
                    &client_auth,
                    &meta.issuer,
                    &params,
                )
                .await
                .map_err(|e| e.into_error("client_credentials grant"))?;
                (client_id, client_auth, tokens)
            }
            Grant::EnterpriseManaged(em) => {
                let client_id = self.config.client_id.clone().ok_or_else(|| {
                    AuthError::prepare(
                        "oauth",
                        "enterprise-managed authorization needs a pre-registered \"client_id\"",
                    )
                })?;
                let client_auth = choose_client_auth(
                    self.config.client_secret.as_ref(),
                    None,
                    meta.token_endpoint_auth_methods_supported.as_deref(),
                );
                let id_jag = self
                    .exchange_id_token(&em, &meta.issuer, &resource, scope.as_deref())
                    .await?;
                let mut params = vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", id_jag.expose_secret()),
                ];
                if let Some(s) = &scope {
                    params.push(("scope", s));
                }
                let tokens = token::request(
                    self.http.as_ref(),
                    &token_endpoint,
                    &client_id,
                    &client_auth,
                    &meta.issuer,
                    &params,
                )
                .await
                .map_err(|e| e.into_error("JWT bearer grant"))?;
                (client_id, client_auth, tokens)
            }
            Grant::AuthorizationCode => {
                self.authorization_code(&meta, source, &resource, scope.as_deref(), &token_endpoint)
                    .await?
            }
        };
        let mut record = TokenRecord::new(&meta.issuer, &client_id, tokens);
        record.resource_indicator = Some(resource);
        self.store
            .put_tokens(&self.resource_key, record.clone())
            .await?;
        self.state().current = Some(Current {
            record,
            renew: Some(Renewal {
                token_endpoint,
                client_auth,
                issuer: meta.issuer.clone(),
            }),
        });
        Ok(())
    }

    async fn authorization_code(
        &self,
        meta: &ServerMetadata,
        source: MetadataSource,
        resource: &str,
        scope: Option<&str>,
        token_endpoint: &Url,
    ) -> Result<(String, ClientAuth, TokenSet), AuthError> {
        let Some(ui) = &self.ui else {
            let name = if self.server_name.is_empty() {
                "<server>"
            } else {
                &self.server_name
            };
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: if source == MetadataSource::LegacyEndpoints {
                    format!(
                        "the server requires a token but publishes no OAuth metadata; set its \"auth\" in the config, \
                         or try an OAuth login (mcpkey login {name})"
                    )
                } else {
                    format!(
                        "this server needs an OAuth login at {}; log in first (mcpkey login {name}), \
                         or set its \"auth\" in the config",
                        meta.issuer
                    )
                },
            });
        };
        let pkce_ok = meta
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"));
        if !pkce_ok && source != MetadataSource::LegacyEndpoints {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the authorization server {} does not advertise PKCE with S256 (code_challenge_methods_supported); refusing to authorize",
                    meta.issuer
                ),
            });
        }
        let authorization_endpoint = meta.authorization_endpoint.as_deref().ok_or_else(|| {
            AuthError::prepare(
                "oauth",
                "the authorization server metadata has no authorization_endpoint",
            )
        })?;
        let mut url = check_url(
            "authorization endpoint",
            authorization_endpoint,
            self.allow_http(),
        )?;
        let redirect_uri = ui.redirect_uri();
        let config_identity = ClientIdentity {
            client_id: self.config.client_id.clone(),
            client_secret: self.config.client_secret.clone(),
            client_metadata_url: self.config.client_metadata_url.clone(),
            client_name: self.config.client_name.clone(),
        };
        let (registration, _) = identity(
            self.http.as_ref(),
            self.store.as_ref(),
            meta,
            &config_identity,
            &redirect_uri,
            scope,
            true,
            self.allow_http(),
        )
        .await?;
        let pkce = Pkce::new()?;
        let state = random_token(32)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &registration.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", &state)
                .append_pair("resource", resource);
            if let Some(s) = scope {
                q.append_pair("scope", s);
            }
        }
        let redirect = ui
            .authorize(AuthorizationPrompt {
                url: &url,
                state: &state,
                redirect_uri: &redirect_uri,
                server: &self.server_name,
            })
            .await?;
        let code = validate_redirect(&redirect, &state, meta)?;
        let client_auth = choose_client_auth(
            registration.client_secret.as_ref(),
            registration.token_endpoint_auth_method.as_deref(),
            meta.token_endpoint_auth_methods_supported.as_deref(),
        );
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", pkce.verifier.expose_secret()),
            ("resource", resource),
        ];
        let tokens = token::request(
            self.http.as_ref(),
            token_endpoint,
            &registration.client_id,
            &client_auth,
            &meta.issuer,
            &params,
        )
        .await
        .map_err(|e| e.into_error("authorization code"))?;
        Ok((registration.client_id, client_auth, tokens))
    }

    /// RFC 8693 token exchange at the identity provider: ID token → ID-JAG.
    async fn exchange_id_token(
        &self,
        em: &EnterpriseManaged,
        audience: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<SecretString, AuthError> {
        let url = check_url(
            "identity provider token endpoint",
            &em.idp_token_endpoint,
            self.allow_http(),
        )?;
        let body = exchange_form(em, audience, resource, scope);
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::from(body.expose_secret().to_owned()))
            .map_err(|_| AuthError::prepare("oauth", "cannot build the token exchange request"))?;
        let resp = self.http.send(req).await?;
        if !resp.status().is_success() {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the identity provider refused the token exchange (HTTP {})",
                    resp.status().as_u16()
                ),
            });
        }
        let v: serde_json::Value = serde_json::from_slice(resp.body()).map_err(|_| {
            AuthError::prepare("oauth", "the identity provider's answer is not JSON")
        })?;
        v.get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| AuthError::prepare("oauth", "the identity provider returned no ID-JAG"))
    }

    /// Runs the login now (the CLI's `mcpkey login`): forgets the current
    /// token and authorizes from scratch.
    pub async fn login(&self, challenge: Option<&BearerChallenge>) -> Result<(), AuthError> {
        let _flight = self.flight.lock().await;
        self.obtain(challenge).await
    }
}

/// The RFC 8693 token exchange form body.
fn exchange_form(
    em: &EnterpriseManaged,
    audience: &str,
    resource: &str,
    scope: Option<&str>,
) -> SecretString {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair(
        "grant_type",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    )
    .append_pair(
        "requested_token_type",
        "urn:ietf:params:oauth:token-type:id-jag",
    )
    .append_pair("subject_token", em.id_token.expose_secret())
    .append_pair(
        "subject_token_type",
        "urn:ietf:params:oauth:token-type:id_token",
    )
    .append_pair("audience", audience)
    .append_pair("resource", resource);
    if let Some(s) = scope {
        form.append_pair("scope", s);
    }
    if let Some(id) = &em.idp_client_id {
        form.append_pair("client_id", id);
    }
    if let Some(secret) = &em.idp_client_secret {
        form.append_pair("client_secret", secret.expose_secret());
    }
    SecretString::from(form.finish())
}

/// Checks the authorization response (state, RFC 9207 `iss`, error) before
/// the code is redeemed; returns the code.
fn validate_redirect(
    redirect: &Url,
    expected_state: &str,
    meta: &ServerMetadata,
) -> Result<SecretString, AuthError> {
    let mut state = None;
    let mut iss = None;
    let mut code = None;
    let mut error = None;
    let mut error_description = None;
    for (k, v) in redirect.query_pairs() {
        match k.as_ref() {
            "state" => state = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            "code" => code = Some(SecretString::from(v.into_owned())),
            "error" => error = Some(v.into_owned()),
            "error_description" => error_description = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_ok {
        return Err(AuthError::Rejected {
            scheme: "oauth".into(),
            reason: "the authorization response's state does not match the request (possible CSRF); nothing was redeemed".into(),
        });
    }
    match &iss {
        Some(i) if !bool::from(i.as_bytes().ct_eq(meta.issuer.as_bytes())) => {
            // RFC 9207: do not act on (or display) error fields of a response
            // from the wrong issuer.
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: "the authorization response comes from another issuer (RFC 9207 iss mismatch); nothing was redeemed".into(),
            });
        }
        None if meta.authorization_response_iss_parameter_supported == Some(true) => {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: "the authorization server promises an iss parameter but the response has none (RFC 9207); nothing was redeemed".into(),
            });
        }
        _ => {}
    }
    if let Some(e) = error {
        let e: String = e.chars().filter(|c| !c.is_control()).take(64).collect();
        let d: Option<String> =
            error_description.map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect());
        return Err(AuthError::Rejected {
            scheme: "oauth".into(),
            reason: format!(
                "the authorization was refused: {e}{}",
                d.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        });
    }
    code.ok_or_else(|| AuthError::prepare("oauth", "the authorization response has no code"))
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
        if let Some(t) = self.usable_token().await? {
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
            let sent = self.usable_token().await?;
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
                if self.refresh_locked(t).await? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_uris() {
        for (input, want) in [
            (
                "HTTPS://MCP.Example.com/mcp/",
                "https://mcp.example.com/mcp",
            ),
            (
                "https://mcp.example.com:443/mcp",
                "https://mcp.example.com/mcp",
            ),
            (
                "http://localhost:3000/mcp?x=1#f",
                "http://localhost:3000/mcp",
            ),
            ("https://mcp.example.com", "https://mcp.example.com"),
        ] {
            assert_eq!(canonical_resource(&Url::parse(input).unwrap()), want);
        }
    }

    fn meta(iss_supported: Option<bool>) -> ServerMetadata {
        ServerMetadata {
            issuer: "http://localhost:9".into(),
            authorization_response_iss_parameter_supported: iss_supported,
            ..ServerMetadata::default()
        }
    }

    #[test]
    fn redirect_validation_follows_rfc9207() {
        let ok = |q: &str, m: &ServerMetadata| {
            validate_redirect(
                &Url::parse(&format!("http://localhost:3000/callback?{q}")).unwrap(),
                "st",
                m,
            )
        };
        let iss = "iss=http%3A%2F%2Flocalhost%3A9";
        assert!(ok(&format!("code=c&state=st&{iss}"), &meta(Some(true))).is_ok());
        assert!(ok("code=c&state=st", &meta(None)).is_ok());
        assert!(
            ok("code=c&state=st", &meta(Some(true))).is_err(),
            "promised iss missing"
        );
        assert!(
            ok(
                "code=c&state=st&iss=https%3A%2F%2Fevil.example.com",
                &meta(None)
            )
            .is_err(),
            "unexpected iss"
        );
        assert!(
            ok(
                "code=c&state=st&iss=http%3A%2F%2Flocalhost%3A9%2F",
                &meta(Some(true))
            )
            .is_err(),
            "no normalization"
        );
        assert!(
            ok(&format!("code=c&state=other&{iss}"), &meta(Some(true))).is_err(),
            "state"
        );
        let e = ok("error=access_denied&state=st", &meta(None))
            .unwrap_err()
            .to_string();
        assert!(e.contains("access_denied"), "{e}");
        let e = ok(
            "error=access_denied&state=st&iss=https%3A%2F%2Fevil",
            &meta(None),
        )
        .unwrap_err()
        .to_string();
        assert!(
            !e.contains("access_denied"),
            "errors from the wrong issuer are not shown: {e}"
        );
    }
}
