//! The authorization response: checked before the code is redeemed.

use super::*;

/// Checks the authorization response (state, RFC 9207 `iss`, error) before
/// the code is redeemed; returns the code.
pub(super) fn validate_redirect(
    redirect: &Url,
    expected_state: &str,
    meta: &ServerMetadata,
) -> Result<SecretString, AuthError> {
    let mut state = None;
    let mut iss = None;
    let mut code = None;
    let mut error = None;
    let mut error_description = None;
    for (k, v) in redirect.query_pairs() {
        match k.as_ref() {
            "state" => state = Some(v.into_owned()),
            "iss" => iss = Some(v.into_owned()),
            "code" => code = Some(SecretString::from(v.into_owned())),
            "error" => error = Some(v.into_owned()),
            "error_description" => error_description = Some(v.into_owned()),
            _ => {}
        }
    }
    let state_ok = state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_ok {
        return Err(AuthError::Rejected {
            scheme: "oauth".into(),
            reason: "the authorization response's state does not match the request (possible CSRF); nothing was redeemed".into(),
        });
    }
    match &iss {
        Some(i) if !bool::from(i.as_bytes().ct_eq(meta.issuer.as_bytes())) => {
            // RFC 9207: do not act on (or display) error fields of a response
            // from the wrong issuer.
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: "the authorization response comes from another issuer (RFC 9207 iss mismatch); nothing was redeemed".into(),
            });
        }
        None if meta.authorization_response_iss_parameter_supported == Some(true) => {
            return Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: "the authorization server promises an iss parameter but the response has none (RFC 9207); nothing was redeemed".into(),
            });
        }
        _ => {}
    }
    if let Some(e) = error {
        let e: String = e.chars().filter(|c| !c.is_control()).take(64).collect();
        let d: Option<String> =
            error_description.map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect());
        return Err(AuthError::Rejected {
            scheme: "oauth".into(),
            reason: format!(
                "the authorization was refused: {e}{}",
                d.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        });
    }
    code.ok_or_else(|| AuthError::prepare("oauth", "the authorization response has no code"))
}
