//! `WWW-Authenticate: Bearer ...` challenges (RFC 6750 §3, RFC 9728 §5.1).

use http_auth::parse_challenges;

/// What a Bearer challenge asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerChallenge {
    /// Where the protected resource metadata is (RFC 9728).
    pub resource_metadata: Option<String>,
    /// The scopes the request needs.
    pub scope: Option<String>,
    /// `invalid_token`, `insufficient_scope`, ...
    pub error: Option<String>,
    /// Human-readable detail.
    pub error_description: Option<String>,
}

impl BearerChallenge {
    /// Whether this is a step-up request (403 `insufficient_scope`).
    pub fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// What the `WWW-Authenticate` headers of a response ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No `WWW-Authenticate` header at all.
    Absent,
    /// Challenges, none of them Bearer (the server wants another scheme).
    OtherScheme,
    /// A Bearer challenge.
    Bearer(BearerChallenge),
}

/// The Bearer challenge among the `WWW-Authenticate` values.
pub fn find_bearer<'a>(values: impl Iterator<Item = &'a str>) -> Challenge {
    match find(values) {
        Err(()) => Challenge::Absent,
        Ok(None) => Challenge::OtherScheme,
        Ok(Some(c)) => Challenge::Bearer(c),
    }
}

fn find<'a>(values: impl Iterator<Item = &'a str>) -> Result<Option<BearerChallenge>, ()> {
    let mut any = false;
    for v in values {
        any = true;
        match parse_challenges(v) {
            Ok(challenges) => {
                for c in challenges {
                    if c.scheme.eq_ignore_ascii_case("bearer") {
                        let mut out = BearerChallenge::default();
                        for (k, val) in &c.params {
                            let val = val.to_unescaped();
                            match k.to_ascii_lowercase().as_str() {
                                "resource_metadata" => out.resource_metadata = Some(val),
                                "scope" => out.scope = Some(val),
                                "error" => out.error = Some(val),
                                "error_description" => out.error_description = Some(val),
                                _ => {}
                            }
                        }
                        return Ok(Some(out));
                    }
                }
            }
            Err(_) => {
                // Be lenient with sloppy servers: `Bearer k="v", ...`.
                if let Some(rest) = v
                    .trim_start()
                    .strip_prefix("Bearer")
                    .or_else(|| v.trim_start().strip_prefix("bearer"))
                {
                    return Ok(Some(lenient(rest)));
                }
            }
        }
    }
    if any { Ok(None) } else { Err(()) }
}

fn lenient(rest: &str) -> BearerChallenge {
    let mut out = BearerChallenge::default();
    for part in rest.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "resource_metadata" => out.resource_metadata = Some(v),
            "scope" => out.scope = Some(v),
            "error" => out.error = Some(v),
            "error_description" => out.error_description = Some(v),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mcp_challenges() {
        let h = r#"Bearer error="invalid_token", error_description="Missing Authorization header", scope="mcp:basic mcp:write", resource_metadata="http://localhost:1/.well-known/oauth-protected-resource/mcp""#;
        let Challenge::Bearer(c) = find_bearer(std::iter::once(h)) else {
            panic!()
        };
        assert_eq!(c.scope.as_deref(), Some("mcp:basic mcp:write"));
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some("http://localhost:1/.well-known/oauth-protected-resource/mcp")
        );
        let Challenge::Bearer(c) = find_bearer(std::iter::once(
            r#"Basic realm="x", Bearer error="insufficient_scope", scope="a""#,
        )) else {
            panic!()
        };
        assert!(c.insufficient_scope());
        assert_eq!(
            find_bearer(std::iter::once(r#"Basic realm="x""#)),
            Challenge::OtherScheme
        );
        assert_eq!(find_bearer(std::iter::empty()), Challenge::Absent);
        assert!(matches!(
            find_bearer(std::iter::once("Bearer")),
            Challenge::Bearer(_)
        ));
    }
}
