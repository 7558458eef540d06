//! The config file as written: a serde mirror of `mcpServers` entries, with
//! every spelling users bring from other hosts. Nothing is interpolated or
//! validated here; [`super::resolve`] does that per server.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawFile {
    /// mcp-use, Claude Desktop, Cursor, Claude Code, Windsurf.
    #[serde(rename = "mcpServers", default)]
    pub mcp_servers: Option<BTreeMap<String, RawServer>>,
    /// VS Code's `mcp.json`.
    #[serde(default)]
    pub servers: Option<BTreeMap<String, RawServer>>,
    /// Other top-level keys (VS Code `inputs`, host settings): ignored.
    #[serde(flatten)]
    pub _other: BTreeMap<String, Value>,
}

/// A scalar that some hosts allow where a string is expected (`"PORT": 3000`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn into_string(self) -> String {
        match self {
            Scalar::String(s) => s,
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// One server entry.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RawServer {
    // stdio
    pub command: Option<String>,
    pub args: Option<Vec<Scalar>>,
    pub env: Option<BTreeMap<String, Scalar>>,
    pub cwd: Option<String>,
    // http
    pub url: Option<String>,
    #[serde(rename = "serverUrl")]
    pub server_url: Option<String>,
    pub headers: Option<BTreeMap<String, Scalar>>,
    pub auth: Option<Value>,
    pub allow_insecure_http: Option<bool>,
    // choice of transport / era
    pub transport: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub protocol: Option<String>,
    // timeouts, seconds
    pub timeout: Option<f64>,
    pub sse_read_timeout: Option<f64>,
    pub request_timeout: Option<f64>,
    // memory bounds
    pub limits: Option<Value>,
    // host conventions
    pub disabled: Option<bool>,
    /// Keys mcpkey does not know: reported as warnings.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// Keys other hosts write that mcpkey ignores without warning.
pub(crate) const TOLERATED_KEYS: &[&str] = &[
    "description",
    "name",
    "alwaysAllow",
    "autoApprove",
    "enabled",
    "envFile",
    "gallery",
    "version",
];
