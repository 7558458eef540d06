//! Printing URLs without the secrets they may carry.

use std::fmt;

use url::Url;

/// Displays a URL with its user-info removed and every query value masked.
///
/// API keys in query strings (`?api_key=...`) and session ids end up in
/// logs, errors and `--json` output unless every printer goes through this
/// type; mcpkey never prints a raw request URL.
///
/// ```
/// use mcpkey_auth::RedactedUrl;
/// let url = url::Url::parse("https://user:pw@example.com/mcp?api_key=s3cret&x=1#frag").unwrap();
/// assert_eq!(
///     RedactedUrl(&url).to_string(),
///     "https://example.com/mcp?api_key=***&x=***"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(pub &'a Url);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        let url = self.0;
        let mut s = String::with_capacity(url.as_str().len());
        let _ = write!(s, "{}://", url.scheme());
        if let Some(host) = url.host_str() {
            s.push_str(host);
        }
        if let Some(port) = url.port() {
            let _ = write!(s, ":{port}");
        }
        s.push_str(url.path());
        if url.query().is_some() {
            let mut first = true;
            for (k, v) in url.query_pairs() {
                s.push_str(if first { "?" } else { "&" });
                first = false;
                if v.is_empty() {
                    // `?TOKEN`: a lone parameter may be the credential itself.
                    s.push_str("***");
                } else {
                    let _ = write!(s, "{k}=***");
                }
            }
        }
        f.write_str(&mask_registered(s))
    }
}

/// Values masked wherever a [`RedactedUrl`] prints (see [`mask_everywhere`]).
static REGISTERED: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());
/// Shorter values would mask ordinary text.
const MIN_REGISTERED_LEN: usize = 8;
/// Bound on the registry (a process loads few configs).
const MAX_REGISTERED: usize = 4096;

/// Registers a secret to be masked wherever a URL is printed through
/// [`RedactedUrl`], even in a host, a path segment or a parameter name
/// (`https://hooks.example.com/mcp/${TOKEN}/sse`). Config interpolation
/// registers every value of a credential-named variable and every
/// `${file:...}`. Values shorter than 8 bytes are not registered (they would
/// mask ordinary text).
///
/// ```
/// use mcpkey_auth::RedactedUrl;
/// mcpkey_auth::redact::mask_everywhere("zT9-path-secret-41");
/// let url = url::Url::parse("https://hooks.example.com/mcp/zT9-path-secret-41/sse").unwrap();
/// assert_eq!(RedactedUrl(&url).to_string(), "https://hooks.example.com/mcp/***/sse");
/// ```
pub fn mask_everywhere(secret: &str) {
    if secret.len() < MIN_REGISTERED_LEN {
        return;
    }
    // A URL prints its path percent-encoded: mask that spelling too.
    let mut spellings = vec![secret.to_owned()];
    if let Ok(mut u) = Url::parse("http://x/") {
        u.set_path(secret);
        let encoded = u.path().trim_start_matches('/');
        if encoded != secret && encoded.len() >= MIN_REGISTERED_LEN {
            spellings.push(encoded.to_owned());
        }
    }
    let mut r = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    for s in spellings {
        if r.len() < MAX_REGISTERED && !r.contains(&s) {
            r.push(s);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    r.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `text` with every value registered by [`mask_everywhere`] replaced by
/// `***`: for text shown to people that may hold one (a command line, a
/// server's stderr).
///
/// ```
/// mcpkey_auth::redact::mask_everywhere("sk-live-0123456789");
/// assert_eq!(
///     mcpkey_auth::redact::mask_text("server says: key sk-live-0123456789 rejected"),
///     "server says: key *** rejected"
/// );
/// ```
pub fn mask_text(text: &str) -> String {
    mask_registered(text.to_owned())
}

fn mask_registered(mut s: String) -> String {
    let r = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    for secret in r.iter() {
        if s.contains(secret.as_str()) {
            s = s.replace(secret.as_str(), "***");
        }
    }
    s
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The origin of a URL as text (`scheme://host[:port]`), safe to print.
pub fn origin_string(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Whether a URL points at this machine (loopback), where plain `http://` is
/// acceptable for credentials.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_no_question_mark() {
        let u = Url::parse("http://127.0.0.1:8080/sse").unwrap();
        assert_eq!(RedactedUrl(&u).to_string(), "http://127.0.0.1:8080/sse");
    }

    #[test]
    fn loopback_detection() {
        for (s, want) in [
            ("http://localhost:1/", true),
            ("http://127.0.0.5/", true),
            ("http://[::1]/", true),
            ("http://example.com/", false),
            ("http://10.0.0.1/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(s).unwrap()), want, "{s}");
        }
    }
}
