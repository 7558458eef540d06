//! Errors of the transport layer.

use std::time::Duration;

use mcpkey_auth::{AuthError, BoxError};

use crate::transport::http::sse::SseTooLarge;
use crate::transport::jsonrpc::RpcError;

/// What went wrong moving messages to or from a server.
///
/// Messages name URLs through `RedactedUrl` (no user-info, no query values)
/// and never include credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The stdio server could not be started.
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command as configured.
        command: String,
        /// OS error.
        #[source]
        source: std::io::Error,
    },

    /// The stdio server exited.
    #[error("the server process exited ({status}){}", stderr_suffix(.stderr_tail))]
    Exited {
        /// Exit status as text.
        status: String,
        /// The last lines the server wrote to stderr.
        stderr_tail: String,
    },

    /// No TCP/TLS connection could be made.
    #[error("could not reach {url}: {reason}")]
    Connect {
        /// Redacted URL.
        url: String,
        /// Short reason (connection refused, DNS, TLS...).
        reason: String,
        /// A pooled connection turned out to be closed before any answer
        /// arrived: sending again on a fresh connection is safe.
        stale: bool,
        /// Cause.
        #[source]
        source: BoxError,
    },

    /// The server answered with an HTTP status we cannot use.
    #[error("{method} {url} answered HTTP {status}{}", detail_suffix(.detail))]
    HttpStatus {
        /// Request method.
        method: String,
        /// Redacted URL.
        url: String,
        /// Status code.
        status: u16,
        /// Short description from the body (JSON-RPC error message, or text).
        detail: String,
        /// The JSON-RPC error in the body, if there was one.
        rpc_error: Option<Box<RpcError>>,
    },

    /// The server demands authentication that the configured auth did not
    /// satisfy.
    #[error("{url} answered HTTP {status}: {what}")]
    AuthRequired {
        /// Redacted URL.
        url: String,
        /// 401 or 403.
        status: u16,
        /// What the server asked for and what was configured.
        what: String,
    },

    /// The auth layer failed (see the source).
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),

    /// The transport was closed.
    #[error("the connection to the server is closed")]
    Closed,

    /// The HTTP session the server gave us is gone (404 with a session id).
    #[error("the server no longer knows our session (HTTP 404)")]
    SessionExpired,

    /// A response stream ended before the response arrived.
    #[error("the response stream ended before the response arrived")]
    StreamEnded,

    /// The legacy SSE endpoint event pointed at another origin.
    #[error(
        "the legacy SSE server announced a message endpoint on another origin ({endpoint_origin}, \
         stream is {stream_origin}); refusing, because credentials would be sent there"
    )]
    EndpointCrossOrigin {
        /// Origin of the announced endpoint.
        endpoint_origin: String,
        /// Origin of the SSE stream.
        stream_origin: String,
    },

    /// An SSE event was too large.
    #[error(transparent)]
    SseTooLarge(#[from] SseTooLarge),

    /// A response body was too large.
    #[error(
        "a response body exceeded {limit} bytes; raise the server's limits.max_message_bytes if this is expected"
    )]
    BodyTooLarge {
        /// Limit in bytes.
        limit: usize,
    },

    /// The server broke the protocol.
    #[error("{0}")]
    Protocol(String),
}

fn stderr_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::from("; it wrote nothing to stderr")
    } else {
        format!("; last lines of its stderr:\n{}", indent(tail))
    }
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl TransportError {
    /// HTTP status of the failure, if it was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::HttpStatus { status, .. } | Self::AuthRequired { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server could not be reached or the process is gone.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Spawn { .. }
            | Self::Exited { .. }
            | Self::Connect { .. }
            | Self::Closed
            | Self::Timeout(_)
            | Self::StreamEnded => true,
            Self::Auth(e) => e.is_transport(),
            _ => false,
        }
    }

    /// Whether authentication failed or is required.
    pub fn is_auth(&self) -> bool {
        match self {
            Self::AuthRequired { .. } => true,
            Self::Auth(e) => !e.is_transport() && !matches!(e, AuthError::InsecureHttp { .. }),
            _ => false,
        }
    }
}
