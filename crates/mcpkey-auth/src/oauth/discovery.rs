//! Finding the authorization server: protected resource metadata (RFC 9728)
//! and authorization server metadata (RFC 8414 and OpenID Connect
//! Discovery), in the order the MCP authorization spec prescribes, with the
//! checks that stop a hostile server from redirecting credentials.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde::Deserialize;
use url::Url;

use super::challenge::BearerChallenge;
use super::http::OAuthHttp;
use crate::AuthError;
use crate::redact::{RedactedUrl, is_loopback};

/// Protected resource metadata (RFC 9728 §2), the fields MCP uses.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// The protected resource's identifier: sent as `resource` verbatim.
    pub resource: String,
    /// Authorization servers that issue tokens for it.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes it knows.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

/// Authorization server metadata (RFC 8414 §2), the fields MCP uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// Where users authorize.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Where codes become tokens.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Dynamic client registration (RFC 7591).
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// Known scopes.
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
    /// Grant types.
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
    /// PKCE methods; absent means PKCE is not supported.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Token endpoint client authentication methods.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Client ID metadata documents (CIMD).
    #[serde(default)]
    pub client_id_metadata_document_supported: Option<bool>,
    /// RFC 9207 `iss` in authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

/// Where metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataSource {
    /// A well-known document.
    Discovered,
    /// 2025-03-26 fallback: no metadata; endpoints guessed from the origin.
    LegacyEndpoints,
    /// Given in the configuration.
    Configured,
}

/// Checks that an OAuth URL is usable: http(s) only, and `https` unless the
/// host is this machine (or the configuration allows plain http).
pub fn check_url(what: &str, raw: &str, allow_http: bool) -> Result<Url, AuthError> {
    let url = Url::parse(raw)
        .map_err(|_| AuthError::prepare("oauth", format!("the {what} is not a URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&url) => {}
        "http" => {
            return Err(AuthError::prepare(
                "oauth",
                format!(
                    "the {what} {} is plain http; OAuth endpoints must use https (loopback excepted)",
                    RedactedUrl(&url)
                ),
            ));
        }
        other => {
            return Err(AuthError::prepare(
                "oauth",
                format!("the {what} uses the {other:?} scheme; only https is accepted"),
            ));
        }
    }
    if url.fragment().is_some() || url.host_str().is_none_or(str::is_empty) {
        return Err(AuthError::prepare(
            "oauth",
            format!("the {what} is not a usable URL"),
        ));
    }
    Ok(url)
}

/// GET a JSON document. `Ok(None)` for a 4xx or a body that is not JSON of
/// the expected shape; errors for network failures and 5xx.
async fn get_json<T: for<'de> Deserialize<'de>>(
    http: &dyn OAuthHttp,
    url: &Url,
) -> Result<Option<T>, AuthError> {
    let req = Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(http::header::ACCEPT, "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(Bytes::new())
        .map_err(|_| AuthError::prepare("oauth", "cannot build a metadata request"))?;
    let resp = http.send(req).await?;
    let status = resp.status();
    if status.is_server_error() {
        return Err(AuthError::prepare(
            "oauth",
            format!("{} answered HTTP {}", RedactedUrl(url), status.as_u16()),
        ));
    }
    if status != StatusCode::OK {
        tracing::debug!(url = %RedactedUrl(url), status = status.as_u16(), "no metadata here");
        return Ok(None);
    }
    match serde_json::from_slice(resp.body()) {
        Ok(v) => Ok(Some(v)),
        Err(e) => {
            tracing::debug!(url = %RedactedUrl(url), error = %e, "not a metadata document");
            Ok(None)
        }
    }
}

/// Whether a metadata `resource` identifies the MCP server at `server`:
/// same scheme, host and port, and a path that is the server's path or one
/// of its parents (an origin-level `resource` from root metadata).
pub fn resource_matches(resource: &str, server: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    if r.fragment().is_some()
        || !r.scheme().eq_ignore_ascii_case(server.scheme())
        || r.host_str().map(str::to_ascii_lowercase)
            != server.host_str().map(str::to_ascii_lowercase)
        || r.port_or_known_default() != server.port_or_known_default()
    {
        return false;
    }
    let rp = r.path().trim_end_matches('/');
    let sp = server.path().trim_end_matches('/');
    rp.is_empty() || sp == rp || sp.starts_with(&format!("{rp}/"))
}

/// Finds the protected resource metadata of `server`: the challenge's
/// `resource_metadata` if given, else the path-inserted well-known URL,
/// else the root one. `Ok(None)`: the server publishes none (2025-03-26
/// servers). A document whose `resource` does not identify the server is
/// refused.
pub async fn resource_metadata(
    http: &dyn OAuthHttp,
    server: &Url,
    challenge: Option<&BearerChallenge>,
    allow_http: bool,
) -> Result<Option<ResourceMetadata>, AuthError> {
    let mut candidates = Vec::new();
    if let Some(u) = challenge.and_then(|c| c.resource_metadata.as_deref()) {
        candidates.push(check_url("resource metadata URL", u, allow_http)?);
    } else {
        let origin = server.origin().ascii_serialization();
        let path = server.path().trim_end_matches('/');
        if !path.is_empty() {
            candidates.push(check_url(
                "resource metadata URL",
                &format!("{origin}/.well-known/oauth-protected-resource{path}"),
                allow_http,
            )?);
        }
        candidates.push(check_url(
            "resource metadata URL",
            &format!("{origin}/.well-known/oauth-protected-resource"),
            allow_http,
        )?);
    }
    for url in candidates {
        if let Some(prm) = get_json::<ResourceMetadata>(http, &url).await? {
            if !resource_matches(&prm.resource, server) {
                return Err(AuthError::Rejected {
                    scheme: "oauth".into(),
                    reason: format!(
                        "the server's protected resource metadata names another resource ({}); refusing to authorize for it",
                        Url::parse(&prm.resource)
                            .map(|u| u.origin().ascii_serialization())
                            .unwrap_or_else(|_| "an invalid URL".into())
                    ),
                });
            }
            return Ok(Some(prm));
        }
    }
    Ok(None)
}

/// The metadata URLs of `issuer`, in the spec's order: RFC 8414 path
/// insertion, OIDC path insertion, OIDC path appending (root forms for an
/// issuer without a path). Root metadata is never tried for a path issuer.
pub fn server_metadata_urls(issuer: &Url) -> Vec<String> {
    let origin = issuer.origin().ascii_serialization();
    let path = issuer.path().trim_end_matches('/');
    if path.is_empty() {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server"),
            format!("{origin}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}/.well-known/openid-configuration{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ]
    }
}

/// Whether two issuer identifiers are the same (exact, apart from one
/// trailing slash).
fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Fetches the metadata of the authorization server `issuer`; its
/// `issuer` must equal the one asked for (RFC 8414 §3.3), otherwise it is
/// discarded and nothing is sent to its endpoints.
pub async fn server_metadata(
    http: &dyn OAuthHttp,
    issuer: &str,
    allow_http: bool,
) -> Result<ServerMetadata, AuthError> {
    let issuer_url = check_url("authorization server", issuer, allow_http)?;
    for raw in server_metadata_urls(&issuer_url) {
        let url = check_url("authorization server metadata URL", &raw, allow_http)?;
        if let Some(meta) = get_json::<ServerMetadata>(http, &url).await? {
            if !same_issuer(&meta.issuer, issuer) {
                return Err(AuthError::Rejected {
                    scheme: "oauth".into(),
                    reason: format!(
                        "the authorization server metadata at {} claims another issuer; discarded (RFC 8414 §3.3)",
                        RedactedUrl(&url)
                    ),
                });
            }
            return Ok(meta);
        }
    }
    Err(AuthError::prepare(
        "oauth",
        format!(
            "no authorization server metadata found for {} (tried RFC 8414 and OpenID Connect discovery)",
            RedactedUrl(&issuer_url)
        ),
    ))
}

/// The 2025-03-26 fallback when the MCP server publishes no resource
/// metadata: the authorization server is the MCP server's origin, found at
/// its root metadata, or else at `/authorize`, `/token` and `/register`.
pub async fn legacy_server_metadata(
    http: &dyn OAuthHttp,
    server: &Url,
    allow_http: bool,
) -> Result<(ServerMetadata, MetadataSource), AuthError> {
    let origin = server.origin().ascii_serialization();
    let url = check_url(
        "authorization server metadata URL",
        &format!("{origin}/.well-known/oauth-authorization-server"),
        allow_http,
    )?;
    if let Some(meta) = get_json::<ServerMetadata>(http, &url).await? {
        // 2025-03-26 servers often publish an issuer under a sub-path; the
        // issuer check is relaxed here (legacy mode only).
        return Ok((meta, MetadataSource::Discovered));
    }
    Ok((
        ServerMetadata {
            issuer: origin.clone(),
            authorization_endpoint: Some(format!("{origin}/authorize")),
            token_endpoint: Some(format!("{origin}/token")),
            registration_endpoint: Some(format!("{origin}/register")),
            ..ServerMetadata::default()
        },
        MetadataSource::LegacyEndpoints,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_url_order() {
        let u = Url::parse("https://a.example/t1").unwrap();
        assert_eq!(
            server_metadata_urls(&u),
            [
                "https://a.example/.well-known/oauth-authorization-server/t1",
                "https://a.example/.well-known/openid-configuration/t1",
                "https://a.example/t1/.well-known/openid-configuration"
            ]
        );
        let u = Url::parse("https://a.example/").unwrap();
        assert_eq!(
            server_metadata_urls(&u),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn resource_matching() {
        let s = Url::parse("http://localhost:3000/mcp").unwrap();
        assert!(resource_matches("http://localhost:3000/mcp", &s));
        assert!(resource_matches("http://localhost:3000", &s));
        assert!(resource_matches("http://LOCALHOST:3000/mcp/", &s));
        assert!(!resource_matches("https://evil.example.com/mcp", &s));
        assert!(!resource_matches("http://localhost:3001/mcp", &s));
        assert!(!resource_matches("http://localhost:3000/mcp2", &s));
        assert!(!resource_matches("http://localhost:3000/other", &s));
        assert!(!resource_matches("not a url", &s));
    }

    #[test]
    fn url_checks() {
        assert!(check_url("x", "https://as.example/authorize", false).is_ok());
        assert!(check_url("x", "http://127.0.0.1:9/token", false).is_ok());
        assert!(check_url("x", "http://as.example/token", false).is_err());
        assert!(check_url("x", "http://as.example/token", true).is_ok());
        assert!(check_url("x", "javascript:alert(1)", true).is_err());
        assert!(check_url("x", "file:///etc/passwd", true).is_err());
    }
}
