//! The authentication seam of [mcpkey](https://docs.rs/mcpkey).
//!
//! Every HTTP request an MCP client sends — Streamable HTTP POSTs, GET
//! streams and their resumptions, DELETEs, legacy SSE GETs and endpoint
//! POSTs — passes through one [`Auth`]. This crate knows nothing about MCP
//! or about any HTTP client: transports implement [`Exchange`] (send one
//! request, return the head and an unread body) and call
//! [`Authenticator::send`], which is the only place where auths run,
//! challenges are retried within a budget, and redirects are followed
//! (same-origin only, re-authenticating each hop).
//!
//! ```text
//!  transport ──AuthRequest──▶ Authenticator ──▶ Auth #1 ──▶ Auth #2 ──▶ Exchange ──▶ wire
//!                                  ▲   redirects,   apply / send(next)   (one send,
//!                                  │   http:// check                     no redirects)
//! ```
//!
//! Secrets are [`SecretString`]s; header values an auth sets are marked
//! sensitive; URLs are printed through [`RedactedUrl`]. No error variant
//! carries a credential.
//!
//! # Writing a scheme
//!
//! Static schemes implement [`Auth::apply`]; challenge-response schemes
//! override [`Auth::send`] and call [`Next::send`] as often as their flow
//! needs. See the [`Auth`] docs for a complete example.

mod auth;
mod driver;
mod error;
#[cfg(all(feature = "oauth", any(test, feature = "fuzzing")))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "oauth")]
pub mod oauth;
pub mod redact;
mod request;
mod response;
pub mod schemes;
pub mod secret;

pub use auth::{Auth, Chain, Exchange, FnAuth, Next, from_fn};
pub use driver::{Authenticator, Policy};
pub use error::{AuthError, BoxError};
pub use redact::RedactedUrl;
pub use request::{AuthRequest, RequestKind};
pub use response::{AuthResponse, Body};
pub use schemes::api_key::ApiKey;
pub use schemes::basic::Basic;
pub use schemes::bearer::Bearer;
#[cfg(feature = "command")]
pub use schemes::command::CommandHeaders;
pub use schemes::digest::Digest;
pub use schemes::multi_header::MultiHeader;
pub use schemes::query_param::QueryParam;
pub use schemes::signature::{Signature, SignedPart};
pub use secret::{ExposeSecret, SecretString};
