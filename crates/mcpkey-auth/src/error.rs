//! Errors of the auth layer.

/// A boxed error from a lower layer (the wire, a helper process, a token
/// endpoint).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong while authenticating and sending one request.
///
/// No variant ever carries a credential: messages name the scheme, the
/// header or the origin, never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request could not be sent or its response not received.
    #[error("the HTTP exchange failed")]
    Transport(#[source] BoxError),

    /// The scheme could not build its credentials for this request.
    #[error("{scheme} authentication could not be prepared: {reason}")]
    Prepare {
        /// Scheme name (`bearer`, `digest`, ...).
        scheme: String,
        /// What went wrong, without secret values.
        reason: String,
        /// Underlying cause, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The server rejected the credentials and the scheme has no further
    /// move.
    #[error("{scheme} authentication was rejected: {reason}")]
    Rejected {
        /// Scheme name.
        scheme: String,
        /// What the server said, without secret values.
        reason: String,
    },

    /// More sends than the per-request budget allows (a scheme that keeps
    /// retrying).
    #[error("gave up after {0} sends of one request (authentication retry budget)")]
    BudgetExhausted(u32),

    /// A redirect pointed at a different origin; credentials are never sent
    /// there.
    #[error(
        "the server redirected to another origin ({target}); mcpkey does not follow \
         cross-origin redirects because credentials would leak there. Configure the \
         final URL directly if you trust it"
    )]
    CrossOriginRedirect {
        /// The redirect target's origin.
        target: String,
    },

    /// A 301/302/303 redirect of a POST would turn it into a GET and drop the
    /// JSON-RPC body.
    #[error(
        "the server answered a POST with redirect {status} to {target}, which would drop \
         the JSON-RPC message; configure that URL instead"
    )]
    PostRedirect {
        /// Redirect status.
        status: u16,
        /// Redacted target URL.
        target: String,
    },

    /// Too many redirect hops.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),

    /// A redirect without a usable `Location`.
    #[error("redirect {status} without a valid Location header")]
    BadRedirect {
        /// Redirect status.
        status: u16,
    },

    /// Credentials would go over plain HTTP to a host that is not this
    /// machine.
    #[error(
        "refusing to send credentials over plain http:// to {origin}; use https://, or set \
         \"allow_insecure_http\": true on this server if you accept that anyone on the \
         network can read them"
    )]
    InsecureHttp {
        /// The origin the request was for.
        origin: String,
    },

    /// A header value built by a scheme is not a valid HTTP header value.
    #[error("the value for header {name} is not a valid HTTP header value")]
    InvalidHeaderValue {
        /// Header name (the value is never shown).
        name: String,
    },

    /// Reading a response body failed.
    #[error("reading the response body failed")]
    Body(#[source] BoxError),

    /// A response body was larger than allowed.
    #[error("the response body exceeded {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

impl AuthError {
    /// Shorthand for [`AuthError::Prepare`] without a source.
    pub fn prepare(scheme: &str, reason: impl Into<String>) -> Self {
        Self::Prepare {
            scheme: scheme.to_owned(),
            reason: reason.into(),
            source: None,
        }
    }

    /// Whether the error came from the wire rather than from authentication.
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport(_) | Self::Body(_))
    }
}
