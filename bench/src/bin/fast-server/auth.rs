//! Credential checks, done the way real servers do them: constant-time
//! comparisons, HMAC-SHA256 signatures with a freshness window, RFC 7616
//! Digest (SHA-256, qop=auth) with stateless HMAC-protected nonces.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use mcpkey_bench::*;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Signed timestamps older or newer than this are refused.
const SKEW_SECS: u64 = 300;
/// Nonces older than this are stale.
const NONCE_TTL_SECS: u64 = 600;
/// Key that makes nonces unforgeable (per process).
fn nonce_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Sha256::digest(format!("fast-server-{seed}-{}", std::process::id())).into()
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut all = h.get_all(name).iter();
    let first = all.next()?;
    if all.next().is_some() {
        return None; // repeated credentials are refused
    }
    first.to_str().ok()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `Authorization: Bearer <expected>`.
pub fn bearer(h: &HeaderMap, expected: &str) -> bool {
    let Some(v) = header(h, "authorization") else {
        return false;
    };
    let Some((scheme, token)) = v.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && ct_eq(token.trim().as_bytes(), expected.as_bytes())
}

/// `X-API-Key`, `X-Timestamp`, `X-Signature` = hex HMAC-SHA256(secret,
/// METHOD + PATH + TIMESTAMP + hex SHA-256(body)).
pub fn signature(h: &HeaderMap, method: &str, path: &str, body: &[u8]) -> bool {
    let (Some(key), Some(ts), Some(sig)) = (
        header(h, "x-api-key"),
        header(h, "x-timestamp"),
        header(h, "x-signature"),
    ) else {
        return false;
    };
    let Ok(t) = ts.parse::<u64>() else {
        return false;
    };
    if now().abs_diff(t) > SKEW_SECS || !ct_eq(key.as_bytes(), SIG_KEY.as_bytes()) {
        return false;
    }
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(SIG_SECRET.as_bytes()).expect("any key length");
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(ts.as_bytes());
    mac.update(hex::encode(Sha256::digest(body)).as_bytes());
    mac.verify_slice(&sig).is_ok()
}

fn nonce_mac(ts: u64) -> String {
    let mut mac = HmacSha256::new_from_slice(nonce_key()).expect("any key length");
    mac.update(&ts.to_be_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The `WWW-Authenticate` value of a 401 on the Digest path.
pub fn digest_challenge(stale: bool) -> String {
    let ts = now();
    format!(
        "Digest realm=\"{DIGEST_REALM}\", qop=\"auth\", algorithm=SHA-256, nonce=\"{ts:x}.{}\", \
         opaque=\"fast\"{}",
        nonce_mac(ts),
        if stale { ", stale=true" } else { "" }
    )
}

/// Splits `k=v, k="v", ...` (quoted values may hold commas and `\"`).
fn params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        let key = s.get(k0..i)?.trim().to_ascii_lowercase();
        i += 1;
        let mut val = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i] as char);
                i += 1;
            }
            if i == b.len() {
                return None; // unterminated quote
            }
            i += 1;
        } else {
            let v0 = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            val = s.get(v0..i)?.trim().to_owned();
        }
        out.push((key, val));
    }
    Some(out)
}

/// Digest verdict.
pub enum DigestCheck {
    Ok,
    /// Valid credentials on an expired nonce: challenge again with stale=true.
    Stale,
    Refused,
}

/// RFC 7616 §3.4 with SHA-256 and qop=auth.
pub fn digest(h: &HeaderMap, method: &str, path_and_query: &str) -> DigestCheck {
    let Some(v) = header(h, "authorization") else {
        return DigestCheck::Refused;
    };
    let Some((scheme, rest)) = v.split_once(' ') else {
        return DigestCheck::Refused;
    };
    if !scheme.eq_ignore_ascii_case("digest") {
        return DigestCheck::Refused;
    }
    let Some(p) = params(rest) else {
        return DigestCheck::Refused;
    };
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(user), Some(realm), Some(nonce), Some(uri), Some(response), Some(nc), Some(cnonce)) = (
        get("username"),
        get("realm"),
        get("nonce"),
        get("uri"),
        get("response"),
        get("nc"),
        get("cnonce"),
    ) else {
        return DigestCheck::Refused;
    };
    if get("qop") != Some("auth")
        || !get("algorithm").is_some_and(|a| a.eq_ignore_ascii_case("SHA-256"))
        || realm != DIGEST_REALM
        || uri != path_and_query
        || !ct_eq(user.as_bytes(), DIGEST_USER.as_bytes())
    {
        return DigestCheck::Refused;
    }
    let Some((ts_hex, mac)) = nonce.split_once('.') else {
        return DigestCheck::Refused;
    };
    let Ok(ts) = u64::from_str_radix(ts_hex, 16) else {
        return DigestCheck::Refused;
    };
    if !ct_eq(mac.as_bytes(), nonce_mac(ts).as_bytes()) {
        return DigestCheck::Refused;
    }
    // H(A1), H(A2), then KD — hashed incrementally, no intermediate strings.
    let hex_of = |parts: &[&[u8]]| {
        let mut h = Sha256::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                h.update(b":");
            }
            h.update(p);
        }
        let mut out = [0u8; 64];
        hex::encode_to_slice(h.finalize(), &mut out).expect("64 hex digits");
        out
    };
    let ha1 = hex_of(&[
        user.as_bytes(),
        realm.as_bytes(),
        DIGEST_PASSWORD.as_bytes(),
    ]);
    let ha2 = hex_of(&[method.as_bytes(), uri.as_bytes()]);
    let expected = hex_of(&[
        &ha1,
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        b"auth",
        &ha2,
    ]);
    if !ct_eq(response.as_bytes(), &expected) {
        return DigestCheck::Refused;
    }
    if now().saturating_sub(ts) > NONCE_TTL_SECS {
        return DigestCheck::Stale;
    }
    DigestCheck::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 §3.9.1, SHA-256: response 753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1
        let hash = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
        let ha1 = hash("Mufasa:http-auth@example.org:Circle of Life");
        let ha2 = hash("GET:/dir/index.html");
        let r = hash(&format!(
            "{ha1}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:\
             f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ:auth:{ha2}"
        ));
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn params_handle_quotes_and_commas() {
        let p = params(r#"username="a, b", nc=00000001, realm="r\"x""#).unwrap();
        assert_eq!(p[0], ("username".into(), "a, b".into()));
        assert_eq!(p[1], ("nc".into(), "00000001".into()));
        assert_eq!(p[2], ("realm".into(), "r\"x".into()));
        assert!(params(r#"a="open"#).is_none());
    }
}
