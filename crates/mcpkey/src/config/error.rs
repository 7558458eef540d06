//! Errors of the config layer.

use std::path::PathBuf;

/// A problem with the configuration. Messages name the file, position, server
/// and key; they never contain a secret value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid JSON, or a value has the wrong type.
    #[error("{}:{line}:{column}: {}{message}", path.display(), key_prefix(.key))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Key path such as `mcpServers.github.args[0]` (empty if unknown).
        key: String,
        /// What serde said.
        message: String,
    },

    /// No config file was found.
    #[error(
        "no MCP config file found (looked at: {tried}); pass --config FILE, set MCPKEY_CONFIG, \
         or create ./mcp.json"
    )]
    NotFound {
        /// The places looked at.
        tried: String,
    },

    /// The file has neither `mcpServers` nor `servers`.
    #[error(
        "{}: no `mcpServers` (or VS Code `servers`) object; expected {{\"mcpServers\": {{\"name\": {{...}}}}}}",
        path.display()
    )]
    NoServers {
        /// The file.
        path: PathBuf,
    },

    /// `${VAR}` names a variable that is not set and has no default.
    #[error(
        "server '{server}': `{key}` uses ${{{var}}}, which is not set; export {var}, or write \
         ${{{var}:-default}} in the config"
    )]
    MissingVariable {
        /// Server name.
        server: String,
        /// Key path inside the server entry.
        key: String,
        /// Variable name.
        var: String,
    },

    /// `${file:PATH}` could not be read.
    #[error("server '{server}': `{key}` reads ${{file:{}}}, which failed: {source}", path.display())]
    SecretFile {
        /// Server name.
        server: String,
        /// Key path.
        key: String,
        /// File named in the config.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },

    /// A `${...}` expression is malformed.
    #[error("server '{server}': `{key}`: {message}")]
    Interpolation {
        /// Server name.
        server: String,
        /// Key path.
        key: String,
        /// What is wrong.
        message: String,
    },

    /// A value is present but invalid.
    #[error("server '{server}': `{key}`: {message}")]
    Invalid {
        /// Server name.
        server: String,
        /// Key path.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() || key == "." {
        String::new()
    } else {
        format!("{key}: ")
    }
}
