//! HTTP Digest authentication (RFC 7616): MD5, SHA-256 and SHA-512-256,
//! their `-sess` variants, qop `auth` and `auth-int`, nonce counts.
//!
//! The first request goes out without credentials; the server's 401
//! challenge is answered and the request sent again. The challenge is then
//! kept and later requests are answered preemptively (with an incremented
//! nonce count), so a session costs one extra round trip, not one per
//! request. A 401 to a preemptive answer (the nonce expired, `stale=true`,
//! or the server restarted) is answered once with the new challenge; a 401
//! to a fresh answer means wrong credentials and is returned as is.
//!
//! Challenge parsing and response computation are the `http-auth` crate's.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use http::StatusCode;
use http::header::AUTHORIZATION;
use http_auth::digest::{Algorithm, Qop};
use http_auth::{DigestClient, PasswordParams, parse_challenges};

use crate::secret::{ExposeSecret, SecretString, sensitive_value};
use crate::{Auth, AuthError, AuthRequest, AuthResponse, Next};

/// Username and password for Digest challenges.
pub struct Digest {
    username: String,
    password: SecretString,
    challenge: Mutex<Option<DigestClient>>,
}

impl Digest {
    /// Digest credentials.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Self {
            username: username.into(),
            password,
            challenge: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<DigestClient>> {
        self.challenge.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers the kept challenge for `req`; false if there is none.
    /// The lock is held only while computing the header.
    fn answer(&self, req: &mut AuthRequest) -> Result<bool, AuthError> {
        let uri = req.path_and_query();
        let value = {
            let mut guard = self.lock();
            let Some(client) = guard.as_mut() else {
                return Ok(false);
            };
            // qop=auth when offered; auth-int only when it is the sole option.
            let entity = (!(client.qop() & Qop::Auth) && client.qop() & Qop::AuthInt)
                .then(|| entity_hash(client.algorithm(), &req.body));
            client
                .respond(&PasswordParams {
                    username: &self.username,
                    password: self.password.expose_secret(),
                    uri: &uri,
                    method: req.method.as_str(),
                    body: entity.as_deref().map(str::as_bytes),
                })
                .map_err(|reason| AuthError::prepare("digest", reason))?
        };
        req.headers
            .insert(AUTHORIZATION, sensitive_value(&AUTHORIZATION, &value)?);
        Ok(true)
    }

    /// Keeps the strongest Digest challenge of a 401, if it has one.
    fn learn(&self, resp: &AuthResponse) -> bool {
        match strongest_challenge(resp.www_authenticate()) {
            Some(client) => {
                *self.lock() = Some(client);
                true
            }
            None => false,
        }
    }
}

/// `H(entity-body)` for qop=auth-int (RFC 7616 §3.4.3).
///
/// http-auth 0.1.10 computes `A2 = method:uri:body` with the raw body where
/// the RFC has `H(entity-body)`; handing it the hex hash instead of the body
/// makes its A2 exactly the RFC's.
fn entity_hash(algorithm: Algorithm, body: &[u8]) -> String {
    use sha2::Digest as _;
    match algorithm {
        Algorithm::Sha256 => hex::encode(sha2::Sha256::digest(body)),
        Algorithm::Sha512Trunc256 => hex::encode(sha2::Sha512_256::digest(body)),
        _ => hex::encode(md5::Md5::digest(body)),
    }
}

/// The Digest challenge with the strongest algorithm among the header
/// values (RFC 7616 §3.7: servers may offer several).
pub(crate) fn strongest_challenge<'a>(
    values: impl Iterator<Item = &'a str>,
) -> Option<DigestClient> {
    let mut best: Option<(u8, DigestClient)> = None;
    for v in values {
        let Ok(challenges) = parse_challenges(v) else {
            continue;
        };
        for c in challenges
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case("digest"))
        {
            let Ok(client) = DigestClient::try_from(c) else {
                continue;
            };
            let rank = match client.algorithm() {
                Algorithm::Sha512Trunc256 => 3,
                Algorithm::Sha256 => 2,
                _ => 1,
            };
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, client));
            }
        }
    }
    best.map(|(_, c)| c)
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field(
                "challenge",
                &self.lock().as_ref().map(|c| c.realm().to_owned()),
            )
            .finish()
    }
}

#[async_trait]
impl Auth for Digest {
    fn scheme(&self) -> &str {
        "digest"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        self.answer(req).map(|_| ())
    }

    async fn send(&self, req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
        let mut first = req.clone();
        let preemptive = self.answer(&mut first)?;
        let resp = next.send(first).await?;
        if resp.status != StatusCode::UNAUTHORIZED || !self.learn(&resp) {
            return Ok(resp);
        }
        resp.discard().await;
        let mut retry = req.clone();
        self.answer(&mut retry)?;
        let resp = next.send(retry).await?;
        if resp.status != StatusCode::UNAUTHORIZED || !preemptive {
            return Ok(resp);
        }
        // We answered a kept challenge that had expired, and the answer to the
        // new one was refused too: only a `stale=true` (the nonce expired
        // again in between) earns one more try; anything else is a wrong
        // password.
        let stale = strongest_challenge(resp.www_authenticate()).is_some_and(|c| c.stale());
        if !stale || !self.learn(&resp) {
            return Ok(resp);
        }
        resp.discard().await;
        let mut last = req;
        self.answer(&mut last)?;
        next.send(last).await
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    /// RFC 7616 §3.9.1: the same request answered with MD5 and SHA-256.
    #[test]
    fn rfc7616_vectors() {
        let params = PasswordParams {
            username: "Mufasa",
            password: "Circle of Life",
            uri: "/dir/index.html",
            method: "GET",
            body: None,
        };
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (algorithm, want) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let challenge = format!(
                r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            );
            let mut client = strongest_challenge(std::iter::once(challenge.as_str())).unwrap();
            let header = client.respond_with_testing_cnonce(&params, cnonce).unwrap();
            assert!(
                header.contains(&format!("response=\"{want}\"")),
                "{algorithm}: {header}"
            );
            assert!(
                header.contains("nc=00000001") && header.contains("qop=auth"),
                "{header}"
            );
            // A kept challenge counts nonces up.
            let again = client.respond_with_testing_cnonce(&params, cnonce).unwrap();
            assert!(again.contains("nc=00000002"), "{again}");
        }
    }

    /// qop=auth-int with SHA-512-256-sess, checked against the RFC 7616
    /// formulas computed independently here.
    #[test]
    fn auth_int_and_sess_follow_the_rfc_formulas() {
        use http::Method;
        use sha2::{Digest as _, Sha512_256};
        use url::Url;

        let h = |s: &[u8]| hex::encode(Sha512_256::digest(s));
        let d = Digest::new("u", SecretString::from("p"));
        *d.lock() = strongest_challenge(std::iter::once(
            r#"Digest realm="r", qop="auth-int", algorithm=SHA-512-256-sess, nonce="n1""#,
        ));
        let mut req = AuthRequest::new(
            Method::POST,
            Url::parse("https://h/mcp?x=1").unwrap(),
            crate::RequestKind::Post,
        );
        req.body = bytes::Bytes::from_static(b"{\"jsonrpc\":\"2.0\"}");
        assert!(d.answer(&mut req).unwrap());
        let header = req.headers[AUTHORIZATION].to_str().unwrap().to_owned();
        let field = |name: &str| {
            let start = header.find(&format!("{name}=")).unwrap() + name.len() + 1;
            let rest = header[start..].trim_start_matches('"');
            rest[..rest.find(['"', ',']).unwrap_or(rest.len())].to_owned()
        };
        let cnonce = field("cnonce");
        let ha1 = h(format!("{}:n1:{cnonce}", h(b"u:r:p")).as_bytes());
        let ha2 = h(format!("POST:/mcp?x=1:{}", h(&req.body)).as_bytes());
        let want = h(format!("{ha1}:n1:00000001:{cnonce}:auth-int:{ha2}").as_bytes());
        assert_eq!(field("response"), want, "{header}");
        assert_eq!(field("qop"), "auth-int");
        assert!(req.headers[AUTHORIZATION].is_sensitive());
    }

    #[test]
    fn picks_the_strongest_offered_algorithm() {
        let c = strongest_challenge(
            [
                r#"Digest realm="r", nonce="a", algorithm=MD5, qop="auth""#,
                r#"Digest realm="r", nonce="b", algorithm=SHA-256, qop="auth""#,
            ]
            .into_iter(),
        )
        .unwrap();
        assert_eq!(c.nonce(), "b");
        assert!(strongest_challenge(std::iter::once(r#"Bearer realm="x""#)).is_none());
    }

    /// A server that checks answers with its own MD5 computation and can
    /// expire its nonce (answering `stale=true`), to drive the flow.
    struct FakeServer {
        nonce: std::sync::Mutex<String>,
        sends: std::sync::atomic::AtomicU32,
    }

    fn md5hex(s: &str) -> String {
        use md5::Digest as _;
        hex::encode(md5::Md5::digest(s.as_bytes()))
    }

    #[async_trait]
    impl crate::Exchange for FakeServer {
        async fn exchange(&self, req: AuthRequest) -> Result<AuthResponse, AuthError> {
            self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let nonce = self.nonce.lock().unwrap().clone();
            let auth = req
                .headers
                .get(AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned());
            let field = |h: &str, name: &str| {
                let start = h.find(&format!("{name}="))? + name.len() + 1;
                let rest = h[start..].trim_start_matches('"');
                Some(rest[..rest.find(['"', ',']).unwrap_or(rest.len())].to_owned())
            };
            let mut stale = false;
            if let Some(h) = &auth {
                let (cn, nc) = (field(h, "cnonce").unwrap(), field(h, "nc").unwrap());
                let ha1 = md5hex("u:r:right");
                let ha2 = md5hex(&format!("{}:{}", req.method, req.path_and_query()));
                let want = md5hex(&format!(
                    "{ha1}:{}:{nc}:{cn}:auth:{ha2}",
                    field(h, "nonce").unwrap()
                ));
                let ok = field(h, "response").unwrap() == want;
                if ok && field(h, "nonce").unwrap() == nonce {
                    return Ok(AuthResponse::new(
                        StatusCode::OK,
                        Default::default(),
                        req.url,
                        crate::Body::empty(),
                    ));
                }
                stale = ok;
            }
            let mut headers = http::HeaderMap::new();
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                format!(
                    r#"Digest realm="r", nonce="{nonce}", qop="auth", algorithm=MD5{}"#,
                    if stale { ", stale=true" } else { "" }
                )
                .parse()
                .unwrap(),
            );
            Ok(AuthResponse::new(
                StatusCode::UNAUTHORIZED,
                headers,
                req.url,
                crate::Body::empty(),
            ))
        }
    }

    #[tokio::test]
    async fn challenge_reuse_stale_nonce_and_wrong_password() {
        use std::sync::atomic::Ordering::SeqCst;
        let server = FakeServer {
            nonce: std::sync::Mutex::new("n1".into()),
            sends: 0.into(),
        };
        let auth = crate::Authenticator::new(Some(std::sync::Arc::new(Digest::new(
            "u",
            SecretString::from("right"),
        ))));
        let req = || {
            AuthRequest::new(
                http::Method::POST,
                url::Url::parse("http://127.0.0.1/mcp").unwrap(),
                crate::RequestKind::Post,
            )
        };

        // First request: challenge round, then success.
        assert_eq!(auth.send(req(), &server).await.unwrap().status, 200);
        assert_eq!(server.sends.swap(0, SeqCst), 2);
        // Later requests answer the kept challenge at once.
        assert_eq!(auth.send(req(), &server).await.unwrap().status, 200);
        assert_eq!(server.sends.swap(0, SeqCst), 1);
        // The nonce expires: stale=true, answered once with the new nonce.
        *server.nonce.lock().unwrap() = "n2".into();
        assert_eq!(auth.send(req(), &server).await.unwrap().status, 200);
        assert_eq!(server.sends.swap(0, SeqCst), 2);

        // A wrong password: one unanswered request, one answer, then the 401.
        let wrong = crate::Authenticator::new(Some(std::sync::Arc::new(Digest::new(
            "u",
            SecretString::from("wrong"),
        ))));
        assert_eq!(wrong.send(req(), &server).await.unwrap().status, 401);
        assert_eq!(server.sends.swap(0, SeqCst), 2);
    }

    #[test]
    fn debug_hides_the_password() {
        let d = Digest::new("u", SecretString::from("hunter2"));
        assert!(!format!("{d:?}").contains("hunter2"));
    }
}
