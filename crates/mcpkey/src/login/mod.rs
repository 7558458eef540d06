//! Interactive OAuth login: the system browser plus a loopback listener
//! (RFC 8252 §7.3), with a paste fallback for headless and remote machines.
//!
//! [`LoopbackUi`] implements [`AuthorizationUi`]: it binds
//! `http://{host}:{port}{path}`, opens the authorization URL in the system
//! browser (always printing it to stderr too), and waits for the one request
//! that carries the login's `state`. Alternatively the user pastes the URL
//! the browser landed on (from its address bar) into the terminal.
//!
//! ```no_run
//! # fn build() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mcpkey::login::LoopbackUi;
//!
//! // The key keeps the port (and so the registered redirect URI) stable
//! // across runs: use the server's canonical URL.
//! let ui = LoopbackUi::new("https://mcp.example.com/mcp")
//!     .server_name("example")
//!     .timeout(Duration::from_secs(300));
//! let ui: Arc<dyn mcpkey::auth::oauth::AuthorizationUi> = Arc::new(ui);
//! # let _ = ui; }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io::{BufRead, IsTerminal, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use mcpkey_auth::AuthError;
use mcpkey_auth::oauth::{AuthorizationPrompt, AuthorizationUi};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use url::Url;

mod browser;
mod callback;
mod paste;
#[cfg(test)]
mod tests;

use browser::{browser_available, open_in_browser};
use callback::{Callback, serve};
use paste::{PasteSource, paste, stdin_lines};

/// First port of the range default ports are derived into.
pub const DEFAULT_PORT_BASE: u16 = 30000;
/// Number of ports in that range (30000–39999).
pub const DEFAULT_PORT_SPAN: u16 = 10000;

/// Cap on a request's line plus headers.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Cap on one pasted line.
const MAX_PASTE_LINE: u64 = 16 * 1024;
/// How long a connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long writing a response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a refused connection is drained before it is closed.
const LINGER: Duration = Duration::from_secs(1);
/// How much of a refused request is drained at most.
const MAX_LINGER_BYTES: usize = 64 * 1024;
/// Connections served at once (browsers open a few speculative ones).
const MAX_CONNECTIONS: usize = 32;
/// Longest `error` / `error_description` shown on the page.
const MAX_SHOWN_ERROR: usize = 300;

/// A pasted-input source injected instead of the terminal.
type PasteInput = Box<dyn AsyncBufRead + Send + Unpin>;

/// The interactive login used by the `mcpkey` CLI: system browser + loopback
/// redirect listener + optional paste of the redirect URL on stdin.
///
/// Build it with [`LoopbackUi::new`] and the builder methods, then hand it
/// to [`OAuth::with_ui`](mcpkey_auth::oauth::OAuth::with_ui) as an
/// `Arc<dyn AuthorizationUi>`.
///
/// Exactly one valid callback is accepted per [`authorize`]: the first
/// `GET {path}?…` whose single `state` equals the login's (compared in
/// constant time). Other requests get an HTML error page and the listener
/// keeps waiting; once the valid callback is answered the listener closes.
///
/// [`authorize`]: AuthorizationUi::authorize
pub struct LoopbackUi {
    host: String,
    port: u16,
    path: String,
    timeout: Duration,
    open_browser: bool,
    paste: bool,
    server_name: Option<String>,
    paste_input: Mutex<Option<PasteInput>>,
}

impl fmt::Debug for LoopbackUi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackUi")
            .field("redirect_uri", &self.redirect_uri())
            .field("timeout", &self.timeout)
            .field("open_browser", &self.open_browser)
            .field("paste", &self.paste)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl LoopbackUi {
    /// A login UI listening on `127.0.0.1` at the default port for
    /// `stable_key` (see [`default_port`](Self::default_port)), path
    /// `/callback`, timeout 300 s, browser and paste fallback on.
    ///
    /// `stable_key` should identify the server across runs, e.g. its
    /// canonical URL, so its redirect URI (and a client registered with it)
    /// stays valid.
    pub fn new(stable_key: &str) -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: Self::default_port(stable_key),
            path: "/callback".to_owned(),
            timeout: Duration::from_secs(300),
            open_browser: true,
            paste: true,
            server_name: None,
            paste_input: Mutex::new(None),
        }
    }

    /// The default port for a key: `30000 + fnv1a64(key) % 10000`, where
    /// `fnv1a64` is 64-bit FNV-1a over the key's UTF-8 bytes (offset basis
    /// `0xcbf29ce484222325`, prime `0x100000001b3`). Stable across runs,
    /// platforms and Rust versions.
    pub fn default_port(stable_key: &str) -> u16 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stable_key.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // The remainder is < 10000, so it fits in u16.
        let offset = u16::try_from(h % u64::from(DEFAULT_PORT_SPAN)).unwrap_or(0);
        DEFAULT_PORT_BASE + offset
    }

    /// The host of the redirect URI and the address listened on (default
    /// `127.0.0.1`). Many authorization servers accept only `localhost` or
    /// `127.0.0.1` loopback redirects. A name is resolved and every address
    /// it has is listened on; IPv6 literals may be given with or without
    /// brackets.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        let host = host.into();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(str::to_owned)
            .unwrap_or(host);
        self.host = host;
        self
    }

    /// The port (default: [`default_port`](Self::default_port) of the key).
    /// If it is busy when the login starts, the login fails rather than
    /// moving to another port (which would change the redirect URI).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The callback path (default `/callback`); a leading `/` is added if
    /// missing.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self
    }

    /// How long to wait for the redirect (default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether to open the system browser (default true). Even when true it
    /// is not opened on Linux/BSD without `DISPLAY` or `WAYLAND_DISPLAY`.
    /// The URL is printed to stderr either way.
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// Whether a redirect URL pasted on stdin also completes the login
    /// (default true). Real stdin is only read when it is a terminal.
    pub fn paste_fallback(mut self, enabled: bool) -> Self {
        self.paste = enabled;
        self
    }

    /// The server name used in messages (default: the one in the prompt).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Reads pasted lines from `input` instead of the terminal (for tests or
    /// embedding). Only used while the paste fallback is enabled.
    pub fn paste_input<R>(self, input: R) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        Self {
            paste_input: Mutex::new(Some(Box::new(BufReader::new(input)))),
            ..self
        }
    }

    /// The host as written in a URI (IPv6 literals bracketed).
    fn uri_host(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        }
    }

    /// Binds every address of the host at the port.
    async fn bind(&self) -> Result<Vec<TcpListener>, AuthError> {
        let redirect_uri = self.redirect_uri();
        let busy = |e: std::io::Error| AuthError::Prepare {
            scheme: "oauth".into(),
            reason: format!(
                "cannot listen for the login redirect on port {port} ({redirect_uri}): the port \
                 is in use (another login in progress, or another program). mcpkey does not \
                 switch ports because the redirect URI is part of the client's registration; \
                 free port {port}, or set `callback_port` for this server to another port",
                port = self.port,
            ),
            source: Some(Box::new(e)),
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| AuthError::Prepare {
                scheme: "oauth".into(),
                reason: format!("cannot resolve the login callback host {:?}", self.host),
                source: Some(Box::new(e)),
            })?
            .collect();
        let mut listeners = Vec::new();
        let mut seen = Vec::new();
        let mut last_error = None;
        for addr in addrs {
            if seen.contains(&addr) {
                continue;
            }
            seen.push(addr);
            match TcpListener::bind(addr).await {
                Ok(l) => listeners.push(l),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(busy(e)),
                // e.g. ::1 for `localhost` on a host without IPv6.
                Err(e) => last_error = Some(e),
            }
        }
        if listeners.is_empty() {
            return Err(AuthError::Prepare {
                scheme: "oauth".into(),
                reason: format!(
                    "cannot listen for the login redirect on {}:{}; set `callback_port` (or the \
                     callback host) for this server",
                    self.uri_host(),
                    self.port
                ),
                source: last_error.map(|e| Box::new(e) as _),
            });
        }
        Ok(listeners)
    }

    /// The whole interaction for one authorization URL and state.
    async fn run(&self, url: &Url, state: &str, server: &str) -> Result<Url, AuthError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(AuthError::prepare(
                "oauth",
                format!(
                    "refusing to open an authorization URL with scheme {:?} (only http and https)",
                    url.scheme()
                ),
            ));
        }
        let server = self.server_name.as_deref().unwrap_or(server);
        let redirect_uri = self.redirect_uri();
        // Listen before the browser can come back.
        let listeners = self.bind().await?;

        let opened = self.open_browser && browser_available() && open_in_browser(url);
        if opened {
            eprintln!("Opening your browser to log in to {server}. If it does not open, visit:");
        } else {
            eprintln!("To log in to {server}, open this URL in a browser:");
        }
        eprintln!("\n    {url}\n");
        eprintln!(
            "Waiting up to {} for the browser to return to {redirect_uri} ...",
            fmt_duration(self.timeout)
        );

        // The paste source: an injected reader, else the terminal.
        let mut injected = self.paste_input.lock().await;
        let mut source = if !self.paste {
            None
        } else if let Some(reader) = injected.as_mut() {
            Some(PasteSource::Reader(reader))
        } else if std::io::stdin().is_terminal() {
            stdin_lines().map(PasteSource::Stdin)
        } else {
            None
        };
        match source.as_mut() {
            Some(PasteSource::Stdin(rx)) => {
                // Lines typed before this login are not for it.
                let mut rx = rx.lock().await;
                while rx.try_recv().is_ok() {}
            }
            Some(PasteSource::Reader(_)) | None => {}
        }
        if source.is_some() {
            eprintln!(
                "If your browser runs on another machine, it cannot reach that address: after \
                 logging in, copy the URL it shows in the address bar, paste it here and press \
                 Enter."
            );
        }

        let ctx = Callback {
            path: &self.path,
            state,
            redirect_uri: &redirect_uri,
            server,
        };
        let wait = async {
            tokio::select! {
                url = serve(&listeners, &ctx) => url,
                Some(url) = paste(source.as_mut(), &ctx) => url,
            }
        };
        let result = tokio::time::timeout(self.timeout, wait).await;
        drop(listeners);
        match result {
            Ok(url) => {
                eprintln!("Received the authorization response for {server}.");
                Ok(url)
            }
            Err(_) => Err(AuthError::Rejected {
                scheme: "oauth".into(),
                reason: format!(
                    "the login to {server} timed out after {} without a redirect to \
                     {redirect_uri}; run the command again to retry and finish the login in the \
                     browser within that time",
                    fmt_duration(self.timeout)
                ),
            }),
        }
    }
}

#[async_trait]
impl AuthorizationUi for LoopbackUi {
    fn redirect_uri(&self) -> String {
        format!("http://{}:{}{}", self.uri_host(), self.port, self.path)
    }

    async fn authorize(&self, prompt: AuthorizationPrompt<'_>) -> Result<Url, AuthError> {
        self.run(prompt.url, prompt.state, prompt.server).await
    }
}

/// What a request must match to be the callback.
/// `300 s`, or `250 ms` below a second or for fractional seconds.
fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The callback's parsers on arbitrary input (for the fuzz targets): a
/// request head and a pasted line. A URL is accepted only with exactly the
/// login's `state`, and the page never carries unescaped input.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_callback(text: &str) {
    let ctx = Callback {
        path: "/callback",
        state: "st4te-fuzz",
        redirect_uri: "http://127.0.0.1:33418/callback",
        server: "fuzz <server>",
    };
    let check = |url: &Url| {
        let states: Vec<_> = url.query_pairs().filter(|(k, _)| k == "state").collect();
        assert_eq!(states.len(), 1, "accepted {url} without exactly one state");
        assert_eq!(states[0].1, "st4te-fuzz", "accepted a foreign state");
    };
    let (page, url) = callback::route(text, &ctx);
    let bytes = page.to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("<server>"));
    if let Some(u) = &url {
        check(u);
        for (_, v) in u.query_pairs() {
            let shown = callback::html_escape(&callback::shown(&v));
            assert!(!shown.contains(['<', '>', '"', '\'']));
        }
    }
    if let Some(line) = text.lines().next()
        && let Some(u) = paste::pasted_redirect(line, &ctx)
    {
        check(&u);
    }
}
