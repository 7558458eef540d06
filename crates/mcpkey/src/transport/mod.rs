//! Transports: moving JSON-RPC messages to and from one server.
//!
//! * [`stdio`]: a child process, one JSON message per line.
//! * [`http::streamable`]: Streamable HTTP, in both its modern (2026-07-28)
//!   and legacy (2025-03-26 to 2025-11-25) shapes.
//! * [`http::legacy_sse`]: the deprecated HTTP+SSE transport (2024-11-05).
//!
//! Every HTTP request of the two HTTP transports goes through
//! `http::core::HttpCore`, which runs the server's
//! [`Authenticator`](mcpkey_auth::Authenticator).
//!
//! A transport correlates our requests with their responses and hands
//! everything else the server sends (notifications, server-to-client
//! requests) to the session through an inbound channel.

pub mod error;
pub mod http;
pub mod jsonrpc;
pub(crate) mod pending;
pub mod stdio;

use ::http::HeaderMap;
use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

pub use error::TransportError;
use jsonrpc::{Incoming, RpcResult};

/// Sender half of the inbound queue: notifications and server requests
/// waiting for the session's dispatcher, bounded by
/// `Limits::max_pending_messages`. When it is full the transport stops
/// reading, which pushes back on the server instead of growing memory.
pub(crate) type InboundTx = mpsc::Sender<Incoming>;

/// One request, serialized, ready to send.
#[derive(Debug)]
pub(crate) struct Call {
    /// Our JSON-RPC id (also inside `body`).
    pub id: i64,
    /// The serialized request.
    pub body: Bytes,
    /// Per-request HTTP headers (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`);
    /// ignored by stdio.
    pub headers: HeaderMap,
}

/// Which transport a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TransportKind {
    /// Child process.
    Stdio,
    /// Streamable HTTP.
    StreamableHttp,
    /// Legacy HTTP+SSE.
    Sse,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Stdio => "stdio",
            Self::StreamableHttp => "streamable-http",
            Self::Sse => "sse",
        })
    }
}

/// The operations a session needs from a transport.
#[async_trait]
pub(crate) trait Transport: Send + Sync + 'static {
    /// Sends a request and waits for its response. Messages that arrive
    /// first go to the inbound queue.
    async fn call(&self, call: Call) -> Result<RpcResult, TransportError>;

    /// Sends a notification.
    async fn notify(&self, body: Bytes, headers: HeaderMap) -> Result<(), TransportError>;

    /// Sends our response to a server-to-client request.
    async fn respond(&self, body: Bytes) -> Result<(), TransportError>;

    /// Records the negotiated protocol version (sent as
    /// `MCP-Protocol-Version` on HTTP).
    fn set_protocol_version(&self, version: &str);

    /// Whether a cancelled request must be announced with
    /// `notifications/cancelled` (stdio and legacy HTTP) rather than by
    /// closing its stream (modern HTTP).
    fn needs_cancel_notification(&self, modern: bool) -> bool;

    /// Closes the transport. Idempotent.
    async fn close(&self);

    /// Which transport this is.
    fn kind(&self) -> TransportKind;
}
