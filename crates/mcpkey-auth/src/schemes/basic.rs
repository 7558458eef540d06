//! HTTP Basic authentication (RFC 7617): `Authorization: Basic
//! base64(user:password)`, UTF-8 encoded.

use std::fmt;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HeaderValue};

use crate::secret::{ExposeSecret, SecretString, sensitive_value};
use crate::{Auth, AuthError, AuthRequest};

/// Username and password sent with every request.
///
/// Basic sends the password (encoded, not encrypted) on every request: use
/// it over HTTPS only (mcpkey refuses plain `http://` to remote hosts).
///
/// ```
/// use mcpkey_auth::{Basic, SecretString};
/// let auth = Basic::new("Aladdin", SecretString::from("open sesame")).unwrap();
/// assert!(!format!("{auth:?}").contains("sesame"));
/// ```
pub struct Basic {
    header: HeaderValue,
    username: String,
}

impl Basic {
    /// Basic credentials. The username may not contain `:` (RFC 7617 §2).
    pub fn new(username: impl Into<String>, password: SecretString) -> Result<Self, AuthError> {
        let username = username.into();
        if username.contains(':') {
            return Err(AuthError::prepare(
                "basic",
                "the username may not contain ':' (RFC 7617)",
            ));
        }
        let pair = secrecy::SecretString::from(format!("{username}:{}", password.expose_secret()));
        let value = SecretString::from(format!("Basic {}", STANDARD.encode(pair.expose_secret())));
        let header = sensitive_value(&AUTHORIZATION, value.expose_secret())?;
        Ok(Self { header, username })
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Basic")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl Auth for Basic {
    fn scheme(&self) -> &str {
        "basic"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        req.headers.insert(AUTHORIZATION, self.header.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use url::Url;

    use super::*;
    use crate::RequestKind;

    async fn header_for(user: &str, pass: &str) -> String {
        let b = Basic::new(user, SecretString::from(pass.to_owned())).unwrap();
        let mut r = AuthRequest::new(
            Method::GET,
            Url::parse("https://h/").unwrap(),
            RequestKind::Post,
        );
        b.apply(&mut r).await.unwrap();
        assert!(r.headers[AUTHORIZATION].is_sensitive());
        r.headers[AUTHORIZATION].to_str().unwrap().to_owned()
    }

    /// RFC 7617 §2 and §2.1 examples.
    #[tokio::test]
    async fn rfc7617_vectors() {
        assert_eq!(
            header_for("Aladdin", "open sesame").await,
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            header_for("test", "123\u{a3}").await,
            "Basic dGVzdDoxMjPCow=="
        );
    }

    #[test]
    fn colon_in_username_is_refused() {
        assert!(Basic::new("a:b", SecretString::from("p")).is_err());
    }
}
