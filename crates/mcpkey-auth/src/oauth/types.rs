//! Data the OAuth flow keeps: tokens and client registrations.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::{ExposeSecret, SecretString};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serializes a secret for storage (the only place secrets are written).
pub(crate) fn ser_secret<S: Serializer>(s: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.expose_secret())
}

pub(crate) fn de_secret<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(String::deserialize(de)?))
}

pub(crate) fn ser_opt_secret<S: Serializer>(
    s: &Option<SecretString>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    match s {
        Some(v) => ser.serialize_some(v.expose_secret()),
        None => ser.serialize_none(),
    }
}

pub(crate) fn de_opt_secret<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(de)?.map(SecretString::from))
}

/// Tokens from a token endpoint.
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenSet {
    /// The access token.
    #[serde(serialize_with = "ser_secret", deserialize_with = "de_secret")]
    pub access_token: SecretString,
    /// Usually `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// The refresh token, if one was issued.
    #[serde(
        default,
        serialize_with = "ser_opt_secret",
        deserialize_with = "de_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<SecretString>,
    /// Expiry (unix seconds), if the server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// Granted scopes (space-separated), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn bearer() -> String {
    "Bearer".into()
}

impl TokenSet {
    /// A bearer token without expiry or refresh token.
    pub fn bearer(access_token: SecretString) -> Self {
        Self {
            access_token,
            token_type: bearer(),
            refresh_token: None,
            expires_at: None,
            scope: None,
        }
    }

    /// Whether the token expires within `margin` seconds (unknown expiry:
    /// never; the server's 401 tells).
    pub fn expires_within(&self, margin: u64) -> bool {
        self.expires_at
            .is_some_and(|t| t <= now_unix().saturating_add(margin))
    }

    /// Whether two sets carry the same access token.
    pub fn same_access_token(&self, other: &TokenSet) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(
            self.access_token
                .expose_secret()
                .as_bytes()
                .ct_eq(other.access_token.expose_secret().as_bytes()),
        )
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The tokens for one protected resource from one authorization server and
/// client.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenRecord {
    /// The authorization server's issuer identifier.
    pub issuer: String,
    /// The client id the tokens were issued to.
    pub client_id: String,
    /// The tokens.
    pub tokens: TokenSet,
    /// The `resource` indicator they were issued for (RFC 8707), sent again
    /// when refreshing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_indicator: Option<String>,
    /// When they were stored (unix seconds).
    pub updated_at: u64,
}

impl TokenRecord {
    /// A record stamped now.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, tokens: TokenSet) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            tokens,
            resource_indicator: None,
            updated_at: now_unix(),
        }
    }
}

/// A client registered with an authorization server (dynamically, or
/// pre-registered and remembered).
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Registration {
    /// The issuer it is valid for (credentials never cross authorization
    /// servers).
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The client secret, for confidential clients.
    #[serde(
        default,
        serialize_with = "ser_opt_secret",
        deserialize_with = "de_opt_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_secret: Option<SecretString>,
    /// The redirect URI registered (a change means registering again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// How to authenticate at the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// When the secret expires (unix seconds; 0 or absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
}

impl Registration {
    /// A public client (no secret).
    pub fn public(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: None,
            token_endpoint_auth_method: None,
            client_secret_expires_at: None,
        }
    }

    /// Whether the secret has expired.
    pub fn expired(&self) -> bool {
        self.client_secret_expires_at
            .is_some_and(|t| t != 0 && t <= now_unix())
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_debug_redacts() {
        let mut t = TokenSet::bearer(SecretString::from("at-1"));
        t.refresh_token = Some(SecretString::from("rt-1"));
        t.expires_at = Some(10);
        let json = serde_json::to_string(&t).unwrap();
        let back: TokenSet = serde_json::from_str(&json).unwrap();
        assert!(back.same_access_token(&t));
        assert_eq!(back.refresh_token.unwrap().expose_secret(), "rt-1");
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("at-1") && !dbg.contains("rt-1"));
        assert!(t.expires_within(0));
    }
}
