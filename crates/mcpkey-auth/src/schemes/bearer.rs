//! `Authorization: Bearer <token>` (RFC 6750) on every request.

use std::fmt;

use async_trait::async_trait;
use http::header::{AUTHORIZATION, HeaderValue};

use crate::secret::{ExposeSecret, SecretString, sensitive_value};
use crate::{Auth, AuthError, AuthRequest};

/// A static bearer token.
///
/// ```
/// use mcpkey_auth::{Bearer, SecretString};
/// let auth = Bearer::new(SecretString::from("my-token"));
/// assert!(!format!("{auth:?}").contains("my-token"));
/// ```
pub struct Bearer {
    header: HeaderValue,
}

impl Bearer {
    /// A bearer auth for this token. A token that already starts with
    /// `Bearer ` is not prefixed twice.
    pub fn new(token: SecretString) -> Self {
        let t = token.expose_secret().trim();
        let value = if t.len() > 7 && t[..7].eq_ignore_ascii_case("bearer ") {
            t.to_owned()
        } else {
            format!("Bearer {t}")
        };
        // An invalid value (control characters) is reported on first use, so
        // that construction stays infallible for callers.
        let header = sensitive_value(&AUTHORIZATION, &value).unwrap_or_else(|_| {
            let mut v = HeaderValue::from_static("");
            v.set_sensitive(true);
            v
        });
        Self { header }
    }

    /// Builds the auth, failing now if the token cannot be a header value.
    pub fn try_new(token: SecretString) -> Result<Self, AuthError> {
        let b = Self::new(token);
        if b.header.is_empty() {
            return Err(AuthError::InvalidHeaderValue {
                name: "authorization".into(),
            });
        }
        Ok(b)
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer([REDACTED])")
    }
}

#[async_trait]
impl Auth for Bearer {
    fn scheme(&self) -> &str {
        "bearer"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        if self.header.is_empty() {
            return Err(AuthError::InvalidHeaderValue {
                name: "authorization".into(),
            });
        }
        req.headers.insert(AUTHORIZATION, self.header.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use url::Url;

    use crate::RequestKind;

    #[tokio::test]
    async fn sets_sensitive_header_once_prefixed() {
        for tok in ["abc", "Bearer abc", "bearer abc"] {
            let b = Bearer::new(SecretString::from(tok));
            let mut r = AuthRequest::new(
                Method::POST,
                Url::parse("http://127.0.0.1/").unwrap(),
                RequestKind::Post,
            );
            b.apply(&mut r).await.unwrap();
            let v = &r.headers[AUTHORIZATION];
            assert!(v.is_sensitive());
            assert_eq!(v.to_str().unwrap().to_ascii_lowercase(), "bearer abc");
        }
    }

    #[test]
    fn rejects_newlines() {
        assert!(Bearer::try_new(SecretString::from("a\nb")).is_err());
    }
}
