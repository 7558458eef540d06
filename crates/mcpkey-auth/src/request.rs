//! The request an [`Auth`](crate::Auth) sees and may change.

use std::fmt;

use bytes::Bytes;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::AuthError;
use crate::redact::RedactedUrl;
use crate::secret::{SecretString, secret_header};

/// Which step of which transport a request belongs to.
///
/// Every HTTP request mcpkey sends passes through the `Auth` seam; the kind
/// lets a scheme treat them differently if it must (most don't).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// Streamable HTTP: a POST carrying one JSON-RPC message.
    Post,
    /// Streamable HTTP (2025-11-25 and older): the standalone GET stream.
    StreamGet,
    /// Streamable HTTP (2025-11-25 and older): a GET resuming a stream with
    /// `Last-Event-ID`.
    ResumeGet,
    /// Streamable HTTP (2025-11-25 and older): DELETE ending the session.
    Delete,
    /// Legacy HTTP+SSE (2024-11-05): the GET that opens the event stream.
    LegacySseGet,
    /// Legacy HTTP+SSE (2024-11-05): a POST to the `endpoint` the server
    /// announced.
    LegacyPost,
    /// A request an auth scheme makes for itself (token endpoint, discovery).
    Side,
}

/// One HTTP request, fully buffered, before it goes on the wire.
///
/// The body is [`Bytes`], so cloning a request to send it again (after a
/// challenge, or on a redirect hop) is cheap and signers can read the exact
/// bytes that will be sent.
///
/// `Debug` never prints secrets: sensitive header values show as
/// `Sensitive` and the URL is printed through [`RedactedUrl`].
#[derive(Clone)]
pub struct AuthRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
    /// Headers: config `headers` and MCP headers are already set when an
    /// `Auth` sees the request.
    pub headers: HeaderMap,
    /// The body bytes (empty for GET and DELETE).
    pub body: Bytes,
    /// Which transport step this is.
    pub kind: RequestKind,
}

impl AuthRequest {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: Url, kind: RequestKind) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            kind,
        }
    }

    /// Sets (replaces) a header whose value is a credential, marking it
    /// sensitive so it is never printed.
    pub fn set_secret_header(
        &mut self,
        name: HeaderName,
        value: &SecretString,
    ) -> Result<(), AuthError> {
        let v = secret_header(&name, value)?;
        self.headers.insert(name, v);
        Ok(())
    }

    /// Sets (replaces) a header with a prepared value. Call
    /// [`HeaderValue::set_sensitive`] first if it is a credential.
    pub fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.insert(name, value);
    }

    /// Sets a query parameter, replacing any earlier value of the same name.
    /// Printed URLs mask every query value, so a key put here is not shown.
    pub fn set_query_param(&mut self, name: &str, value: &str) {
        let others: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| k != name)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut pairs = self.url.query_pairs_mut();
        pairs.clear();
        for (k, v) in &others {
            pairs.append_pair(k, v);
        }
        pairs.append_pair(name, value);
    }

    /// The URL path (no query), as servers see it.
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The path and query, as it appears in the request line (Digest `uri`).
    pub fn path_and_query(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{}", self.url.path(), q),
            None => self.url.path().to_owned(),
        }
    }
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("method", &self.method)
            .field("url", &RedactedUrl(&self.url))
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("kind", &self.kind)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_param_replaces_and_keeps_others() {
        let mut r = AuthRequest::new(
            Method::POST,
            Url::parse("http://h/messages?session_id=abc&api_key=old").unwrap(),
            RequestKind::LegacyPost,
        );
        r.set_query_param("api_key", "new");
        assert_eq!(r.url.query(), Some("session_id=abc&api_key=new"));
    }

    #[test]
    fn debug_hides_secret_header_and_query() {
        let mut r = AuthRequest::new(
            Method::GET,
            Url::parse("http://h/sse?api_key=topsecret").unwrap(),
            RequestKind::LegacySseGet,
        );
        r.set_secret_header(
            http::header::AUTHORIZATION,
            &SecretString::from("Bearer hunter2"),
        )
        .unwrap();
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
    }
}
