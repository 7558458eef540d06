//! Unit tests of the OAuth client.

use super::*;

#[test]
fn canonical_uris() {
    for (input, want) in [
        (
            "HTTPS://MCP.Example.com/mcp/",
            "https://mcp.example.com/mcp",
        ),
        (
            "https://mcp.example.com:443/mcp",
            "https://mcp.example.com/mcp",
        ),
        (
            "http://localhost:3000/mcp?x=1#f",
            "http://localhost:3000/mcp",
        ),
        ("https://mcp.example.com", "https://mcp.example.com"),
    ] {
        assert_eq!(canonical_resource(&Url::parse(input).unwrap()), want);
    }
}

fn meta(iss_supported: Option<bool>) -> ServerMetadata {
    ServerMetadata {
        issuer: "http://localhost:9".into(),
        authorization_response_iss_parameter_supported: iss_supported,
        ..ServerMetadata::default()
    }
}

#[test]
fn redirect_validation_follows_rfc9207() {
    let ok = |q: &str, m: &ServerMetadata| {
        validate_redirect(
            &Url::parse(&format!("http://localhost:3000/callback?{q}")).unwrap(),
            "st",
            m,
        )
    };
    let iss = "iss=http%3A%2F%2Flocalhost%3A9";
    assert!(ok(&format!("code=c&state=st&{iss}"), &meta(Some(true))).is_ok());
    assert!(ok("code=c&state=st", &meta(None)).is_ok());
    assert!(
        ok("code=c&state=st", &meta(Some(true))).is_err(),
        "promised iss missing"
    );
    assert!(
        ok(
            "code=c&state=st&iss=https%3A%2F%2Fevil.example.com",
            &meta(None)
        )
        .is_err(),
        "unexpected iss"
    );
    assert!(
        ok(
            "code=c&state=st&iss=http%3A%2F%2Flocalhost%3A9%2F",
            &meta(Some(true))
        )
        .is_err(),
        "no normalization"
    );
    assert!(
        ok(&format!("code=c&state=other&{iss}"), &meta(Some(true))).is_err(),
        "state"
    );
    let e = ok("error=access_denied&state=st", &meta(None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("access_denied"), "{e}");
    let e = ok(
        "error=access_denied&state=st&iss=https%3A%2F%2Fevil",
        &meta(None),
    )
    .unwrap_err()
    .to_string();
    assert!(
        !e.contains("access_denied"),
        "errors from the wrong issuer are not shown: {e}"
    );
}
