//! How a server's OAuth is configured.

use std::time::Duration;

use crate::secret::SecretString;

use super::crypto::JwtAlgorithm;
use super::discovery::ServerMetadata;

/// Which grant obtains tokens.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Grant {
    /// The authorization code flow with PKCE: a user logs in.
    #[default]
    AuthorizationCode,
    /// `client_credentials` for machine clients (pre-registered only).
    ClientCredentials,
    /// Enterprise-managed authorization (SEP-990): an identity provider's ID
    /// token is exchanged for an ID-JAG (RFC 8693), which is presented to the
    /// authorization server as a JWT bearer grant (RFC 7523).
    EnterpriseManaged(EnterpriseManaged),
}

/// The identity provider side of [`Grant::EnterpriseManaged`].
#[derive(Clone)]
#[non_exhaustive]
pub struct EnterpriseManaged {
    /// The identity provider's token endpoint.
    pub idp_token_endpoint: String,
    /// The user's ID token from the identity provider.
    pub id_token: SecretString,
    /// The client id at the identity provider, if it wants one.
    pub idp_client_id: Option<String>,
    /// The client secret at the identity provider, if any.
    pub idp_client_secret: Option<SecretString>,
}

impl EnterpriseManaged {
    /// The identity provider's token endpoint and the user's ID token.
    pub fn new(idp_token_endpoint: impl Into<String>, id_token: SecretString) -> Self {
        Self {
            idp_token_endpoint: idp_token_endpoint.into(),
            id_token,
            idp_client_id: None,
            idp_client_secret: None,
        }
    }
}

impl std::fmt::Debug for EnterpriseManaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnterpriseManaged")
            .field("idp_token_endpoint", &self.idp_token_endpoint)
            .finish_non_exhaustive()
    }
}

/// OAuth settings of one server (mcp-use's `auth` object, and more).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OAuthConfig {
    /// Pre-registered client id.
    pub client_id: Option<String>,
    /// Pre-registered client secret.
    pub client_secret: Option<SecretString>,
    /// A PKCS#8 PEM key for `private_key_jwt` (client credentials).
    pub private_key: Option<(SecretString, JwtAlgorithm)>,
    /// Scopes to request, overriding what the server suggests.
    pub scope: Option<String>,
    /// Client ID Metadata Document URL (used when the server supports it).
    pub client_metadata_url: Option<String>,
    /// Name used for dynamic registration.
    pub client_name: String,
    /// Which grant.
    pub grant: Grant,
    /// Authorization server metadata given explicitly (skips discovery).
    pub metadata: Option<ServerMetadata>,
    /// Allow plain-http authorization server endpoints on non-loopback hosts.
    pub allow_http: bool,
    /// Most authorizations for one request (step-up included).
    pub max_authorizations: u32,
    /// Refresh this many seconds before expiry.
    pub refresh_margin: u64,
    /// Attempts at a refresh when the token endpoint fails transiently
    /// (5xx, timeout, network error, an answer that is not a token
    /// response); a refusal such as `invalid_grant` is never retried.
    pub refresh_attempts: u32,
    /// Wait before the second attempt, doubled before each later one.
    pub refresh_backoff: Duration,
    /// Longest wait for the token endpoint's answer to one attempt.
    pub refresh_timeout: Duration,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            private_key: None,
            scope: None,
            client_metadata_url: None,
            client_name: "mcpkey".into(),
            grant: Grant::AuthorizationCode,
            metadata: None,
            allow_http: false,
            max_authorizations: 3,
            refresh_margin: 60,
            refresh_attempts: 3,
            refresh_backoff: Duration::from_millis(200),
            refresh_timeout: Duration::from_secs(10),
        }
    }
}
