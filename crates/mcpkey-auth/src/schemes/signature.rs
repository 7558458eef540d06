//! HMAC-SHA256 request signatures.
//!
//! By default byte-compatible with the `SignatureAuth` class users know from
//! mcp-use's documentation: headers `X-API-Key`, `X-Timestamp` (unix
//! seconds) and `X-Signature` = lowercase hex
//! HMAC-SHA256(secret, METHOD + PATH + TIMESTAMP), where PATH excludes the
//! query string. Header names and the signed parts are configurable.
//!
//! The signature is recomputed on every send (retries, reconnects, redirect
//! hops), so a timestamp is never reused.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use http::header::{HeaderName, HeaderValue};
use sha2::{Digest as _, Sha256};

use crate::secret::{ExposeSecret, SecretString, secret_header, sensitive_value};
use crate::{Auth, AuthError, AuthRequest};

/// One piece of the signed message, concatenated in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignedPart {
    /// The HTTP method (`POST`).
    Method,
    /// The URL path without the query (`/mcp`).
    Path,
    /// The path with `?query` when there is one.
    PathAndQuery,
    /// The unix timestamp in seconds, as sent in the timestamp header.
    Timestamp,
    /// The raw body bytes.
    Body,
    /// Lowercase hex SHA-256 of the body.
    BodySha256,
    /// The API key.
    ApiKey,
}

impl SignedPart {
    /// Parses a config name (`method`, `path`, `path_and_query`,
    /// `timestamp`, `body`, `body_sha256`, `api_key`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "method" => Self::Method,
            "path" => Self::Path,
            "path_and_query" => Self::PathAndQuery,
            "timestamp" => Self::Timestamp,
            "body" => Self::Body,
            "body_sha256" => Self::BodySha256,
            "api_key" => Self::ApiKey,
            _ => return None,
        })
    }
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Signs every request with HMAC-SHA256.
///
/// ```
/// use mcpkey_auth::{Signature, SecretString};
/// let auth = Signature::new(SecretString::from("key-1"), SecretString::from("s3cret")).unwrap();
/// let sig = auth.signature_for(b"POST", "/mcp", None, b"", 1_700_000_000);
/// assert_eq!(sig.len(), 64); // lowercase hex HMAC-SHA256 of "POST/mcp1700000000"
/// ```
pub struct Signature {
    api_key: SecretString,
    api_key_header_value: HeaderValue,
    secret: SecretString,
    key_header: HeaderName,
    timestamp_header: HeaderName,
    signature_header: HeaderName,
    parts: Vec<SignedPart>,
    separator: String,
    clock: Clock,
}

impl Signature {
    /// The seed's scheme: `X-API-Key`, `X-Timestamp`, `X-Signature` over
    /// METHOD + PATH + TIMESTAMP.
    pub fn new(api_key: SecretString, api_secret: SecretString) -> Result<Self, AuthError> {
        let key_header = HeaderName::from_static("x-api-key");
        let api_key_header_value = secret_header(&key_header, &api_key)?;
        Ok(Self {
            api_key,
            api_key_header_value,
            secret: api_secret,
            key_header,
            timestamp_header: HeaderName::from_static("x-timestamp"),
            signature_header: HeaderName::from_static("x-signature"),
            parts: vec![SignedPart::Method, SignedPart::Path, SignedPart::Timestamp],
            separator: String::new(),
            clock: Arc::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            }),
        })
    }

    /// Renames the three headers (key, timestamp, signature).
    pub fn headers(
        mut self,
        key: &str,
        timestamp: &str,
        signature: &str,
    ) -> Result<Self, AuthError> {
        let parse = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                AuthError::prepare("signature", format!("{n:?} is not a valid header name"))
            })
        };
        self.key_header = parse(key)?;
        self.timestamp_header = parse(timestamp)?;
        self.signature_header = parse(signature)?;
        self.api_key_header_value = secret_header(&self.key_header, &self.api_key)?;
        Ok(self)
    }

    /// Chooses what is signed and the separator between the parts.
    pub fn message(mut self, parts: Vec<SignedPart>, separator: impl Into<String>) -> Self {
        self.parts = parts;
        self.separator = separator.into();
        self
    }

    /// Replaces the clock (unix seconds); for tests.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The hex signature for these request parts at `timestamp`.
    pub fn signature_for(
        &self,
        method: &[u8],
        path: &str,
        query: Option<&str>,
        body: &[u8],
        timestamp: u64,
    ) -> String {
        let ts = timestamp.to_string();
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes()) {
            Ok(m) => m,
            // HMAC accepts keys of any length; this arm cannot be reached.
            Err(_) => return String::new(),
        };
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                mac.update(self.separator.as_bytes());
            }
            match part {
                SignedPart::Method => mac.update(method),
                SignedPart::Path => mac.update(path.as_bytes()),
                SignedPart::PathAndQuery => {
                    mac.update(path.as_bytes());
                    if let Some(q) = query {
                        mac.update(b"?");
                        mac.update(q.as_bytes());
                    }
                }
                SignedPart::Timestamp => mac.update(ts.as_bytes()),
                SignedPart::Body => mac.update(body),
                SignedPart::BodySha256 => mac.update(hex::encode(Sha256::digest(body)).as_bytes()),
                SignedPart::ApiKey => mac.update(self.api_key.expose_secret().as_bytes()),
            }
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field(
                "headers",
                &[
                    &self.key_header,
                    &self.timestamp_header,
                    &self.signature_header,
                ],
            )
            .field("parts", &self.parts)
            .field("api_key", &"[REDACTED]")
            .field("api_secret", &"[REDACTED]")
            .finish()
    }
}

#[async_trait]
impl Auth for Signature {
    fn scheme(&self) -> &str {
        "signature"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        let ts = (self.clock)();
        let sig = self.signature_for(
            req.method.as_str().as_bytes(),
            req.url.path(),
            req.url.query(),
            &req.body,
            ts,
        );
        req.headers
            .insert(self.key_header.clone(), self.api_key_header_value.clone());
        req.headers.insert(
            self.timestamp_header.clone(),
            HeaderValue::from_str(&ts.to_string()).map_err(|_| AuthError::InvalidHeaderValue {
                name: self.timestamp_header.as_str().into(),
            })?,
        );
        req.headers.insert(
            self.signature_header.clone(),
            sensitive_value(&self.signature_header, &sig)?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use url::Url;

    use super::*;
    use crate::RequestKind;

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }

    /// RFC 4231 §4 test cases 1, 2, 3, 4, 6 and 7 (HMAC-SHA-256).
    #[test]
    fn rfc4231_vectors() {
        let cases: [(&[u8], &[u8], &str); 6] = [
            (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (&[0xaa; 20], &[0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25],
                &[0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &[0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hmac_hex(key, data), want);
        }
    }

    #[test]
    fn seed_message_is_method_path_timestamp_without_query() {
        let s = Signature::new(SecretString::from("key"), SecretString::from("Jefe")).unwrap();
        let got = s.signature_for(
            b"POST",
            "/messages/",
            Some("session_id=x"),
            b"{}",
            1_700_000_000,
        );
        assert_eq!(got, hmac_hex(b"Jefe", b"POST/messages/1700000000"));
    }

    #[test]
    fn configurable_parts() {
        let s = Signature::new(SecretString::from("key"), SecretString::from("Jefe"))
            .unwrap()
            .message(
                vec![
                    SignedPart::Method,
                    SignedPart::PathAndQuery,
                    SignedPart::Timestamp,
                    SignedPart::BodySha256,
                ],
                "\n",
            );
        let body_hash = hex::encode(Sha256::digest(b"{}"));
        let want = hmac_hex(
            b"Jefe",
            format!("POST\n/mcp?a=1\n7\n{body_hash}").as_bytes(),
        );
        assert_eq!(
            s.signature_for(b"POST", "/mcp", Some("a=1"), b"{}", 7),
            want
        );
    }

    #[tokio::test]
    async fn sets_three_headers_fresh_each_time() {
        let t = Arc::new(std::sync::atomic::AtomicU64::new(100));
        let t2 = Arc::clone(&t);
        let s = Signature::new(SecretString::from("key-1"), SecretString::from("sec"))
            .unwrap()
            .clock(move || t2.load(std::sync::atomic::Ordering::SeqCst));
        let mut r = AuthRequest::new(
            Method::GET,
            Url::parse("https://h/sse?x=1").unwrap(),
            RequestKind::LegacySseGet,
        );
        s.apply(&mut r).await.unwrap();
        assert_eq!(r.headers["x-api-key"], "key-1");
        assert_eq!(r.headers["x-timestamp"], "100");
        assert_eq!(
            r.headers["x-signature"].to_str().unwrap(),
            hmac_hex(b"sec", b"GET/sse100")
        );
        assert!(r.headers["x-signature"].is_sensitive() && r.headers["x-api-key"].is_sensitive());
        let first = r.headers["x-signature"].clone();
        t.store(101, std::sync::atomic::Ordering::SeqCst);
        s.apply(&mut r).await.unwrap();
        assert_ne!(
            r.headers["x-signature"], first,
            "re-signed with the new timestamp"
        );
        assert!(!format!("{s:?}").contains("sec\""));
    }
}
