//! The response an [`Auth`](crate::Auth) sees, with its body still unread.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::StatusCode;
use http::header::{HeaderMap, WWW_AUTHENTICATE};
use url::Url;

use crate::redact::RedactedUrl;
use crate::{AuthError, BoxError};

/// Most bytes [`AuthResponse::discard`] reads before dropping a connection.
const DISCARD_LIMIT: usize = 64 * 1024;

/// A response body: a stream of chunks, read only when someone asks.
///
/// An SSE stream may never end, so nothing in the auth layer reads a 2xx
/// body; schemes read only the small bodies of challenges they answer.
pub struct Body {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
}

impl Body {
    /// Wraps any stream of byte chunks.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, BoxError>> + Send + 'static,
    {
        Self {
            inner: Box::pin(stream),
        }
    }

    /// A body with these bytes.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let b: Bytes = bytes.into();
        Self::from_stream(futures_util::stream::once(async move { Ok(b) }))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_stream(futures_util::stream::empty())
    }

    /// Reads the whole body, failing if it exceeds `limit` bytes.
    pub async fn read_to_bytes(mut self, limit: usize) -> Result<Bytes, AuthError> {
        // Most bodies arrive in one chunk: return it without copying.
        let Some(first) = self.inner.next().await else {
            return Ok(Bytes::new());
        };
        let first = first.map_err(AuthError::Body)?;
        if first.len() > limit {
            return Err(AuthError::BodyTooLarge { limit });
        }
        let Some(second) = self.inner.next().await else {
            return Ok(first);
        };
        let second = second.map_err(AuthError::Body)?;
        if first.len() + second.len() > limit {
            return Err(AuthError::BodyTooLarge { limit });
        }
        let mut buf = BytesMut::with_capacity(first.len() + second.len());
        buf.extend_from_slice(&first);
        buf.extend_from_slice(&second);
        while let Some(chunk) = self.inner.next().await {
            let chunk = chunk.map_err(AuthError::Body)?;
            if buf.len() + chunk.len() > limit {
                return Err(AuthError::BodyTooLarge { limit });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

impl Stream for Body {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Body { .. }")
    }
}

/// An HTTP response whose body has not been read.
pub struct AuthResponse {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The URL this response answers (after redirects, if any).
    pub url: Url,
    body: Body,
}

impl AuthResponse {
    /// Assembles a response.
    pub fn new(status: StatusCode, headers: HeaderMap, url: Url, body: Body) -> Self {
        Self {
            status,
            headers,
            url,
            body,
        }
    }

    /// Takes the body, leaving the head.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Url, Body) {
        (self.status, self.headers, self.url, self.body)
    }

    /// Reads the whole body (for challenge and error responses, which are
    /// small). Fails past `limit` bytes.
    pub async fn bytes(self, limit: usize) -> Result<Bytes, AuthError> {
        self.body.read_to_bytes(limit).await
    }

    /// Reads and drops a small body so the connection can be reused; a body
    /// larger than 64 KiB is dropped unread (closing the connection).
    pub async fn discard(self) {
        let mut body = self.body;
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = body.next().await {
            seen += chunk.len();
            if seen > DISCARD_LIMIT {
                break;
            }
        }
    }

    /// The raw `WWW-Authenticate` header values, one per header line.
    pub fn www_authenticate(&self) -> impl Iterator<Item = &str> {
        self.headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
    }
}

impl fmt::Debug for AuthResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthResponse")
            .field("status", &self.status)
            .field("url", &RedactedUrl(&self.url))
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn body_limit() {
        let b = Body::from_bytes(vec![0u8; 10]);
        assert!(matches!(
            b.read_to_bytes(5).await,
            Err(AuthError::BodyTooLarge { limit: 5 })
        ));
        let b = Body::from_bytes(vec![1u8; 10]);
        assert_eq!(b.read_to_bytes(10).await.unwrap().len(), 10);
        let chunks = |n: usize| {
            Body::from_stream(futures_util::stream::iter(
                (0..n).map(|i| Ok(Bytes::from(vec![i as u8; 4]))),
            ))
        };
        assert_eq!(chunks(0).read_to_bytes(0).await.unwrap().len(), 0);
        assert_eq!(chunks(3).read_to_bytes(12).await.unwrap()[8], 2);
        assert!(matches!(
            chunks(2).read_to_bytes(7).await,
            Err(AuthError::BodyTooLarge { limit: 7 })
        ));
        assert!(matches!(
            chunks(3).read_to_bytes(11).await,
            Err(AuthError::BodyTooLarge { limit: 11 })
        ));
    }
}
