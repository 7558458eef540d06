//! Configuration: the `mcpServers` file format (and VS Code's `servers`),
//! `${...}` interpolation, and [`ServerConfig`] for building servers in code.
//!
//! Loading is two-stage. [`Config::from_file`] parses the file into raw
//! entries and reports JSON errors with file, line and column; nothing is
//! interpolated yet. [`Config::resolve`] turns one entry into a
//! [`ServerConfig`], expanding variables for that server only, so a missing
//! variable of one server never stops the others. mcpkey never writes to a
//! config file.

mod auth;
mod error;
pub mod interpolate;
mod limits;
mod raw;
mod resolve;
mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::ConfigError;
pub use interpolate::{Env, ProcessEnv};
pub use limits::{Limits, MIN_HEADER_BYTES};
pub(crate) use resolve::{LEGACY_VERSIONS, MODERN_VERSIONS};
pub use server::{
    AuthSetting, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SSE_READ_TIMEOUT,
    HttpTransport, OAuthSettings, ProtocolPin, ServerConfig, StdioTarget, Target,
};

use raw::{RawFile, RawServer};

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "MCPKEY_CONFIG";

/// A parsed config file: server entries, not yet resolved.
#[derive(Debug, Clone, Default)]
pub struct Config {
    path: Option<PathBuf>,
    servers: BTreeMap<String, RawServer>,
    warnings: Vec<String>,
}

/// A secret-free summary of one entry, for listings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerSummary {
    /// Entry name.
    pub name: String,
    /// `stdio`, `streamable-http`, `sse` or `http (auto)`.
    pub transport: String,
    /// The command (stdio) or the URL with query values masked (HTTP), as
    /// written (variables not expanded).
    pub target: String,
    /// Whether the entry has `"disabled": true`.
    pub disabled: bool,
}

impl Config {
    /// Reads and parses a config file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let origin = origin.as_ref();
        let mut de = serde_json::Deserializer::from_str(text);
        let file: RawFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            ConfigError::Parse {
                path: origin.to_owned(),
                line: inner.line(),
                column: inner.column(),
                key,
                message: inner
                    .to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })?;
        let mut warnings = Vec::new();
        let servers = match (file.mcp_servers, file.servers) {
            (Some(m), Some(_)) => {
                warnings.push(
                    "the config has both `mcpServers` and `servers`; using `mcpServers`".into(),
                );
                m
            }
            (Some(m), None) | (None, Some(m)) => m,
            (None, None) => {
                return Err(ConfigError::NoServers {
                    path: origin.to_owned(),
                });
            }
        };
        Ok(Self {
            path: Some(origin.to_owned()),
            servers,
            warnings,
        })
    }

    /// Finds the config file: `explicit` (from `--config`), then
    /// `$MCPKEY_CONFIG`, then `./mcp.json`, then the user config directory
    /// (`~/.config/mcpkey/mcp.json` on Linux).
    pub fn discover(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(p) = explicit {
            return Self::from_file(p);
        }
        let mut tried = Vec::new();
        if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Self::from_file(PathBuf::from(p));
        }
        tried.push(format!("${CONFIG_ENV} (unset)"));
        let local = PathBuf::from("mcp.json");
        if local.is_file() {
            return Self::from_file(local);
        }
        tried.push("./mcp.json".into());
        if let Some(dir) = dirs::config_dir() {
            let p = dir.join("mcpkey").join("mcp.json");
            if p.is_file() {
                return Self::from_file(p);
            }
            tried.push(p.display().to_string());
        }
        Err(ConfigError::NotFound {
            tried: tried.join(", "),
        })
    }

    /// The file this config came from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Remarks found while parsing (unknown keys and the like).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Entry names, sorted.
    pub fn server_names(&self) -> impl Iterator<Item = &str> {
        self.servers.keys().map(String::as_str)
    }

    /// Whether an entry exists.
    pub fn contains(&self, name: &str) -> bool {
        self.servers.contains_key(name)
    }

    /// Resolves one entry using the process environment. The returned
    /// warnings are non-fatal remarks about the entry.
    pub fn resolve(&self, name: &str) -> Result<(ServerConfig, Vec<String>), ConfigError> {
        self.resolve_with(name, &ProcessEnv)
    }

    /// Resolves one entry with a custom environment.
    pub fn resolve_with(
        &self,
        name: &str,
        env: &dyn Env,
    ) -> Result<(ServerConfig, Vec<String>), ConfigError> {
        let raw = self.servers.get(name).ok_or_else(|| ConfigError::Invalid {
            server: name.to_owned(),
            key: ".".into(),
            message: format!(
                "no such server in the config; configured: {}",
                self.server_names().collect::<Vec<_>>().join(", ")
            ),
        })?;
        let mut warnings = Vec::new();
        let cfg = resolve::resolve(name, raw, env, &mut warnings)?;
        Ok((cfg, warnings))
    }

    /// Secret-free summaries of every entry, without expanding variables.
    pub fn summaries(&self) -> Vec<ServerSummary> {
        self.servers
            .iter()
            .map(|(name, raw)| {
                let url = raw.url.as_deref().or(raw.server_url.as_deref());
                let explicit = raw
                    .transport
                    .as_deref()
                    .or(raw.kind.as_deref())
                    .map(str::to_ascii_lowercase);
                let transport = match explicit.as_deref() {
                    Some("stdio") => "stdio",
                    Some("sse") => "sse",
                    Some("http" | "streamable-http" | "streamable_http" | "streamablehttp") => {
                        "streamable-http"
                    }
                    Some(_) => "unknown",
                    None if raw.command.is_some() => "stdio",
                    None if url.is_some() => "http (auto)",
                    None => "unknown",
                };
                let target = if transport == "stdio" {
                    let args: Vec<String> = raw
                        .args
                        .iter()
                        .flatten()
                        .map(|a| a.clone().into_string())
                        .collect();
                    let mut parts = vec![raw.command.clone().unwrap_or_default()];
                    parts.extend(mask_args(&args));
                    parts.join(" ")
                } else {
                    url.map(mask_url).unwrap_or_default()
                };
                ServerSummary {
                    name: name.clone(),
                    transport: transport.into(),
                    target,
                    disabled: raw.disabled.unwrap_or(false),
                }
            })
            .collect()
    }
}

/// Whether a flag name suggests its value is a credential.
fn secret_flag(flag: &str) -> bool {
    let f = flag.trim_start_matches('-').to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "auth",
        "credential",
    ]
    .iter()
    .any(|n| f.contains(n))
}

/// Masks the values of credential-looking flags (`--api-key X`,
/// `--token=X`) in a command line shown to people.
fn mask_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for a in args {
        if hide_next {
            out.push("***".to_owned());
            hide_next = false;
            continue;
        }
        if a.starts_with('-') {
            if let Some((flag, _)) = a.split_once('=') {
                if secret_flag(flag) {
                    out.push(format!("{flag}=***"));
                    continue;
                }
            } else if secret_flag(a) {
                hide_next = true;
            }
        }
        out.push(a.clone());
    }
    out
}

/// Removes user-info and masks query values in a URL template without
/// parsing it (it may still contain `${...}`).
fn mask_url(url: &str) -> String {
    let url = match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    match url.split_once('?') {
        None => url.to_owned(),
        Some((base, q)) => {
            let masked: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) => format!("{k}=***"),
                    // A lone parameter may be the credential itself.
                    None if kv.is_empty() => String::new(),
                    None => "***".to_owned(),
                })
                .collect();
            format!("{base}?{}", masked.join("&"))
        }
    }
}

#[cfg(test)]
mod tests;
