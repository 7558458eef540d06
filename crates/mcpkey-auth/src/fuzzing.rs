//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a
//! public API). Each takes arbitrary bytes, runs one parser the way the
//! library does on outside input, and checks what must always hold. A
//! panic, hang or unbounded allocation here is a bug.

// Fuzz entry points: failing an assertion (panicking) is how they report.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use http_auth::PasswordParams;

use crate::oauth::challenge::{Challenge, find_bearer};
use crate::oauth::discovery::{ResourceMetadata, ServerMetadata, check_url, resource_matches};
use crate::redact;
use crate::schemes::digest::strongest_challenge;

/// `WWW-Authenticate` values, one per line: the Bearer challenge MCP reads
/// and the strongest Digest challenge, answered for a request.
pub fn www_authenticate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match find_bearer(text.lines()) {
        Challenge::Bearer(c) => {
            let _ = c.insufficient_scope();
            if let Some(url) = &c.resource_metadata {
                let _ = check_url("resource metadata URL", url, false);
            }
        }
        Challenge::Absent | Challenge::OtherScheme => {}
    }
    if let Some(mut client) = strongest_challenge(text.lines()) {
        let _ = client.stale();
        for body in [None, Some(&b"{}"[..])] {
            let _ = client.respond(&PasswordParams {
                username: "user",
                password: "password",
                uri: "/mcp?x=1",
                method: "POST",
                body,
            });
        }
    }
}

/// Protected-resource and authorization-server metadata documents, with the
/// checks discovery applies to their fields.
pub fn metadata(data: &[u8]) {
    let server = url::Url::parse("https://mcp.example.com/tenant/mcp").expect("a valid URL");
    if let Ok(m) = serde_json::from_slice::<ResourceMetadata>(data) {
        let _ = resource_matches(&m.resource, &server);
        for a in &m.authorization_servers {
            if let Ok(u) = check_url("authorization server", a, false) {
                let _ = crate::oauth::discovery::server_metadata_urls(&u);
            }
        }
    }
    if let Ok(m) = serde_json::from_slice::<ServerMetadata>(data) {
        let _ = check_url("issuer", &m.issuer, true);
        for e in [
            &m.authorization_endpoint,
            &m.token_endpoint,
            &m.registration_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            let _ = check_url("endpoint", e, true);
        }
    }
}

/// Token endpoint answers: a token response, or an error response.
pub fn token_response(data: &[u8]) {
    if let Ok(t) = crate::oauth::token::parse_token_set(data) {
        let _ = t.expires_within(60);
        // Debug never shows the tokens: if the token's text shows, it must
        // come from another field (it still shows with another token).
        let shown = format!("{t:?}");
        let mut other = t.clone();
        other.access_token = crate::secret::SecretString::from("\u{1}".to_owned());
        other.refresh_token = None;
        let elsewhere = format!("{other:?}");
        let access = secrecy::ExposeSecret::expose_secret(&t.access_token);
        assert!(
            !shown.contains(access) || elsewhere.contains(access),
            "Debug of a TokenSet shows the access token"
        );
        if let Some(r) = &t.refresh_token {
            let refresh = secrecy::ExposeSecret::expose_secret(r);
            assert!(
                !shown.contains(refresh) || elsewhere.contains(refresh),
                "Debug of a TokenSet shows the refresh token"
            );
        }
    }
    let _ = serde_json::from_slice::<crate::oauth::token::ErrorResponse>(data);
}

/// Redaction: a secret put in a URL's query as a value (the way a
/// `QueryParam` auth does) never shows when the URL is printed, whatever
/// the base URL, the parameter name and the secret are. (The secret may
/// still show if it also occurs in the host, path or a parameter name,
/// which is checked by printing the URL with another value.)
pub fn redaction(base: &str, name: &str, secret: &str) {
    let Ok(mut u) = url::Url::parse(base) else {
        return;
    };
    if u.cannot_be_a_base() || secret.is_empty() {
        return;
    }
    let mut other = u.clone();
    u.query_pairs_mut().append_pair(name, secret);
    other.query_pairs_mut().append_pair(name, "\u{1}");
    let shown = redact::RedactedUrl(&u).to_string();
    if shown.contains(secret) {
        let elsewhere = redact::RedactedUrl(&other).to_string();
        assert!(
            elsewhere.contains(secret),
            "{shown} shows the query value {secret:?}"
        );
    }
    let _ = redact::origin_string(&u);
}

#[cfg(test)]
mod properties;
