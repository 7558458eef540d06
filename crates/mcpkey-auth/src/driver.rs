//! The one place where requests are authenticated, sent, challenged and
//! redirected.
//!
//! Transports build an unauthenticated [`AuthRequest`] (config headers and
//! MCP headers set) and hand it to [`Authenticator::send`] with their
//! [`Exchange`]. For each redirect hop the driver:
//!
//! 1. refuses credentials over plain `http://` to a non-loopback host,
//! 2. runs the auth chain (which may send several times, within a budget),
//! 3. on a same-origin 307/308 (or 301/302/303 of a GET) starts again from
//!    the *unauthenticated* request at the new URL, so every hop is
//!    authenticated afresh (new signature, right Digest `uri`),
//! 4. refuses a cross-origin redirect, naming the target origin.

use std::sync::Arc;

use http::header::LOCATION;
use http::{Method, StatusCode};

use crate::auth::{Budget, Next};
use crate::redact::{RedactedUrl, is_loopback, origin_string};
use crate::{Auth, AuthError, AuthRequest, AuthResponse, Exchange};

/// Limits and switches for [`Authenticator`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Policy {
    /// Redirect hops followed (same origin only). Default 5.
    pub max_redirects: usize,
    /// Wire sends allowed per hop, challenges included. Default 8.
    pub send_budget: u32,
    /// Allow credentials over plain `http://` to non-loopback hosts.
    pub allow_insecure_http: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_redirects: 5,
            send_budget: 8,
            allow_insecure_http: false,
        }
    }
}

/// Applies one server's auth to each of its requests and follows redirects
/// safely. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    chain: Arc<[Arc<dyn Auth>]>,
    policy: Policy,
}

impl Authenticator {
    /// An authenticator running `auth` (or nothing) on every request.
    pub fn new(auth: Option<Arc<dyn Auth>>) -> Self {
        Self {
            chain: auth.into_iter().collect(),
            policy: Policy::default(),
        }
    }

    /// Replaces the policy.
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The scheme name of the configured auth, if any.
    pub fn scheme(&self) -> Option<&str> {
        self.chain.first().map(|a| a.scheme())
    }

    /// Authenticates and sends `req`, following same-origin redirects.
    ///
    /// Returns the final response, whatever its status: a 401 that the auth
    /// could not answer comes back as a response for the caller to report.
    pub async fn send(
        &self,
        req: AuthRequest,
        exchange: &dyn Exchange,
    ) -> Result<AuthResponse, AuthError> {
        let origin = req.url.origin();
        let mut base = req;
        for _hop in 0..=self.policy.max_redirects {
            self.check_transport_security(&base)?;
            let budget = Budget::new(self.policy.send_budget, self.policy.allow_insecure_http);
            let next = Next::new(&self.chain, exchange, &budget);
            let resp = next.send(base.clone()).await?;
            if !is_followable_redirect(resp.status) {
                return Ok(resp);
            }
            let status = resp.status;
            let target = resp
                .headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| base.url.join(loc).ok())
                .ok_or(AuthError::BadRedirect {
                    status: status.as_u16(),
                })?;
            if target.origin() != origin {
                resp.discard().await;
                return Err(AuthError::CrossOriginRedirect {
                    target: origin_string(&target),
                });
            }
            if base.method != Method::GET
                && base.method != Method::HEAD
                && matches!(status.as_u16(), 301..=303)
            {
                resp.discard().await;
                return Err(AuthError::PostRedirect {
                    status: status.as_u16(),
                    target: RedactedUrl(&target).to_string(),
                });
            }
            tracing::debug!(status = status.as_u16(), to = %RedactedUrl(&target), "following same-origin redirect");
            resp.discard().await;
            base.url = target;
        }
        Err(AuthError::TooManyRedirects(self.policy.max_redirects))
    }

    fn check_transport_security(&self, req: &AuthRequest) -> Result<(), AuthError> {
        if self.policy.allow_insecure_http || req.url.scheme() != "http" || is_loopback(&req.url) {
            return Ok(());
        }
        let has_credentials = self.chain.iter().any(|a| !a.is_lazy())
            || req.headers.values().any(|v| v.is_sensitive());
        if has_credentials {
            return Err(AuthError::InsecureHttp {
                origin: origin_string(&req.url),
            });
        }
        Ok(())
    }
}

fn is_followable_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
    use url::Url;

    use super::*;
    use crate::{Bearer, Body, RequestKind, SecretString, from_fn};

    /// Records every request; answers from a script of (status, location).
    struct Script {
        seen: Mutex<Vec<AuthRequest>>,
        answers: Mutex<Vec<(u16, Option<&'static str>)>>,
    }

    impl Script {
        fn new(answers: Vec<(u16, Option<&'static str>)>) -> Self {
            Self {
                seen: Mutex::new(Vec::new()),
                answers: Mutex::new(answers),
            }
        }
    }

    #[async_trait]
    impl Exchange for Script {
        async fn exchange(&self, req: AuthRequest) -> Result<AuthResponse, AuthError> {
            let url = req.url.clone();
            self.seen.lock().unwrap().push(req);
            let (status, loc) = self.answers.lock().unwrap().remove(0);
            let mut headers = HeaderMap::new();
            if let Some(l) = loc {
                headers.insert(LOCATION, HeaderValue::from_static(l));
            }
            Ok(AuthResponse::new(
                StatusCode::from_u16(status).unwrap(),
                headers,
                url,
                Body::empty(),
            ))
        }
    }

    fn post(url: &str) -> AuthRequest {
        AuthRequest::new(Method::POST, Url::parse(url).unwrap(), RequestKind::Post)
    }

    fn bearer() -> Option<Arc<dyn Auth>> {
        Some(Arc::new(Bearer::new(SecretString::from("tok"))))
    }

    #[tokio::test]
    async fn same_origin_redirect_reauthenticates_each_hop() {
        let counter = std::sync::atomic::AtomicU32::new(0);
        let counter = Arc::new(counter);
        let c2 = counter.clone();
        let auth: Arc<dyn Auth> = Arc::new(from_fn("count", move |req| {
            let n = c2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            req.set_header(
                HeaderName::from_static("x-n"),
                HeaderValue::from_str(&n.to_string()).unwrap(),
            );
            Ok(())
        }));
        let script = Script::new(vec![(307, Some("/mcp2")), (200, None)]);
        let a = Authenticator::new(Some(auth));
        let resp = a
            .send(post("http://127.0.0.1:1/mcp"), &script)
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].url.path(), "/mcp2");
        assert_eq!(seen[0].headers["x-n"], "0");
        assert_eq!(seen[1].headers["x-n"], "1");
    }

    #[tokio::test]
    async fn cross_origin_redirect_is_refused_and_not_sent() {
        let script = Script::new(vec![(307, Some("http://127.0.0.2:9/steal")), (200, None)]);
        let a = Authenticator::new(bearer());
        let err = a
            .send(post("http://127.0.0.1:1/mcp"), &script)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AuthError::CrossOriginRedirect { target } if target == "http://127.0.0.2:9"),
            "{err}"
        );
        assert_eq!(script.seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn post_302_is_an_error() {
        let script = Script::new(vec![(302, Some("/other")), (200, None)]);
        let a = Authenticator::new(None);
        let err = a
            .send(post("http://127.0.0.1:1/mcp"), &script)
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::PostRedirect { status: 302, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn plain_http_to_remote_host_refused_with_credentials() {
        let script = Script::new(vec![(200, None)]);
        let a = Authenticator::new(bearer());
        let err = a
            .send(post("http://example.com/mcp"), &script)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InsecureHttp { .. }), "{err}");
        assert!(script.seen.lock().unwrap().is_empty());

        // A sensitive static header counts as a credential too.
        let mut req = post("http://example.com/mcp");
        let mut v = HeaderValue::from_static("Bearer x");
        v.set_sensitive(true);
        req.headers.insert(AUTHORIZATION, v);
        let err = Authenticator::new(None)
            .send(req, &script)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InsecureHttp { .. }));

        // Without credentials plain http is fine, and opting in works.
        let script = Script::new(vec![(200, None), (200, None)]);
        Authenticator::new(None)
            .send(post("http://example.com/mcp"), &script)
            .await
            .unwrap();
        let policy = Policy {
            allow_insecure_http: true,
            ..Policy::default()
        };
        Authenticator::new(bearer())
            .with_policy(policy)
            .send(post("http://example.com/mcp"), &script)
            .await
            .unwrap();
    }

    #[derive(Debug)]
    struct Looping;

    #[async_trait]
    impl Auth for Looping {
        async fn send(&self, req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
            loop {
                let r = next.send(req.clone()).await?;
                if r.status != 401 {
                    return Ok(r);
                }
            }
        }
    }

    #[tokio::test]
    async fn send_budget_stops_a_looping_scheme() {
        let script = Script::new(vec![(401, None); 20]);
        let a = Authenticator::new(Some(Arc::new(Looping)));
        let err = a
            .send(post("http://127.0.0.1:1/mcp"), &script)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::BudgetExhausted(8)), "{err}");
        assert_eq!(script.seen.lock().unwrap().len(), 8);
    }

    #[tokio::test]
    async fn chain_applies_outer_first() {
        let a1: Arc<dyn Auth> = Arc::new(from_fn("a", |r| {
            r.set_header(
                HeaderName::from_static("x-order"),
                HeaderValue::from_static("a"),
            );
            Ok(())
        }));
        let a2: Arc<dyn Auth> = Arc::new(from_fn("b", |r| {
            let prev = r.headers["x-order"].to_str().unwrap().to_owned();
            r.set_header(
                HeaderName::from_static("x-order"),
                HeaderValue::from_str(&format!("{prev}b")).unwrap(),
            );
            Ok(())
        }));
        let chain: Arc<dyn Auth> = Arc::new(crate::Chain::new([a1, a2]));
        let script = Script::new(vec![(200, None)]);
        Authenticator::new(Some(chain))
            .send(post("http://127.0.0.1:1/mcp"), &script)
            .await
            .unwrap();
        assert_eq!(script.seen.lock().unwrap()[0].headers["x-order"], "ab");
    }
}
