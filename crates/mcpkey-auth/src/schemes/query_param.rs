//! An API key in the query string (default `?api_key=`).
//!
//! Query strings end up in server access logs, proxies and `Referer`
//! headers, and MCP forbids access tokens there; use this only for servers
//! that accept nothing else. mcpkey masks every query value wherever it
//! prints a URL.

use std::fmt;

use async_trait::async_trait;

use crate::secret::{ExposeSecret, SecretString};
use crate::{Auth, AuthError, AuthRequest};

/// The default parameter name for [`QueryParam`].
pub const DEFAULT_QUERY_PARAM: &str = "api_key";

/// A key added to the query string of every request (including the legacy
/// SSE endpoint URL the server announces, whose own query is kept).
pub struct QueryParam {
    param: String,
    value: SecretString,
}

impl QueryParam {
    /// A key sent as `?api_key=...`.
    pub fn new(key: SecretString) -> Self {
        Self::with_param(DEFAULT_QUERY_PARAM, key)
    }

    /// A key sent as `?{param}=...`.
    pub fn with_param(param: impl Into<String>, key: SecretString) -> Self {
        Self {
            param: param.into(),
            value: key,
        }
    }
}

impl fmt::Debug for QueryParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryParam")
            .field("param", &self.param)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl Auth for QueryParam {
    fn scheme(&self) -> &str {
        "query_param"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        if self.param.is_empty() {
            return Err(AuthError::prepare(
                "query_param",
                "the parameter name is empty",
            ));
        }
        req.set_query_param(&self.param, self.value.expose_secret());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use url::Url;

    use super::*;
    use crate::{RedactedUrl, RequestKind};

    #[tokio::test]
    async fn merges_with_the_endpoint_query_and_is_masked_when_printed() {
        let a = QueryParam::new(SecretString::from("s3cr3t&x=1"));
        let mut r = AuthRequest::new(
            Method::POST,
            Url::parse("http://127.0.0.1/messages/?session_id=abc").unwrap(),
            RequestKind::LegacyPost,
        );
        a.apply(&mut r).await.unwrap();
        let pairs: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("session_id".into(), "abc".into()),
                ("api_key".into(), "s3cr3t&x=1".into())
            ]
        );
        // Applying again (a retry) replaces rather than duplicates.
        a.apply(&mut r).await.unwrap();
        assert_eq!(r.url.query_pairs().count(), 2);
        let shown = format!("{} {r:?}", RedactedUrl(&r.url));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
