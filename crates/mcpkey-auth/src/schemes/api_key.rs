//! An API key in a request header (default `X-API-Key`).

use std::fmt;

use async_trait::async_trait;
use http::header::{HeaderName, HeaderValue};

use crate::secret::{SecretString, secret_header};
use crate::{Auth, AuthError, AuthRequest};

/// The default header for [`ApiKey`].
pub const DEFAULT_API_KEY_HEADER: &str = "x-api-key";

/// A static key in a header.
///
/// ```
/// use mcpkey_auth::{ApiKey, SecretString};
/// let auth = ApiKey::new(SecretString::from("k-123")).unwrap();
/// let custom = ApiKey::with_header("Api-Key", SecretString::from("k-123")).unwrap();
/// # let _ = (auth, custom);
/// ```
pub struct ApiKey {
    name: HeaderName,
    value: HeaderValue,
}

impl ApiKey {
    /// A key sent as `X-API-Key`.
    pub fn new(key: SecretString) -> Result<Self, AuthError> {
        Self::with_header(DEFAULT_API_KEY_HEADER, key)
    }

    /// A key sent in header `name`.
    pub fn with_header(name: &str, key: SecretString) -> Result<Self, AuthError> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            AuthError::prepare("api_key", format!("{name:?} is not a valid header name"))
        })?;
        let value = secret_header(&name, &key)?;
        Ok(Self { name, value })
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("header", &self.name)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl Auth for ApiKey {
    fn scheme(&self) -> &str {
        "api_key"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        req.headers.insert(self.name.clone(), self.value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use url::Url;

    use super::*;
    use crate::RequestKind;

    #[tokio::test]
    async fn sets_the_named_header_as_sensitive() {
        let a = ApiKey::with_header("X-Custom-Key", SecretString::from("v")).unwrap();
        let mut r = AuthRequest::new(
            Method::POST,
            Url::parse("https://h/mcp").unwrap(),
            RequestKind::Post,
        );
        a.apply(&mut r).await.unwrap();
        assert_eq!(r.headers["x-custom-key"], "v");
        assert!(r.headers["x-custom-key"].is_sensitive());
        assert!(!format!("{a:?}{r:?}").contains("\"v\""));
        assert!(ApiKey::with_header("bad header", SecretString::from("v")).is_err());
        assert!(ApiKey::new(SecretString::from("a\nb")).is_err());
    }
}
