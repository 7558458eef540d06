//! Command-line flags, as close to what the user typed as possible.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit codes, documented in `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or configuration error
  2  protocol or other error
  3  authentication failed or required
  4  server unreachable or transport failure
  5  the tool returned isError

Config lookup: --config, then $MCPKEY_CONFIG, then ./mcp.json, then
~/.config/mcpkey/mcp.json. Logs go to stderr; set RUST_LOG=debug for more.";

/// mcpkey: connect to MCP servers and use what they offer.
#[derive(Debug, Parser)]
#[command(name = "mcpkey", version, after_help = EXIT_CODES, disable_help_subcommand = true)]
pub struct Cli {
    /// Config file (mcpServers JSON, as Claude Desktop, Cursor, VS Code write it).
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print machine-readable JSON on stdout (errors go to stderr as JSON).
    #[arg(long, global = true)]
    pub json: bool,

    /// Seconds a request may take (overrides the config).
    #[arg(long, global = true, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Accept every elicitation with the defaults its form declares
    /// (otherwise elicitations are declined).
    #[arg(long, global = true)]
    pub accept_defaults: bool,

    /// For OAuth logins: do not open a browser; print the URL and accept the
    /// redirect URL pasted on stdin. (`--json` never logs in interactively.)
    #[arg(long, global = true)]
    pub no_open: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List configured servers and their transport (connects to none).
    Servers,
    /// List tools of one server, or of all.
    Tools {
        /// Server name (all servers if omitted).
        server: Option<String>,
    },
    /// Call a tool.
    Call {
        /// Server name.
        server: String,
        /// Tool name.
        tool: String,
        /// Arguments: one JSON object, or key=value pairs (values are typed
        /// by the tool's schema; key:=JSON forces JSON).
        args: Vec<String>,
    },
    /// List resources of one server, or of all.
    Resources {
        /// Server name (all servers if omitted).
        server: Option<String>,
    },
    /// List resource templates of one server, or of all.
    Templates {
        /// Server name (all servers if omitted).
        server: Option<String>,
    },
    /// Read a resource.
    Read {
        /// Server name.
        server: String,
        /// Resource URI.
        uri: String,
    },
    /// List prompts of one server, or of all.
    Prompts {
        /// Server name (all servers if omitted).
        server: Option<String>,
    },
    /// Get a prompt.
    Prompt {
        /// Server name.
        server: String,
        /// Prompt name.
        name: String,
        /// Arguments: one JSON object, or key=value pairs.
        args: Vec<String>,
    },
    /// Connect and show what a server reports about itself.
    Info {
        /// Server name (all servers if omitted).
        server: Option<String>,
    },
    /// Log in to a server with OAuth (browser, or --no-open to paste).
    Login {
        /// Server name.
        server: String,
    },
    /// Forget a server's stored OAuth tokens.
    Logout {
        /// Server name.
        server: String,
    },
    /// OAuth accounts.
    Auth {
        /// What to do.
        #[command(subcommand)]
        command: AuthCommand,
    },
}

/// `mcpkey auth ...`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Per server: logged in or not, issuer, scopes, expiry (never a token).
    Status {
        /// Server name (all HTTP servers if omitted).
        server: Option<String>,
    },
}
