//! Token endpoint requests (RFC 6749 §4.1.3, §6, §4.4; RFC 7523 §2.1) and
//! client authentication (`client_secret_basic`, `client_secret_post`,
//! `private_key_jwt`, `none`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request};
use serde::Deserialize;
use url::Url;
use url::form_urlencoded;

use super::crypto::{JwtAlgorithm, client_assertion};
use super::http::OAuthHttp;
use super::types::{TokenSet, now_unix};
use crate::AuthError;
use crate::secret::{ExposeSecret, SecretString};

/// How the client authenticates at the token endpoint.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: only `client_id`.
    None,
    /// `Authorization: Basic` with the client id and secret.
    SecretBasic(SecretString),
    /// `client_secret` in the form body.
    SecretPost(SecretString),
    /// A signed JWT assertion.
    PrivateKeyJwt {
        /// PKCS#8 PEM private key.
        key: SecretString,
        /// ES256 or RS256.
        alg: JwtAlgorithm,
    },
}

impl ClientAuth {
    /// The RFC 7591 name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::SecretBasic(_) => "client_secret_basic",
            Self::SecretPost(_) => "client_secret_post",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.method())
    }
}

/// Chooses the client authentication from what registration returned and
/// what the server supports: the registered method if any, else Basic
/// (the RFC 6749 default) when the server lists it or lists nothing, else
/// POST; `none` without a secret.
pub fn choose_client_auth(
    secret: Option<&SecretString>,
    registered_method: Option<&str>,
    supported: Option<&[String]>,
) -> ClientAuth {
    let Some(secret) = secret.filter(|s| !s.expose_secret().is_empty()) else {
        return ClientAuth::None;
    };
    let supports = |m: &str| supported.is_none_or(|s| s.iter().any(|x| x == m));
    match registered_method {
        Some("client_secret_post") => ClientAuth::SecretPost(secret.clone()),
        Some("client_secret_basic") => ClientAuth::SecretBasic(secret.clone()),
        Some("none") => ClientAuth::None,
        _ if supports("client_secret_basic") => ClientAuth::SecretBasic(secret.clone()),
        _ if supports("client_secret_post") => ClientAuth::SecretPost(secret.clone()),
        _ => ClientAuth::SecretBasic(secret.clone()),
    }
}

/// Why a token request failed.
#[derive(Debug)]
pub enum TokenFailure {
    /// The server refused (`invalid_grant`, `invalid_client`, ...): do not
    /// retry the same request.
    Refused {
        /// The OAuth error code.
        error: String,
        /// Its description, if any (server text, trimmed).
        description: Option<String>,
    },
    /// The server or the network failed; retrying later may work.
    Transient(AuthError),
}

impl TokenFailure {
    /// As an [`AuthError`] for callers.
    pub fn into_error(self, what: &str) -> AuthError {
        match self {
            Self::Refused { error, description } => AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the token endpoint refused the {what}: {error}{}",
                    description.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            },
            Self::Transient(e) => e,
        }
    }
}

/// A successful token response (RFC 6749 §5.1) as a [`TokenSet`]. A huge
/// `expires_in` saturates instead of overflowing.
pub(crate) fn parse_token_set(body: &[u8]) -> Result<TokenSet, AuthError> {
    let t: TokenResponse = serde_json::from_slice(body).map_err(|_| {
        AuthError::prepare(
            "oauth",
            "the token endpoint's answer is not a token response",
        )
    })?;
    if t.access_token.is_empty() {
        return Err(AuthError::prepare(
            "oauth",
            "the token endpoint returned an empty access token",
        ));
    }
    let expires_in = t.expires_in.and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    });
    Ok(TokenSet {
        access_token: SecretString::from(t.access_token),
        token_type: t.token_type.unwrap_or_else(|| "Bearer".into()),
        refresh_token: t
            .refresh_token
            .filter(|r| !r.is_empty())
            .map(SecretString::from),
        expires_at: expires_in.map(|s| now_unix().saturating_add(s)),
        scope: t.scope,
    })
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ErrorResponse {
    pub error: String,
    #[serde(default)]
    pub error_description: Option<String>,
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The form body (and Basic header) of a token request.
fn token_form(
    client_id: &str,
    auth: &ClientAuth,
    audience: &str,
    params: &[(&str, &str)],
) -> Result<(SecretString, Option<http::HeaderValue>), TokenFailure> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        form.append_pair(k, v);
    }
    let mut basic = None;
    match auth {
        ClientAuth::None => {
            form.append_pair("client_id", client_id);
        }
        ClientAuth::SecretPost(secret) => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret.expose_secret());
        }
        ClientAuth::SecretBasic(secret) => {
            // RFC 6749 §2.3.1: form-encode both halves first.
            let pair = SecretString::from(format!(
                "{}:{}",
                urlencode(client_id),
                urlencode(secret.expose_secret())
            ));
            let mut v = http::HeaderValue::from_str(&format!(
                "Basic {}",
                STANDARD.encode(pair.expose_secret())
            ))
            .map_err(|_| {
                TokenFailure::Transient(AuthError::InvalidHeaderValue {
                    name: "authorization".into(),
                })
            })?;
            v.set_sensitive(true);
            basic = Some(v);
        }
        ClientAuth::PrivateKeyJwt { key, alg } => {
            let jwt = client_assertion(client_id, audience, key, *alg)
                .map_err(TokenFailure::Transient)?;
            form.append_pair("client_id", client_id);
            form.append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            );
            form.append_pair("client_assertion", &jwt);
        }
    }
    Ok((SecretString::from(form.finish()), basic))
}

/// Sends one token request with `params` (grant type and its fields), adding
/// the client authentication.
pub async fn request(
    http: &dyn OAuthHttp,
    token_url: &Url,
    client_id: &str,
    auth: &ClientAuth,
    audience: &str,
    params: &[(&str, &str)],
) -> Result<TokenSet, TokenFailure> {
    let (body, basic) = token_form(client_id, auth, audience, params)?;
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(token_url.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json");
    if let Some(v) = basic {
        builder = builder.header(http::header::AUTHORIZATION, v);
    }
    let req = builder
        .body(Bytes::from(body.expose_secret().to_owned()))
        .map_err(|_| {
            TokenFailure::Transient(AuthError::prepare(
                "oauth",
                "cannot build the token request",
            ))
        })?;
    let resp = http.send(req).await.map_err(TokenFailure::Transient)?;
    let status = resp.status();
    if status.is_success() {
        return parse_token_set(resp.body()).map_err(TokenFailure::Transient);
    }
    if status.is_client_error() {
        if let Ok(e) = serde_json::from_slice::<ErrorResponse>(resp.body()) {
            let description = e
                .error_description
                .map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect());
            let error: String = e
                .error
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect();
            return Err(TokenFailure::Refused { error, description });
        }
        return Err(TokenFailure::Refused {
            error: format!("HTTP {}", status.as_u16()),
            description: None,
        });
    }
    Err(TokenFailure::Transient(AuthError::prepare(
        "oauth",
        format!("the token endpoint answered HTTP {}", status.as_u16()),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_choice() {
        let s = SecretString::from("x");
        assert_eq!(choose_client_auth(None, None, None).method(), "none");
        assert_eq!(
            choose_client_auth(Some(&s), None, None).method(),
            "client_secret_basic"
        );
        let post = vec!["client_secret_post".to_owned()];
        assert_eq!(
            choose_client_auth(Some(&s), None, Some(&post)).method(),
            "client_secret_post"
        );
        assert_eq!(
            choose_client_auth(Some(&s), Some("client_secret_post"), None).method(),
            "client_secret_post"
        );
        assert_eq!(
            choose_client_auth(Some(&s), Some("none"), None).method(),
            "none"
        );
        assert_eq!(
            choose_client_auth(Some(&SecretString::from("")), None, None).method(),
            "none"
        );
    }
}
