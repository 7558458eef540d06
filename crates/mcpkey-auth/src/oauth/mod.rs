//! OAuth 2.1 for MCP (authorization spec 2025-11-25 and 2026-07-28).
//!
//! Split by role: [`types`] (tokens, registrations), [`store`] (where they
//! persist; [`file_store`] on disk), [`http`] (the OAuth HTTP client seam),
//! [`ui`] (the user-agent step of the authorization code flow).

pub mod challenge;
mod client;
pub mod config;
pub mod crypto;
pub mod discovery;
pub mod file_store;
pub mod http;
#[cfg(feature = "keyring")]
pub mod keyring_store;
pub mod registration;
pub mod store;
pub mod token;
pub mod types;
pub mod ui;

pub use self::http::{MAX_OAUTH_BODY, OAuthHttp};
pub use challenge::{BearerChallenge, Challenge, find_bearer};
pub use client::{OAuth, canonical_resource};
pub use config::{EnterpriseManaged, Grant, OAuthConfig};
pub use crypto::JwtAlgorithm;
pub use discovery::ServerMetadata;
pub use file_store::FileStore;
#[cfg(feature = "keyring")]
pub use keyring_store::KeyringStore;
pub use store::{MemoryStore, StoreLock, TokenStore};
pub use types::{Registration, TokenRecord, TokenSet, now_unix};
pub use ui::{AuthorizationPrompt, AuthorizationUi, FollowRedirectUi};
