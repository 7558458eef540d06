//! # mcpkey
//!
//! An MCP (Model Context Protocol) client that connects to any server —
//! local or remote, over stdio, Streamable HTTP or legacy HTTP+SSE, in the
//! current (2026-07-28) or a legacy (2025-11-25 and older) protocol era —
//! and authenticates to it any way the server demands.
//!
//! ```text
//!  config ──▶ Client ──▶ Session ──▶ transport ──▶ Auth ──▶ wire
//!  (mcp.json) (many      (one server, (stdio,       (every HTTP
//!             servers)    either era)  HTTP, SSE)    request)
//! ```
//!
//! ## Quick start
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mcpkey::{Client, Config};
//!
//! let client = Client::from_config(Config::from_file("mcp.json")?);
//! let report = client.connect_all().await;
//! for failure in &report.failed {
//!     eprintln!("{failure}");
//! }
//! let session = client.session("everything").await?;
//! let args = serde_json::json!({"message": "hi"});
//! let result = session.call_tool("echo", args.as_object().cloned()).await?;
//! println!("{:?}", result.content);
//! # Ok(()) }
//! ```
//!
//! ## Authentication
//!
//! Every HTTP request of every transport passes through one
//! [`Auth`](mcpkey_auth::Auth) (re-exported as [`auth`]): set `"auth"` in the
//! config, or pass an implementation to [`ServerConfig::auth`].

pub mod client;
pub mod config;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod login;
pub mod session;
pub mod transport;

pub use client::handler::{
    AcceptDefaults, ElicitationHandler, Notification, NotificationHandler, SamplingHandler,
};
pub use client::{AccountStatus, Client, ClientBuilder, ConnectReport, LoginOutcome};
pub use config::{Config, ConfigError, HttpTransport, Limits, ProtocolPin, ServerConfig};
pub use error::{Attempt, Error, ErrorKind, Result};
pub use login::LoopbackUi;
pub use session::{CallOptions, Era, ServerDetails, Session, Subscribe, Subscription};
pub use transport::TransportKind;

/// The authentication seam (the `mcpkey-auth` crate).
pub use mcpkey_auth as auth;
/// The official MCP model types (the `rmcp` crate's `model` module).
pub use rmcp::model;

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
