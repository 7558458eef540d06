//! Refreshing the access token: under the store's cross-process lock,
//! adopting a token another process stored meanwhile, retrying a token
//! endpoint that fails transiently, and sharing a failed refresh's outcome
//! with the tasks that queued behind it.
//!
//! Retries: a 5xx, a timeout (`refresh_timeout` per attempt), a network
//! error or an answer that is not a token response is tried again after
//! `refresh_backoff`, doubled each time, up to `refresh_attempts` attempts.
//! A refusal (4xx such as `invalid_grant`) is never retried. On any failure
//! the stored tokens, the refresh token among them, are left as they are.

use super::*;

/// The outcome of the last refresh, for tasks that waited while it ran.
#[derive(Default)]
enum LastRefresh {
    #[default]
    None,
    Refreshed,
    /// Refused, or not possible: a new authorization is needed.
    Refused,
    /// The token endpoint failed (after its retries); the reason.
    Failed(String),
}

/// Refresh attempts so far (a generation counter) and how the last ended.
#[derive(Default)]
pub(super) struct RefreshLog {
    generation: u64,
    last: LastRefresh,
}

/// An error's message without the "could not be prepared" wrapping.
fn reason_of(e: &AuthError) -> String {
    match e {
        AuthError::Prepare { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

impl OAuth {
    /// Counts refreshes: read it before waiting for the flight lock.
    pub(super) fn refresh_generation(&self) -> u64 {
        self.state().refreshes.generation
    }

    /// Refreshes `seen` (under the flight lock), unless a refresh that
    /// ended after `generation` was read failed or was refused: then its
    /// outcome is returned, so that the tasks queued behind a failing token
    /// endpoint, and a request's 401 after its own proactive attempt, do
    /// not try again. `patient`: use the retries (else one attempt).
    pub(super) async fn refresh_once(
        &self,
        seen: &TokenSet,
        generation: u64,
        patient: bool,
    ) -> Result<bool, AuthError> {
        {
            let st = self.state();
            if st.refreshes.generation != generation {
                match &st.refreshes.last {
                    LastRefresh::Failed(reason) => {
                        return Err(AuthError::prepare("oauth", reason.clone()));
                    }
                    LastRefresh::Refused => return Ok(false),
                    LastRefresh::None | LastRefresh::Refreshed => {}
                }
            }
        }
        let res = self.refresh_locked(seen, patient).await;
        let mut st = self.state();
        st.refreshes.generation += 1;
        st.refreshes.last = match &res {
            Ok(true) => LastRefresh::Refreshed,
            Ok(false) => LastRefresh::Refused,
            Err(e) => LastRefresh::Failed(reason_of(e)),
        };
        res
    }

    /// Refreshes under the store's lock. Adopts a token another process
    /// stored meanwhile. `Ok(false)`: no refresh was possible. Nothing is
    /// stored unless the token endpoint answered with new tokens.
    async fn refresh_locked(&self, seen: &TokenSet, patient: bool) -> Result<bool, AuthError> {
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
        let attempts = if patient {
            self.config.refresh_attempts.max(1)
        } else {
            1
        };
        match self
            .refresh_request(&renew, &current.record.client_id, &params, attempts)
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

    /// Sends the refresh request, retrying transient failures (see the
    /// module docs) up to `attempts` attempts in all.
    async fn refresh_request(
        &self,
        renew: &Renewal,
        client_id: &str,
        params: &[(&str, &str)],
        attempts: u32,
    ) -> Result<TokenSet, TokenFailure> {
        let limit = self.config.refresh_timeout;
        let mut backoff = self.config.refresh_backoff;
        let mut attempt = 1;
        loop {
            let sent = token::request(
                self.http.as_ref(),
                &renew.token_endpoint,
                client_id,
                &renew.client_auth,
                &renew.issuer,
                params,
            );
            let failure = match tokio::time::timeout(limit, sent).await {
                Ok(Ok(tokens)) => return Ok(tokens),
                Ok(Err(TokenFailure::Transient(e))) => e,
                Ok(Err(refused)) => return Err(refused),
                Err(_) => AuthError::prepare(
                    "oauth",
                    format!("the token endpoint did not answer within {limit:?}"),
                ),
            };
            if attempt >= attempts {
                let tries = if attempts == 1 {
                    "once".to_owned()
                } else {
                    format!("{attempts} times")
                };
                return Err(TokenFailure::Transient(AuthError::prepare(
                    "oauth",
                    format!(
                        "refreshing the access token failed {tries} (last: {}); the stored \
                         refresh token is kept, so a later request tries again",
                        reason_of(&failure)
                    ),
                )));
            }
            tracing::info!(
                attempt,
                of = attempts,
                error = %failure,
                retry_in = ?backoff,
                "token refresh failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::RequestKind;
    use crate::oauth::store::MemoryStore;
    use crate::oauth::types::now_unix;

    /// A token endpoint that always answers `status` with `body`.
    #[derive(Debug)]
    struct Endpoint {
        status: u16,
        body: &'static str,
        hits: AtomicUsize,
    }

    #[async_trait]
    impl OAuthHttp for Endpoint {
        async fn send(
            &self,
            _req: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, AuthError> {
            self.hits.fetch_add(1, Ordering::SeqCst);
            let mut resp = http::Response::new(Bytes::from_static(self.body.as_bytes()));
            *resp.status_mut() = StatusCode::from_u16(self.status).unwrap();
            Ok(resp)
        }
    }

    /// Sends one request whose token `expires_in` seconds from now (within
    /// the refresh margin) through OAuth against `endpoint`; returns the
    /// token endpoint's hits and the refresh token stored afterwards.
    async fn proactive(endpoint: Endpoint, expires_in: i64) -> (usize, String) {
        let server = Url::parse("http://127.0.0.1:9/mcp").unwrap();
        let mut config = OAuthConfig {
            client_id: Some("client".into()),
            metadata: Some(ServerMetadata {
                issuer: "http://127.0.0.1:9".into(),
                token_endpoint: Some("http://127.0.0.1:9/token".into()),
                ..ServerMetadata::default()
            }),
            ..OAuthConfig::default()
        };
        config.refresh_backoff = Duration::from_millis(1);
        let mut tokens = TokenSet::bearer(SecretString::from("at-1"));
        tokens.refresh_token = Some(SecretString::from("rt-1"));
        tokens.expires_at = Some(now_unix().saturating_add_signed(expires_in));
        let mut record = TokenRecord::new("http://127.0.0.1:9", "client", tokens);
        record.updated_at = now_unix() - 3600;
        let store = Arc::new(MemoryStore::default());
        let key = canonical_resource(&server);
        store.put_tokens(&key, record).await.unwrap();
        let endpoint = Arc::new(endpoint);
        let http: Arc<dyn OAuthHttp> = endpoint.clone();
        let oauth = OAuth::new(server.clone(), config, http, store.clone());
        let mut req = AuthRequest::new(http::Method::POST, server, RequestKind::Post);
        oauth.apply(&mut req).await.unwrap();
        assert!(
            req.headers.get(AUTHORIZATION).is_some(),
            "the current token is still sent"
        );
        let stored = store.tokens(&key).await.unwrap();
        let rt = stored[0].tokens.refresh_token.as_ref().unwrap();
        (
            endpoint.hits.load(Ordering::SeqCst),
            rt.expose_secret().to_owned(),
        )
    }

    fn endpoint(status: u16, body: &'static str) -> Endpoint {
        Endpoint {
            status,
            body,
            hits: AtomicUsize::new(0),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_only_once_the_token_expired() {
        for (status, body) in [(500, "oops"), (503, ""), (200, "{\"access_token\": ")] {
            let (hits, rt) = proactive(endpoint(status, body), 30).await;
            assert_eq!((hits, rt.as_str()), (1, "rt-1"), "still valid: {status}");
            let (hits, rt) = proactive(endpoint(status, body), -5).await;
            assert_eq!((hits, rt.as_str()), (3, "rt-1"), "expired: {status}");
        }
    }

    #[tokio::test]
    async fn a_refusal_is_never_retried() {
        let refused = r#"{"error": "invalid_grant"}"#;
        let (hits, rt) = proactive(endpoint(400, refused), -5).await;
        assert_eq!((hits, rt.as_str()), (1, "rt-1"));
    }

    #[tokio::test]
    async fn a_recovered_endpoint_refreshes() {
        let ok = r#"{"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600}"#;
        let (hits, rt) = proactive(endpoint(200, ok), -5).await;
        assert_eq!((hits, rt.as_str()), (1, "rt-2"));
    }
}
