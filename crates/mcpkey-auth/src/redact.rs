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
        let url = self.0;
        write!(f, "{}://", url.scheme())?;
        if let Some(host) = url.host_str() {
            f.write_str(host)?;
        }
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if url.query().is_some() {
            let mut first = true;
            for (k, _) in url.query_pairs() {
                f.write_str(if first { "?" } else { "&" })?;
                first = false;
                write!(f, "{k}=***")?;
            }
        }
        Ok(())
    }
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
