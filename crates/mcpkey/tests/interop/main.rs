//! Interoperability and fault tests against MCP peers nobody here wrote
//! (`@modelcontextprotocol/server-everything` from npm, a server on the
//! official Python SDK from PyPI) and against our own misbehaving servers.
//! Peers come from `scripts/install-peers.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

/// Every authentication scheme on every transport, against a verifying server.
mod auth;
/// Cancellation, notifications and callbacks end to end.
mod callbacks;
/// The multi-server client.
mod client;
/// Which server sees which client: era detection and transport fallback.
mod fallback;
/// Fault injection: cut and replayed streams, slow-loris servers, SIGKILL
/// during token writes.
mod faults;
/// Streamable HTTP in both eras.
mod http;
/// Memory bounds against hostile servers.
mod limits;
/// OAuth: refresh, rotation, single-flight, step-up.
mod oauth;
/// Legacy HTTP+SSE.
mod sse;
/// stdio servers, well-behaved and not.
mod stdio;
