//! What the benchmark's programs share: the credentials `fast-server`
//! checks (benchmark-only values, not secrets), the paths each auth scheme
//! is served on, and the floor clients (minimal raw clients doing the same
//! MCP exchange as mcpkey by hand) in [`raw`].

pub mod drive;
pub mod raw;
pub mod schemes;
pub mod stats;

/// The text of a tool result's first content item, if it is text.
pub fn first_text(r: &rmcp::model::CallToolResult) -> Option<&str> {
    r.content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.as_str())
}

/// Bearer token accepted on [`BEARER_PATH`].
pub const BEARER_TOKEN: &str = "bench-bearer-9f8e7d6c5b4a";
/// Access token accepted on [`OAUTH_PATH`] (the client has it cached).
pub const OAUTH_TOKEN: &str = "bench-oauth-access-0a1b2c3d4e5f";
/// API key and HMAC secret for [`SIGNATURE_PATH`].
pub const SIG_KEY: &str = "bench-key-1";
pub const SIG_SECRET: &str = "bench-hmac-secret-5e6f7a8b";
/// Digest (RFC 7616, SHA-256, qop=auth) user for [`DIGEST_PATH`].
pub const DIGEST_USER: &str = "bench";
pub const DIGEST_PASSWORD: &str = "bench-digest-pw-1c2d3e";
pub const DIGEST_REALM: &str = "fast-server";

/// No authentication.
pub const OPEN_PATH: &str = "/mcp";
pub const BEARER_PATH: &str = "/bearer/mcp";
pub const OAUTH_PATH: &str = "/oauth/mcp";
/// HMAC-SHA256 over METHOD + PATH + TIMESTAMP + hex SHA-256(body).
pub const SIGNATURE_PATH: &str = "/signature/mcp";
pub const DIGEST_PATH: &str = "/digest/mcp";
/// Legacy HTTP+SSE: the event stream; its `endpoint` event names the POST URL.
pub const SSE_PATH: &str = "/sse";
/// GET: the number of TCP connections accepted so far.
pub const CONNS_PATH: &str = "/_conns";
