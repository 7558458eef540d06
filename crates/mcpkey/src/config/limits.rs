//! [`Limits`]: how much a server may make mcpkey hold in memory.
//!
//! A server mcpkey talks to is not trusted to be well behaved: every buffer
//! its input can grow has a bound, with a default generous enough for real
//! servers and a config key to change it. Exceeding one is a clear error
//! naming the key, never an unbounded allocation.

use serde::Deserialize;

/// Bounds on what one server can make the client buffer.
///
/// In a config file: `"limits": {"max_message_bytes": 1048576}` in a server
/// entry (every key optional). In code:
///
/// ```
/// use mcpkey::{Limits, ServerConfig};
/// let cfg = ServerConfig::http("https://mcp.example.com/mcp")
///     .limits(Limits::default().max_message_bytes(4 << 20).max_pending_messages(64));
/// # let _ = cfg;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest JSON-RPC message: an HTTP response body, one SSE event or
    /// one stdio line. Default 32 MiB.
    pub max_message_bytes: usize,
    /// Largest HTTP response head (status line and headers), at least
    /// 8 KiB. Default 64 KiB. Not applied through an HTTP proxy.
    pub max_header_bytes: usize,
    /// Server messages (notifications and server requests) waiting for the
    /// client to handle them; when full, mcpkey stops reading from that
    /// server until there is room. Default 1024.
    pub max_pending_messages: usize,
    /// Largest OAuth document: protected-resource and authorization-server
    /// metadata, registration and token responses. Default 1 MiB.
    pub max_metadata_bytes: usize,
}

/// The smallest response-head buffer the HTTP stack accepts.
pub const MIN_HEADER_BYTES: usize = 8 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 32 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_pending_messages: 1024,
            max_metadata_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets [`max_message_bytes`](Self::max_message_bytes).
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = n;
        self
    }

    /// Sets [`max_header_bytes`](Self::max_header_bytes).
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.max_header_bytes = n;
        self
    }

    /// Sets [`max_pending_messages`](Self::max_pending_messages).
    pub fn max_pending_messages(mut self, n: usize) -> Self {
        self.max_pending_messages = n;
        self
    }

    /// Sets [`max_metadata_bytes`](Self::max_metadata_bytes).
    pub fn max_metadata_bytes(mut self, n: usize) -> Self {
        self.max_metadata_bytes = n;
        self
    }

    /// Checks every bound is usable; `Err((key, message))` names the first
    /// that is not.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("max_message_bytes", self.max_message_bytes),
            ("max_pending_messages", self.max_pending_messages),
            ("max_metadata_bytes", self.max_metadata_bytes),
        ];
        for (key, v) in positive {
            if v == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        if self.max_header_bytes < MIN_HEADER_BYTES {
            return Err((
                "max_header_bytes",
                format!("must be at least {MIN_HEADER_BYTES}"),
            ));
        }
        Ok(())
    }
}

/// The `limits` object of a config entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_message_bytes: Option<usize>,
    pub max_header_bytes: Option<usize>,
    pub max_pending_messages: Option<usize>,
    pub max_metadata_bytes: Option<usize>,
}

impl RawLimits {
    /// The defaults with this entry's overrides.
    pub(crate) fn resolve(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_message_bytes: self.max_message_bytes.unwrap_or(d.max_message_bytes),
            max_header_bytes: self.max_header_bytes.unwrap_or(d.max_header_bytes),
            max_pending_messages: self.max_pending_messages.unwrap_or(d.max_pending_messages),
            max_metadata_bytes: self.max_metadata_bytes.unwrap_or(d.max_metadata_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_and_each_bad_value_is_named() {
        assert!(Limits::default().check().is_ok());
        let (key, _) = Limits::default().max_message_bytes(0).check().unwrap_err();
        assert_eq!(key, "max_message_bytes");
        let (key, msg) = Limits::default().max_header_bytes(100).check().unwrap_err();
        assert_eq!(key, "max_header_bytes");
        assert!(msg.contains("8192"), "{msg}");
        let (key, _) = Limits::default()
            .max_pending_messages(0)
            .check()
            .unwrap_err();
        assert_eq!(key, "max_pending_messages");
    }

    #[test]
    fn raw_overrides_only_what_it_names() {
        let raw: RawLimits = serde_json::from_str(r#"{"max_message_bytes": 10}"#).unwrap();
        let l = raw.resolve();
        assert_eq!(l.max_message_bytes, 10);
        assert_eq!(l.max_header_bytes, Limits::default().max_header_bytes);
        assert!(serde_json::from_str::<RawLimits>(r#"{"max_bytes": 1}"#).is_err());
    }
}
