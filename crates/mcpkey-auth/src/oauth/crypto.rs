//! Random values, PKCE (RFC 7636, S256 only) and JWT client assertions
//! (RFC 7523, `private_key_jwt`: ES256 and RS256 from a PKCS#8 PEM key).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use sha2::{Digest as _, Sha256};

use super::types::now_unix;
use crate::AuthError;
use crate::secret::{ExposeSecret, SecretString};

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| AuthError::prepare("oauth", "the system random generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    /// Sent with the token request.
    pub verifier: SecretString,
    /// Sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair (a 43-character verifier: 32 random bytes).
    pub fn new() -> Result<Self, AuthError> {
        let verifier = random_token(32)?;
        let challenge = s256(&verifier);
        Ok(Self {
            verifier: SecretString::from(verifier),
            challenge,
        })
    }
}

/// BASE64URL(SHA256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The signing algorithm of a `private_key_jwt` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl JwtAlgorithm {
    /// Parses `ES256` / `RS256`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }
}

/// The DER bytes inside a PEM `PRIVATE KEY` block (PKCS#8).
fn pkcs8_der(pem: &str) -> Result<Vec<u8>, AuthError> {
    let fail = |m: &str| AuthError::prepare("oauth", format!("private key: {m}"));
    if pem.contains("BEGIN EC PRIVATE KEY") || pem.contains("BEGIN RSA PRIVATE KEY") {
        return Err(fail(
            "this is a SEC1/PKCS#1 key; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt)",
        ));
    }
    let start = pem
        .find("-----BEGIN PRIVATE KEY-----")
        .ok_or_else(|| fail("expected a PEM \"PRIVATE KEY\" (PKCS#8) block"))?;
    let body = &pem[start + "-----BEGIN PRIVATE KEY-----".len()..];
    let end = body
        .find("-----END PRIVATE KEY-----")
        .ok_or_else(|| fail("the PEM block has no END line"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(b64)
        .map_err(|_| fail("the PEM body is not base64"))
}

/// Signs a JWT client assertion (RFC 7523 §3): `iss` = `sub` = client id,
/// `aud` = the authorization server's issuer, valid for five minutes.
pub fn client_assertion(
    client_id: &str,
    audience: &str,
    key_pem: &SecretString,
    alg: JwtAlgorithm,
) -> Result<String, AuthError> {
    let now = now_unix();
    let header = serde_json::json!({"alg": alg.name(), "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": random_token(16)?,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let der = pkcs8_der(key_pem.expose_secret())?;
    let rng = SystemRandom::new();
    let sig = match alg {
        JwtAlgorithm::Es256 => {
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
                .map_err(|_| {
                    AuthError::prepare("oauth", "private key: not a P-256 PKCS#8 key (ES256)")
                })?;
            key.sign(&rng, signing_input.as_bytes())
                .map_err(|_| AuthError::prepare("oauth", "signing the client assertion failed"))?
                .as_ref()
                .to_vec()
        }
        JwtAlgorithm::Rs256 => {
            let key = RsaKeyPair::from_pkcs8(&der).map_err(|_| {
                AuthError::prepare("oauth", "private key: not an RSA PKCS#8 key (RS256)")
            })?;
            let mut sig = vec![0u8; key.public().modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
                .map_err(|_| AuthError::prepare("oauth", "signing the client assertion failed"))?;
            sig
        }
    };
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn s256_vector() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.expose_secret().len(), 43);
        assert_eq!(s256(p.verifier.expose_secret()), p.challenge);
    }

    #[test]
    fn es256_assertion_verifies() {
        use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(doc.as_ref())
        );
        let jwt = client_assertion(
            "cid",
            "https://as.example",
            &SecretString::from(pem),
            JwtAlgorithm::Es256,
        )
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "cid");
        assert_eq!(claims["sub"], "cid");
        assert_eq!(claims["aud"], "https://as.example");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref());
        public
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn bad_keys_are_explained() {
        let e = client_assertion(
            "c",
            "a",
            &SecretString::from("-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----"),
            JwtAlgorithm::Es256,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("PKCS#8"), "{e}");
        assert!(
            client_assertion("c", "a", &SecretString::from("junk"), JwtAlgorithm::Rs256).is_err()
        );
    }
}
