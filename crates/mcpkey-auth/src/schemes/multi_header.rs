//! Several static headers at once (a key and a tenant id, say).

use std::fmt;

use async_trait::async_trait;
use http::header::{HeaderName, HeaderValue};

use crate::secret::{SecretString, secret_header};
use crate::{Auth, AuthError, AuthRequest};

/// A fixed set of headers, every value treated as a secret.
pub struct MultiHeader {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl MultiHeader {
    /// Headers by name and value.
    pub fn new<I, K>(headers: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = (K, SecretString)>,
        K: AsRef<str>,
    {
        let mut out = Vec::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_ref().as_bytes()).map_err(|_| {
                AuthError::prepare(
                    "multi_header",
                    format!("{:?} is not a valid header name", k.as_ref()),
                )
            })?;
            out.push((name.clone(), secret_header(&name, &v)?));
        }
        if out.is_empty() {
            return Err(AuthError::prepare("multi_header", "no headers given"));
        }
        Ok(Self { headers: out })
    }
}

impl fmt::Debug for MultiHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiHeader")
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[async_trait]
impl Auth for MultiHeader {
    fn scheme(&self) -> &str {
        "multi_header"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        for (k, v) in &self.headers {
            req.headers.insert(k.clone(), v.clone());
        }
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
    async fn sets_all_headers() {
        let a = MultiHeader::new([
            ("X-API-Key", SecretString::from("k")),
            ("X-Tenant-ID", SecretString::from("tenant-123")),
        ])
        .unwrap();
        let mut r = AuthRequest::new(
            Method::POST,
            Url::parse("https://h/").unwrap(),
            RequestKind::Post,
        );
        a.apply(&mut r).await.unwrap();
        assert_eq!(r.headers["x-api-key"], "k");
        assert_eq!(r.headers["x-tenant-id"], "tenant-123");
        assert!(r.headers.values().all(|v| v.is_sensitive()));
        assert!(!format!("{a:?}").contains("tenant-123"));
        assert!(MultiHeader::new(Vec::<(&str, SecretString)>::new()).is_err());
    }
}
