//! Property tests of the auth crate's invariants, and the fuzz corpora
//! replayed through the fuzz entry points (so every seed and every past
//! finding runs in CI on stable Rust).

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A query value never shows in a printed URL, whatever the URL, the
    /// parameter name and the value.
    #[test]
    fn redaction_masks_any_query_value(
        scheme in prop::sample::select(vec!["http", "https"]),
        host in "[a-z0-9.-]{1,20}",
        port in prop::option::of(1u16..),
        path in "(/[a-zA-Z0-9%._~!$&'()*+,;=:@-]{0,12}){0,4}",
        query in prop::option::of("[a-zA-Z0-9=&%+._-]{0,30}"),
        name in ".{0,12}",
        secret in ".{1,40}",
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        redaction(&format!("{scheme}://{host}{port}{path}{query}"), &name, &secret);
    }

    /// Challenge parsing never panics, whatever the header holds.
    #[test]
    fn challenges_never_panic(v in "(Bearer|Digest|Basic|[A-Za-z]{1,8})( [a-z_]{1,10}=(\"[^\"]{0,20}\"|[A-Za-z0-9-]{0,10}),?){0,6}") {
        www_authenticate(v.as_bytes());
    }
}

/// Every file under `fuzz/corpus/<target>/` through its entry point.
fn replay(target: &str, f: impl Fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()));
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn corpus_www_authenticate() {
    replay("www_authenticate", www_authenticate);
}

#[test]
fn corpus_metadata() {
    replay("metadata", metadata);
}

#[test]
fn corpus_token_response() {
    replay("token_response", token_response);
}

#[test]
fn huge_expires_in_saturates() {
    let t = crate::oauth::token::parse_token_set(
        br#"{"access_token":"abcd","expires_in":18446744073709551615}"#,
    )
    .unwrap();
    assert_eq!(t.expires_at, Some(u64::MAX));
    assert!(!t.expires_within(3600));
}
