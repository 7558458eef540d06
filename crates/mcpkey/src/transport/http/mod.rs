//! The HTTP transports and what they share.

pub mod core;
pub mod legacy_sse;
pub mod oauth_http;
pub(crate) mod pool;
pub mod sse;
pub(crate) mod stream;
pub mod streamable;
pub(crate) mod tls;
pub(crate) mod wire;
