//! The [`Auth`] trait, the [`Next`] handle it sends through, and helpers to
//! build and combine auths.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use crate::{AuthError, AuthRequest, AuthResponse};

/// Authenticates HTTP requests: sets headers or query parameters, may read
/// the body to sign it, sees the response, and may answer a challenge by
/// sending again.
///
/// This is the one seam under every HTTP request mcpkey makes, on every
/// transport (Streamable HTTP POST, GET stream, resume GET, DELETE; legacy
/// SSE GET and endpoint POST). Each send, including retries and redirect
/// hops, goes through it afresh, so timestamps, nonces and signatures are
/// recomputed every time.
///
/// * A **static scheme** implements only [`Auth::apply`].
/// * A **challenge/response scheme** (Digest, OAuth) overrides [`Auth::send`]:
///   call `next.send(req.clone())`, inspect the response, and send again.
///
/// Implementations must be `Send + Sync` (one instance serves concurrent
/// requests) and must not hold a lock across `next.send(..)`.
///
/// # Example: an API key header in ten lines
///
/// ```
/// use async_trait::async_trait;
/// use mcpkey_auth::{Auth, AuthError, AuthRequest, SecretString};
/// use http::header::HeaderName;
///
/// #[derive(Debug)]
/// struct ApiKeyAuth { key: SecretString }
///
/// #[async_trait]
/// impl Auth for ApiKeyAuth {
///     async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
///         req.set_secret_header(HeaderName::from_static("x-api-key"), &self.key)
///     }
/// }
/// ```
#[async_trait]
pub trait Auth: Send + Sync + fmt::Debug {
    /// A short scheme name for messages (`bearer`, `digest`, ...).
    fn scheme(&self) -> &str {
        "custom"
    }

    /// Whether this auth sends nothing until a server challenges it (OAuth).
    /// Such an auth does not by itself make plain `http://` to a remote host
    /// an error; the credentials it adds later are checked when sent.
    fn is_lazy(&self) -> bool {
        false
    }

    /// Adds credentials to one outgoing request. Called once per send.
    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        let _ = req;
        Ok(())
    }

    /// Runs the whole exchange for one request. The default applies
    /// [`Auth::apply`] and sends once.
    async fn send(&self, mut req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
        self.apply(&mut req).await?;
        next.send(req).await
    }
}

/// Sends one request on the wire, exactly once, without following
/// redirects. Implemented by each transport's HTTP client.
#[async_trait]
pub trait Exchange: Send + Sync {
    /// Sends `req` and returns the response head with an unread body.
    async fn exchange(&self, req: AuthRequest) -> Result<AuthResponse, AuthError>;
}

/// The rest of the chain: the auths after this one, then the wire.
///
/// `Next` is `Copy`, so a scheme can send as many times as its flow needs;
/// every send counts against a per-request budget, which stops a scheme
/// that would loop.
#[derive(Clone, Copy)]
pub struct Next<'a> {
    rest: &'a [Arc<dyn Auth>],
    outer: Option<&'a Next<'a>>,
    exchange: &'a dyn Exchange,
    budget: &'a Budget,
}

/// Counts wire sends for one logical request, and refuses credentials on a
/// plain-http hop to a remote host.
#[derive(Debug)]
pub(crate) struct Budget {
    left: AtomicU32,
    total: u32,
    allow_insecure_http: bool,
}

impl Budget {
    pub(crate) fn new(total: u32, allow_insecure_http: bool) -> Self {
        Self {
            left: AtomicU32::new(total),
            total,
            allow_insecure_http,
        }
    }

    /// The last line of defence: whatever an auth added, no sensitive header
    /// goes over plain http to a host that is not this machine.
    fn check(&self, req: &AuthRequest) -> Result<(), AuthError> {
        if self.allow_insecure_http
            || req.url.scheme() != "http"
            || crate::redact::is_loopback(&req.url)
            || !req.headers.values().any(|v| v.is_sensitive())
        {
            return Ok(());
        }
        Err(AuthError::InsecureHttp {
            origin: crate::redact::origin_string(&req.url),
        })
    }

    fn take(&self) -> Result<(), AuthError> {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .map(|_| ())
            .map_err(|_| AuthError::BudgetExhausted(self.total))
    }
}

impl<'a> Next<'a> {
    pub(crate) fn new(
        rest: &'a [Arc<dyn Auth>],
        exchange: &'a dyn Exchange,
        budget: &'a Budget,
    ) -> Self {
        Self {
            rest,
            outer: None,
            exchange,
            budget,
        }
    }

    /// Passes `req` to the next auth in the chain, or sends it on the wire.
    pub async fn send(&self, req: AuthRequest) -> Result<AuthResponse, AuthError> {
        if let Some((first, rest)) = self.rest.split_first() {
            let next = Next {
                rest,
                outer: self.outer,
                exchange: self.exchange,
                budget: self.budget,
            };
            first.send(req, next).await
        } else if let Some(outer) = self.outer {
            Box::pin(outer.send(req)).await
        } else {
            self.budget.check(&req)?;
            self.budget.take()?;
            self.exchange.exchange(req).await
        }
    }
}

impl fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Next")
            .field("remaining_auths", &self.rest.len())
            .finish_non_exhaustive()
    }
}

/// Several auths applied in order, as one.
///
/// The first sees the request first; put signers last so they sign the
/// final headers (for example `Chain::new([bearer, signature])`).
#[derive(Debug, Clone)]
pub struct Chain {
    auths: Vec<Arc<dyn Auth>>,
}

impl Chain {
    /// A chain of these auths, outermost first.
    pub fn new(auths: impl IntoIterator<Item = Arc<dyn Auth>>) -> Self {
        Self {
            auths: auths.into_iter().collect(),
        }
    }
}

#[async_trait]
impl Auth for Chain {
    fn scheme(&self) -> &str {
        self.auths.first().map(|a| a.scheme()).unwrap_or("none")
    }

    fn is_lazy(&self) -> bool {
        self.auths.iter().all(|a| a.is_lazy())
    }

    async fn send(&self, req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
        let inner = Next {
            rest: &self.auths,
            outer: Some(&next),
            exchange: next.exchange,
            budget: next.budget,
        };
        inner.send(req).await
    }
}

/// An auth from a closure that edits each request.
///
/// ```
/// use mcpkey_auth::{from_fn, AuthRequest};
/// let tenant = from_fn("tenant", |req: &mut AuthRequest| {
///     req.set_header(
///         http::header::HeaderName::from_static("x-tenant-id"),
///         http::HeaderValue::from_static("acme"),
///     );
///     Ok(())
/// });
/// # let _ = tenant;
/// ```
pub fn from_fn<F>(scheme: &'static str, f: F) -> FnAuth<F>
where
    F: Fn(&mut AuthRequest) -> Result<(), AuthError> + Send + Sync,
{
    FnAuth { scheme, f }
}

/// See [`from_fn`].
pub struct FnAuth<F> {
    scheme: &'static str,
    f: F,
}

impl<F> fmt::Debug for FnAuth<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnAuth")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<F> Auth for FnAuth<F>
where
    F: Fn(&mut AuthRequest) -> Result<(), AuthError> + Send + Sync,
{
    fn scheme(&self) -> &str {
        self.scheme
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        (self.f)(req)
    }
}
