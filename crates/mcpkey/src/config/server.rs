//! [`ServerConfig`]: one server, resolved and ready to connect. Built from a
//! config file entry or in code.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use mcpkey_auth::Auth;
use mcpkey_auth::secret::is_credential_header;
use url::Url;

use super::limits::Limits;

/// Default time to connect (spawn or TCP, plus the protocol handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest silence on an open event stream.
pub const DEFAULT_SSE_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time a request may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Where and how to reach a server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// A child process speaking JSON-RPC on stdin/stdout.
    Stdio(StdioTarget),
    /// An HTTP endpoint.
    Http {
        /// The MCP endpoint (or legacy SSE stream) URL.
        url: Url,
        /// Which HTTP transport.
        transport: HttpTransport,
    },
}

/// How to start a stdio server.
#[derive(Clone, Default)]
pub struct StdioTarget {
    /// Program to run (looked up on `PATH`).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
}

impl fmt::Debug for StdioTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values and arguments often carry API keys
        // (`--api-key ${KEY}`): print names and a count only.
        f.debug_struct("StdioTarget")
            .field("command", &mcpkey_auth::redact::mask_text(&self.command))
            .field("args", &format_args!("<{} args>", self.args.len()))
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field(
                "cwd",
                &self
                    .cwd
                    .as_ref()
                    .map(|c| mcpkey_auth::redact::mask_text(&c.to_string_lossy())),
            )
            .finish()
    }
}

/// Which HTTP transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpTransport {
    /// Streamable HTTP, falling back to legacy HTTP+SSE only when the server
    /// answers the legacy POST with 400, 404 or 405.
    Auto,
    /// Streamable HTTP only.
    Streamable,
    /// Legacy HTTP+SSE (2024-11-05) only.
    Sse,
}

/// Which protocol era to speak.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProtocolPin {
    /// Detect it (modern first, as the spec prescribes).
    #[default]
    Auto,
    /// Modern (2026-07-28 and later); optionally a specific version.
    Modern(Option<String>),
    /// Legacy `initialize` handshake; optionally a specific version.
    Legacy(Option<String>),
}

/// The auth setting of a server.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum AuthSetting {
    /// Nothing configured: OAuth starts if the server asks for it (unless a
    /// configured `Authorization` header says otherwise).
    #[default]
    Unset,
    /// Explicitly none (`"auth": false`): not even OAuth.
    Disabled,
    /// This auth on every request.
    Auth(Arc<dyn Auth>),
    /// OAuth with these settings.
    OAuth(Box<OAuthSettings>),
}

/// OAuth settings of a server, plus where the login callback listens.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct OAuthSettings {
    /// Client, scopes, grant, metadata.
    pub config: mcpkey_auth::oauth::OAuthConfig,
    /// Callback host (default 127.0.0.1).
    pub callback_host: Option<String>,
    /// Callback port (default: derived from the server URL, stable across runs).
    pub callback_port: Option<u16>,
    /// Callback path (default `/callback`).
    pub callback_path: Option<String>,
    /// How long a login may take.
    pub login_timeout: Option<Duration>,
}

impl fmt::Debug for AuthSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unset => f.write_str("Unset"),
            Self::Disabled => f.write_str("Disabled"),
            Self::Auth(a) => write!(f, "Auth({})", a.scheme()),
            Self::OAuth(o) => write!(f, "OAuth({:?})", o.config.grant),
        }
    }
}

/// One server: where it is, how to authenticate, and its timeouts.
///
/// ```
/// use mcpkey::ServerConfig;
/// let stdio = ServerConfig::stdio("npx").args(["-y", "@modelcontextprotocol/server-everything"]);
/// let http = ServerConfig::http("https://mcp.example.com/mcp")
///     .header("X-Tenant-Id", "acme")
///     .bearer("token-from-somewhere");
/// # let _ = (stdio, http);
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    pub(crate) target: Target,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) auth: AuthSetting,
    pub(crate) connect_timeout: Duration,
    pub(crate) sse_read_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) protocol: ProtocolPin,
    pub(crate) allow_insecure_http: bool,
    pub(crate) disabled: bool,
    /// Problems found while building in code, reported at connect time.
    pub(crate) problems: Vec<String>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("target", &DebugTarget(&self.target))
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str(),
                            if v.is_sensitive() {
                                "<secret>"
                            } else {
                                "<set>"
                            },
                        )
                    })
                    .collect::<Vec<_>>(),
            )
            .field("auth", &self.auth)
            .field("protocol", &self.protocol)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

struct DebugTarget<'a>(&'a Target);

impl fmt::Debug for DebugTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Target::Stdio(s) => s.fmt(f),
            Target::Http { url, transport } => f
                .debug_struct("Http")
                .field("url", &mcpkey_auth::RedactedUrl(url))
                .field("transport", transport)
                .finish(),
        }
    }
}

impl ServerConfig {
    fn with_target(target: Target) -> Self {
        Self {
            target,
            headers: Vec::new(),
            auth: AuthSetting::Unset,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            sse_read_timeout: DEFAULT_SSE_READ_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            limits: Limits::default(),
            protocol: ProtocolPin::Auto,
            allow_insecure_http: false,
            disabled: false,
            problems: Vec::new(),
        }
    }

    /// A stdio server started with `command`.
    pub fn stdio(command: impl Into<String>) -> Self {
        Self::with_target(Target::Stdio(StdioTarget {
            command: command.into(),
            ..StdioTarget::default()
        }))
    }

    /// An HTTP server; Streamable HTTP with the spec's fallback to legacy SSE.
    pub fn http(url: impl AsRef<str>) -> Self {
        Self::http_with(url.as_ref(), HttpTransport::Auto)
    }

    /// An HTTP server reached with exactly this transport.
    pub fn http_with(url: &str, transport: HttpTransport) -> Self {
        match parse_http_url(url) {
            Ok(url) => Self::with_target(Target::Http { url, transport }),
            Err(problem) => {
                let mut s = Self::with_target(Target::Http {
                    url: placeholder_url(),
                    transport,
                });
                s.problems.push(problem);
                s
            }
        }
    }

    /// A legacy HTTP+SSE server (a URL that usually ends in `/sse`).
    pub fn sse(url: impl AsRef<str>) -> Self {
        Self::http_with(url.as_ref(), HttpTransport::Sse)
    }

    /// Adds one argument (stdio).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        if let Target::Stdio(s) = &mut self.target {
            s.args.push(arg.into());
        }
        self
    }

    /// Adds arguments (stdio).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Target::Stdio(s) = &mut self.target {
            s.args.extend(args.into_iter().map(Into::into));
        }
        self
    }

    /// Sets an environment variable for the server process (stdio), on top of
    /// the inherited environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if let Target::Stdio(s) = &mut self.target {
            s.env.push((key.into(), value.into()));
        }
        self
    }

    /// Sets the working directory (stdio).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        if let Target::Stdio(s) = &mut self.target {
            s.cwd = Some(dir.into());
        }
        self
    }

    /// Adds a static header sent on every HTTP request. Headers whose names
    /// look like credentials (`Authorization`, `*-Key`, `*Token*`, ...) are
    /// treated as secrets.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match build_header(name, value) {
            Ok(h) => self.headers.push(h),
            Err(p) => self.problems.push(p),
        }
        self
    }

    /// Authenticates every HTTP request with `auth`.
    pub fn auth(mut self, auth: impl Auth + 'static) -> Self {
        self.auth = AuthSetting::Auth(Arc::new(auth));
        self
    }

    /// Authenticates every HTTP request with a shared `auth`.
    pub fn auth_arc(mut self, auth: Arc<dyn Auth>) -> Self {
        self.auth = AuthSetting::Auth(auth);
        self
    }

    /// Shorthand for a bearer token.
    pub fn bearer(self, token: impl Into<String>) -> Self {
        let token: String = token.into();
        self.auth(mcpkey_auth::Bearer::new(mcpkey_auth::SecretString::from(
            token,
        )))
    }

    /// Uses OAuth with these settings (without it, OAuth still starts with
    /// defaults when the server asks).
    pub fn oauth(mut self, settings: OAuthSettings) -> Self {
        self.auth = AuthSetting::OAuth(Box::new(settings));
        self
    }

    /// Turns authentication off explicitly.
    pub fn no_auth(mut self) -> Self {
        self.auth = AuthSetting::Disabled;
        self
    }

    /// Time allowed to connect (including the protocol handshake).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Longest silence tolerated on an open event stream.
    pub fn sse_read_timeout(mut self, t: Duration) -> Self {
        self.sse_read_timeout = t;
        self
    }

    /// Default time a request may take.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Bounds on what this server can make the client buffer.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Pins the protocol era instead of detecting it.
    pub fn protocol(mut self, pin: ProtocolPin) -> Self {
        self.protocol = pin;
        self
    }

    /// Allows credentials over plain `http://` to hosts other than this
    /// machine.
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.allow_insecure_http = yes;
        self
    }

    /// Where the server is.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// A short, secret-free description of the transport
    /// (`stdio`, `streamable-http`, `sse`, `http (auto)`).
    pub fn transport_name(&self) -> &'static str {
        match &self.target {
            Target::Stdio(_) => "stdio",
            Target::Http { transport, .. } => match transport {
                HttpTransport::Auto => "http (streamable, sse fallback)",
                HttpTransport::Streamable => "streamable-http",
                HttpTransport::Sse => "sse",
            },
        }
    }
}

/// Stands in for a URL that failed to parse; the recorded problem is
/// reported before anything is sent.
fn placeholder_url() -> Url {
    #[allow(clippy::expect_used)]
    Url::parse("http://invalid.invalid/").expect("a literal URL parses")
}

pub(crate) fn parse_http_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("`url` is not a valid URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "`url` must start with http:// or https:// (got {other}://)"
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("`url` has no host".into());
    }
    Ok(url)
}

/// Headers the transport owns; a config may not set them.
const RESERVED: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "last-event-id",
    "transfer-encoding",
    "connection",
];

pub(crate) fn build_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let hn = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("header name {name:?} is not a valid HTTP header name"))?;
    if RESERVED.contains(&hn.as_str()) || hn.as_str().starts_with("mcp-param-") {
        return Err(format!(
            "header {name} is set by mcpkey itself and cannot be configured"
        ));
    }
    let mut hv = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("the value of header {name} is not a valid HTTP header value (control characters or newlines?)")
    })?;
    if is_credential_header(&hn) {
        hv.set_sensitive(true);
    }
    Ok((hn, hv))
}
