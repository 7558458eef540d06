//! Secret values and header redaction rules.
//!
//! Every credential mcpkey holds lives in a [`SecretString`]: its `Debug`
//! prints `[REDACTED]`, it has no `Display`, and its memory is zeroized on
//! drop. Header values built from secrets are marked *sensitive*
//! ([`HeaderValue::set_sensitive`]) so `http`'s own `Debug` prints `Sensitive`
//! instead of the value.

use http::header::{HeaderName, HeaderValue};
pub use secrecy::{ExposeSecret, SecretString};

use crate::AuthError;

/// Whether a header with this name carries a credential.
///
/// Used for config `headers` (which are plain strings in the user's file) so
/// that `Authorization`, `Cookie`, `X-API-Key`, `X-Auth-Token`,
/// `X-Signature` and the like are treated as secrets even though no `Auth`
/// set them.
///
/// ```
/// use http::header::HeaderName;
/// use mcpkey_auth::secret::is_credential_header;
/// assert!(is_credential_header(&HeaderName::from_static("x-api-key")));
/// assert!(is_credential_header(&HeaderName::from_static("authorization")));
/// assert!(!is_credential_header(&HeaderName::from_static("x-tenant-id")));
/// ```
pub fn is_credential_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    matches!(
        n,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || is_credential_name(n)
}

/// Whether a name (a variable, a parameter; any case) looks like it holds a
/// credential: it contains key, token, secret, signature, password, auth,
/// session, credential or cookie.
///
/// ```
/// use mcpkey_auth::secret::is_credential_name;
/// assert!(is_credential_name("GITHUB_TOKEN"));
/// assert!(is_credential_name("apiKey"));
/// assert!(!is_credential_name("HOST"));
/// ```
pub fn is_credential_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "cookie",
        "key",
        "token",
        "secret",
        "signature",
        "password",
        "auth",
        "session",
        "credential",
    ]
    .iter()
    .any(|needle| n.contains(needle))
}

/// Builds a header value marked sensitive, without echoing the value in the
/// error if it is not a valid header value.
pub fn sensitive_value(name: &HeaderName, value: &str) -> Result<HeaderValue, AuthError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| AuthError::InvalidHeaderValue {
        name: name.as_str().to_owned(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A secret header value (the value is never printed).
pub fn secret_header(name: &HeaderName, value: &SecretString) -> Result<HeaderValue, AuthError> {
    sensitive_value(name, value.expose_secret())
}
