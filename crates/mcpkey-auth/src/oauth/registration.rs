//! Client identity, in the spec's priority order: pre-registered
//! credentials, a Client ID Metadata Document, a stored registration, then
//! Dynamic Client Registration (RFC 7591).

use bytes::Bytes;
use http::{Method, Request};
use serde::Deserialize;

use super::discovery::{ServerMetadata, check_url};
use super::http::OAuthHttp;
use super::store::TokenStore;
use super::types::Registration;
use crate::AuthError;
use crate::redact::is_loopback;
use crate::secret::SecretString;

/// What the configuration says about the client.
#[derive(Clone, Default)]
pub struct ClientIdentity {
    /// Pre-registered client id.
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<SecretString>,
    /// A Client ID Metadata Document URL (used when the server supports CIMD).
    pub client_metadata_url: Option<String>,
    /// The name to register with.
    pub client_name: String,
}

/// How the registration was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// From the configuration.
    Configured,
    /// The CIMD URL as client id.
    MetadataDocument,
    /// A registration kept from an earlier run.
    Stored,
    /// Registered just now.
    Registered,
}

#[derive(Deserialize)]
struct DcrResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    client_secret_expires_at: Option<u64>,
}

/// The registration to use with `meta`'s server for `redirect_uri`.
#[allow(clippy::too_many_arguments)]
pub async fn identity(
    http: &dyn OAuthHttp,
    store: &dyn TokenStore,
    meta: &ServerMetadata,
    config: &ClientIdentity,
    redirect_uri: &str,
    scope: Option<&str>,
    want_refresh: bool,
    allow_http: bool,
) -> Result<(Registration, IdentitySource), AuthError> {
    if let Some(id) = &config.client_id {
        let mut r = Registration::public(&meta.issuer, id);
        r.client_secret = config.client_secret.clone();
        r.redirect_uri = Some(redirect_uri.to_owned());
        return Ok((r, IdentitySource::Configured));
    }
    if let Some(url) = &config.client_metadata_url
        && meta.client_id_metadata_document_supported == Some(true)
    {
        let mut r = Registration::public(&meta.issuer, url);
        r.redirect_uri = Some(redirect_uri.to_owned());
        r.token_endpoint_auth_method = Some("none".into());
        return Ok((r, IdentitySource::MetadataDocument));
    }
    if let Some(stored) = store.registration(&meta.issuer).await? {
        if stored.redirect_uri.as_deref() == Some(redirect_uri) && !stored.expired() {
            return Ok((stored, IdentitySource::Stored));
        }
        tracing::debug!(issuer = %meta.issuer, "the stored registration is for another redirect URI or expired; registering again");
    }
    let Some(endpoint) = &meta.registration_endpoint else {
        return Err(AuthError::prepare(
            "oauth",
            format!(
                "the authorization server {} supports neither client ID metadata documents nor dynamic registration; \
                 set \"client_id\" (and \"client_secret\") in this server's \"auth\"",
                meta.issuer
            ),
        ));
    };
    let endpoint = check_url("registration endpoint", endpoint, allow_http)?;
    let supported = meta.token_endpoint_auth_methods_supported.as_deref();
    let method = match supported {
        None => "none",
        Some(s) if s.iter().any(|m| m == "none") => "none",
        Some(s) if s.iter().any(|m| m == "client_secret_basic") => "client_secret_basic",
        Some(s) if s.iter().any(|m| m == "client_secret_post") => "client_secret_post",
        Some(_) => "none",
    };
    let native =
        url::Url::parse(redirect_uri).is_ok_and(|u| is_loopback(&u) || u.scheme() != "https");
    let mut grant_types = vec!["authorization_code"];
    if want_refresh {
        grant_types.push("refresh_token");
    }
    let mut body = serde_json::json!({
        "client_name": config.client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": if native { "native" } else { "web" },
    });
    if let Some(s) = scope {
        body["scope"] = serde_json::Value::String(s.to_owned());
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri(endpoint.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::from(body.to_string()))
        .map_err(|_| AuthError::prepare("oauth", "cannot build the registration request"))?;
    let resp = http.send(req).await?;
    if !resp.status().is_success() {
        let detail: String = String::from_utf8_lossy(resp.body())
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        return Err(AuthError::Rejected {
            scheme: "oauth".into(),
            reason: format!(
                "dynamic client registration at {} failed with HTTP {}: {detail}",
                meta.issuer,
                resp.status().as_u16()
            ),
        });
    }
    let r: DcrResponse = serde_json::from_slice(resp.body())
        .map_err(|_| AuthError::prepare("oauth", "the registration response has no client_id"))?;
    let registration = Registration {
        issuer: meta.issuer.clone(),
        client_id: r.client_id,
        client_secret: r
            .client_secret
            .filter(|s| !s.is_empty())
            .map(SecretString::from),
        redirect_uri: Some(redirect_uri.to_owned()),
        token_endpoint_auth_method: r.token_endpoint_auth_method.or(Some(method.to_owned())),
        client_secret_expires_at: r.client_secret_expires_at,
    };
    store.put_registration(registration.clone()).await?;
    Ok((registration, IdentitySource::Registered))
}
