//! The error type of the client API: which server, which step, what
//! happened, and what to try.

use std::fmt;
use std::time::Duration;

use crate::config::ConfigError;
use crate::transport::TransportError;
use crate::transport::jsonrpc::RpcError;

/// What went wrong, by layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// Moving messages failed.
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// The server answered with a JSON-RPC error.
    #[error("the server returned an error: {0}")]
    Server(RpcError),

    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),

    /// The server's answer does not follow the protocol.
    #[error("{0}")]
    Protocol(String),

    /// No server of that name.
    #[error("no server named '{name}' is configured (configured: {known})")]
    UnknownServer {
        /// The name asked for.
        name: String,
        /// The names available.
        known: String,
    },

    /// Every way of connecting failed.
    #[error("every way of connecting failed:{}", list_attempts(.0))]
    Attempts(Vec<Attempt>),

    /// The server entry is disabled in the config.
    #[error("the server is disabled in the config (\"disabled\": true)")]
    Disabled,

    /// The session was closed.
    #[error("the session is closed")]
    Closed,
}

/// One failed way of connecting.
#[derive(Debug)]
pub struct Attempt {
    /// What was tried (for example "modern Streamable HTTP").
    pub what: String,
    /// Why it failed.
    pub error: TransportError,
}

fn list_attempts(a: &[Attempt]) -> String {
    a.iter()
        .map(|x| format!("\n  - {}: {}", x.what, x.error))
        .collect()
}

/// An error from the client API, naming the server and the step.
///
/// `Display` reads like "server 'github': tools/call 'search' failed: ...".
/// [`Error::hint`] suggests what to try; [`Error::exit_code`] maps the error
/// to mcpkey's documented exit codes.
#[derive(Debug)]
pub struct Error {
    server: String,
    step: String,
    kind: Box<ErrorKind>,
}

impl Error {
    pub(crate) fn new(
        server: impl Into<String>,
        step: impl Into<String>,
        kind: impl Into<ErrorKind>,
    ) -> Self {
        Self {
            server: server.into(),
            step: step.into(),
            kind: Box::new(kind.into()),
        }
    }

    /// The server the error belongs to.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The step that failed (`connect`, `tools/call 'x'`, ...).
    pub fn step(&self) -> &str {
        &self.step
    }

    /// What happened.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The JSON-RPC error the server returned, if that is what happened.
    pub fn rpc_error(&self) -> Option<&RpcError> {
        match self.kind.as_ref() {
            ErrorKind::Server(e) => Some(e),
            ErrorKind::Transport(TransportError::HttpStatus { rpc_error, .. }) => {
                rpc_error.as_deref()
            }
            _ => None,
        }
    }

    fn transports(&self) -> Vec<&TransportError> {
        match self.kind.as_ref() {
            ErrorKind::Transport(t) => vec![t],
            ErrorKind::Attempts(a) => a.iter().map(|x| &x.error).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether authentication failed or is required.
    pub fn is_auth(&self) -> bool {
        self.transports().iter().any(|t| t.is_auth())
    }

    /// Whether the server could not be reached (or its process is gone).
    pub fn is_unreachable(&self) -> bool {
        matches!(*self.kind, ErrorKind::Timeout(_))
            || (!self.transports().is_empty()
                && self.transports().iter().all(|t| t.is_unreachable()))
    }

    /// mcpkey's exit code for this error: 1 config, 2 protocol or other,
    /// 3 authentication, 4 unreachable.
    pub fn exit_code(&self) -> u8 {
        match self.kind.as_ref() {
            ErrorKind::Config(_) | ErrorKind::UnknownServer { .. } | ErrorKind::Disabled => 1,
            ErrorKind::Transport(TransportError::Auth(mcpkey_auth::AuthError::InsecureHttp {
                ..
            })) => 1,
            _ if self.is_auth() => 3,
            _ if self.is_unreachable() => 4,
            _ => 2,
        }
    }

    /// A suggestion for what to try next, if there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        for t in self.transports() {
            match t {
                TransportError::Spawn { command, source }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Some(format!(
                        "`{command}` was not found; install it or put its directory on PATH"
                    ));
                }
                TransportError::AuthRequired { status: 401, .. } => {
                    return Some("check the server's \"auth\" or \"headers\" in the config; a token may have expired".into());
                }
                TransportError::AuthRequired { status: 403, .. } => {
                    return Some(
                        "the credentials are valid but lack permission for this request".into(),
                    );
                }
                TransportError::Connect { .. } => {
                    return Some("is the server running and the URL right? (mcpkey servers lists what is configured)".into());
                }
                TransportError::Exited { .. } => {
                    return Some(
                        "the server process exited; its stderr above usually says why".into(),
                    );
                }
                _ => {}
            }
        }
        match self.kind.as_ref() {
            ErrorKind::Timeout(_) => Some(
                "raise the timeout (--timeout, or \"timeout\"/\"request_timeout\" in the config)"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ErrorKind::Config(c) = self.kind.as_ref() {
            // Config errors already name the server and the key.
            return write!(f, "{c}");
        }
        write!(
            f,
            "server '{}': {} failed: {}",
            self.server, self.step, self.kind
        )
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.kind.as_ref())
    }
}

/// Results of the client API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
