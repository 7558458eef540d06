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
struct Callback<'a> {
    path: &'a str,
    state: &'a str,
    redirect_uri: &'a str,
    server: &'a str,
}

impl Callback<'_> {
    /// The full redirect URL if `query` carries exactly one `state` and it
    /// is the login's.
    fn accept(&self, query: &str) -> Option<Url> {
        let mut states = url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "state")
            .map(|(_, v)| v);
        let state = states.next()?;
        if states.next().is_some() {
            return None;
        }
        if !bool::from(state.as_bytes().ct_eq(self.state.as_bytes())) {
            return None;
        }
        Url::parse(&format!("{}?{query}", self.redirect_uri)).ok()
    }
}

/// Accepts connections on every listener until one brings the callback.
async fn serve(listeners: &[TcpListener], ctx: &Callback<'_>) -> Url {
    let mut connections = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = accept_any(listeners) => match accepted {
                Ok(stream) => {
                    if connections.len() < MAX_CONNECTIONS {
                        connections.push(handle(stream, ctx));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a login callback connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = connections.next(), if !connections.is_empty() => {
                if let Some(url) = done {
                    return url;
                }
            }
        }
    }
}

/// The next connection on any of the listeners.
async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<TcpStream> {
    poll_fn(|cx| {
        for l in listeners {
            if let Poll::Ready(r) = l.poll_accept(cx) {
                return Poll::Ready(r.map(|(s, _)| s));
            }
        }
        Poll::Pending
    })
    .await
}

/// Serves one connection (one request, then close); returns the redirect
/// URL if it was the callback.
async fn handle(mut stream: TcpStream, ctx: &Callback<'_>) -> Option<Url> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::TooLarge)) => {
            let page = Page::error(431, "Request Header Fields Too Large", "Request too large.");
            respond(&mut stream, &page, true).await;
            return None;
        }
        Ok(Err(HeadError::Malformed)) => {
            let page = Page::error(400, "Bad Request", "Malformed request.");
            respond(&mut stream, &page, true).await;
            return None;
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return None,
    };
    let (page, url) = route(&head, ctx);
    respond(&mut stream, &page, url.is_none()).await;
    url
}

enum HeadError {
    TooLarge,
    Malformed,
    Closed,
}

/// Reads the request line and headers (up to the blank line).
async fn read_head(stream: &mut TcpStream) -> Result<String, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let end = find(&buf, b"\r\n\r\n").or_else(|| find(&buf, b"\n\n"));
        if let Some(end) = end {
            if end > MAX_REQUEST_HEAD {
                return Err(HeadError::TooLarge);
            }
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| HeadError::Malformed);
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The page for a request, and the redirect URL if it is the callback.
fn route(head: &str, ctx: &Callback<'_>) -> (Page, Option<Url>) {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (Page::error(400, "Bad Request", "Malformed request."), None);
    };
    if !version.starts_with("HTTP/1.") {
        return (Page::error(400, "Bad Request", "Malformed request."), None);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if path != ctx.path {
        return (Page::error(404, "Not Found", "Not found."), None);
    }
    if method != "GET" {
        return (
            Page::error(405, "Method Not Allowed", "Method not allowed."),
            None,
        );
    }
    let Some(url) = query.and_then(|q| ctx.accept(q)) else {
        return (
            Page::error(
                400,
                "Bad Request",
                "This is not the response of the login mcpkey is waiting for (its state does \
                 not match). Start the login again from the terminal.",
            ),
            None,
        );
    };
    tracing::debug!("callback received");
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    let server = html_escape(ctx.server);
    let page = match error {
        None => Page {
            status: 200,
            reason: "OK",
            title: "Login complete",
            body: format!(
                "<p>mcpkey received the authorization for <b>{server}</b>.</p>\
                 <p>You can close this tab and return to the terminal.</p>"
            ),
        },
        Some(error) => {
            let mut body = format!(
                "<p>The authorization server refused the login to <b>{server}</b>: \
                 <code>{}</code></p>",
                html_escape(&shown(&error))
            );
            if let Some(d) = description {
                body.push_str(&format!("<p>It said: {}</p>", html_escape(&shown(&d))));
            }
            body.push_str("<p>Return to the terminal for details.</p>");
            Page {
                status: 200,
                reason: "OK",
                title: "Login failed",
                body,
            }
        }
    };
    (page, Some(url))
}

/// An authorization-server-supplied text, shortened and without control
/// characters.
fn shown(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SHOWN_ERROR)
        .collect()
}

/// Escapes text for HTML element content and attribute values.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One HTML answer. `body` is already escaped HTML.
struct Page {
    status: u16,
    reason: &'static str,
    title: &'static str,
    body: String,
}

impl Page {
    fn error(status: u16, reason: &'static str, text: &'static str) -> Self {
        Self {
            status,
            reason,
            title: "mcpkey login",
            body: format!("<p>{}</p>", html_escape(text)),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}</title><style>body{{font-family:system-ui,sans-serif;\
             max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}</style></head>\
             <body><h1>{title}</h1>{body}</body></html>\n",
            title = self.title,
            body = self.body
        );
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\n\
             Connection: close\r\n",
            self.status,
            self.reason,
            html.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(html.as_bytes());
        bytes
    }
}

/// Writes the page and closes the connection (errors ignored: the browser
/// may be gone). Refusals linger briefly, reading what the client still
/// sends, so that closing with unread data does not reset the connection
/// before the client has read the page.
async fn respond(stream: &mut TcpStream, page: &Page, linger: bool) {
    let bytes = page.to_bytes();
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if linger {
        let _ = tokio::time::timeout(LINGER, async {
            let mut sink = [0u8; 4096];
            let mut total = 0;
            while total < MAX_LINGER_BYTES {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        })
        .await;
    }
}

/// Where pasted lines come from.
enum PasteSource<'a> {
    Reader(&'a mut PasteInput),
    Stdin(&'static Mutex<mpsc::UnboundedReceiver<String>>),
}

impl PasteSource<'_> {
    /// The next line, or `None` at end of input.
    async fn next_line(&mut self) -> Option<String> {
        match self {
            Self::Reader(r) => {
                let mut line = String::new();
                match (&mut **r).take(MAX_PASTE_LINE).read_line(&mut line).await {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line),
                }
            }
            Self::Stdin(rx) => rx.lock().await.recv().await,
        }
    }
}

/// Reads pasted lines until one is the redirect; `None` at end of input (or
/// without a source).
async fn paste(source: Option<&mut PasteSource<'_>>, ctx: &Callback<'_>) -> Option<Url> {
    let source = source?;
    while let Some(line) = source.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(url) = pasted_redirect(line, ctx) {
            tracing::debug!("callback received (pasted)");
            return Some(url);
        }
        // Never echo the line: it may hold a code.
        eprintln!(
            "That is not the redirect of this login (no matching state). Paste the whole URL \
             from the browser's address bar."
        );
    }
    None
}

/// A pasted redirect: a full `http(s)` URL, or just its query (`?code=…`),
/// whose `state` is the login's. Returned as the redirect URI plus the
/// pasted query.
fn pasted_redirect(line: &str, ctx: &Callback<'_>) -> Option<Url> {
    let query = match Url::parse(line) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.query()?.to_owned(),
        Ok(_) => return None,
        Err(_) => {
            let q = line.strip_prefix('?').unwrap_or(line);
            if q.contains(['/', ' ', '#']) {
                return None;
            }
            q.to_owned()
        }
    };
    ctx.accept(&query)
}

/// Terminal lines, read by one process-wide thread.
///
/// A dedicated thread rather than `tokio::io::stdin`: tokio's stdin read
/// cannot be cancelled and would keep the runtime from shutting down until
/// the user pressed Enter. The thread is started by the first login that
/// uses the paste fallback on a terminal and lives until end of input.
fn stdin_lines() -> Option<&'static Mutex<mpsc::UnboundedReceiver<String>>> {
    static LINES: OnceLock<Option<Mutex<mpsc::UnboundedReceiver<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            std::thread::Builder::new()
                .name("mcpkey-login-stdin".into())
                .spawn(move || {
                    loop {
                        let mut line = String::new();
                        let stdin = std::io::stdin();
                        match stdin.lock().take(MAX_PASTE_LINE).read_line(&mut line) {
                            Ok(0) => break,
                            Ok(_) => {
                                if tx.send(line).is_err() {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {}
                            Err(_) => break,
                        }
                    }
                })
                .ok()
                .map(|_| Mutex::new(rx))
        })
        .as_ref()
}

/// Whether a browser can be shown at all (no graphical session on Linux/BSD
/// means no).
fn browser_available() -> bool {
    if cfg!(any(windows, target_os = "macos")) {
        return true;
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Opens an http(s) URL in the system browser without a shell (the URL is
/// one argument). Returns whether the opener started.
fn open_in_browser(url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let mut cmd = if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(mut child) => {
            // Reap it off the runtime (the opener exits quickly).
            let _ = std::thread::Builder::new()
                .name("mcpkey-browser-opener".into())
                .spawn(move || child.wait());
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not start the browser opener");
            false
        }
    }
}

/// `300 s`, or `250 ms` below a second or for fractional seconds.
fn fmt_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port that was free a moment ago.
    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn test_ui(port: u16) -> LoopbackUi {
        LoopbackUi::new("test")
            .port(port)
            .open_browser(false)
            .paste_fallback(false)
            .server_name("test-server")
    }

    fn auth_url() -> Url {
        Url::parse("https://as.example/authorize?client_id=c&state=S3CRET-state").unwrap()
    }

    /// A real HTTP/1.1 GET; retries the connect until the listener is up.
    /// Returns (status, whole response).
    async fn get(port: u16, target: &str) -> (u16, String) {
        let mut stream = None;
        for _ in 0..200 {
            match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let mut stream = stream.expect("listener never came up");
        let req = format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\
             Accept: text/html\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        stream.read_to_end(&mut resp).await.unwrap();
        let resp = String::from_utf8(resp).unwrap();
        let status = resp.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        (status, resp)
    }

    fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
        let head = resp.split("\r\n\r\n").next()?;
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    #[tokio::test]
    async fn wrong_state_is_refused_then_right_one_completes_and_listener_closes() {
        let port = free_port();
        let ui = test_ui(port);
        assert_eq!(
            ui.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let url = auth_url();
        let flow = ui.run(&url, "S3CRET-state", "ignored");
        let client = async {
            let (status, resp) = get(port, "/callback?code=evil&state=wrong").await;
            assert_eq!(status, 400);
            assert!(resp.contains("state does"), "{resp}");
            assert_eq!(
                header(&resp, "content-type"),
                Some("text/html; charset=utf-8")
            );
            assert_eq!(header(&resp, "cache-control"), Some("no-store"));
            assert_eq!(
                header(&resp, "content-security-policy"),
                Some("default-src 'none'; style-src 'unsafe-inline'")
            );
            let (status, _) = get(port, "/callback?code=x").await;
            assert_eq!(status, 400);
            let (status, _) = get(port, "/callback?state=S3CRET-state&state=wrong").await;
            assert_eq!(status, 400);
            let (status, _) = get(port, "/favicon.ico").await;
            assert_eq!(status, 404);
            let (status, resp) = get(
                port,
                "/callback?code=the-code&state=S3CRET-state&iss=https%3A%2F%2Fas.example",
            )
            .await;
            assert_eq!(status, 200);
            assert!(resp.contains("Login complete"), "{resp}");
            assert!(resp.contains("test-server"), "{resp}");
            assert!(
                !resp.contains("the-code"),
                "the page must not show the code"
            );
        };
        let (result, ()) = tokio::join!(flow, client);
        let redirect = result.unwrap();
        assert_eq!(
            redirect.as_str(),
            format!(
                "http://127.0.0.1:{port}/callback?code=the-code&state=S3CRET-state&iss=https%3A%2F%2Fas.example"
            )
        );
        // Exactly one callback: the listener is gone.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn error_callback_completes_and_page_escapes_description() {
        let port = free_port();
        let ui = test_ui(port).path("cb");
        let url = auth_url();
        let flow = ui.run(&url, "S3CRET-state", "srv");
        let client = get(
            port,
            "/cb?error=access_denied&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state=S3CRET-state",
        );
        let (result, (status, resp)) = tokio::join!(flow, client);
        let redirect = result.unwrap();
        assert_eq!(
            redirect.query(),
            Some(
                "error=access_denied&error_description=%3Cscript%3Ex%3C%2Fscript%3E&state=S3CRET-state"
            )
        );
        assert_eq!(redirect.path(), "/cb");
        assert_eq!(status, 200);
        assert!(resp.contains("Login failed"), "{resp}");
        assert!(resp.contains("access_denied"), "{resp}");
        assert!(resp.contains("&lt;script&gt;x&lt;/script&gt;"), "{resp}");
        assert!(!resp.contains("<script>"), "{resp}");
    }

    #[tokio::test]
    async fn times_out_with_a_message_naming_the_timeout() {
        let port = free_port();
        let ui = test_ui(port).timeout(Duration::from_millis(150));
        let started = std::time::Instant::now();
        let err = ui
            .run(&auth_url(), "S3CRET-state", "srv")
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let AuthError::Rejected { scheme, reason } = &err else {
            panic!("unexpected error {err:?}");
        };
        assert_eq!(scheme, "oauth");
        assert!(reason.contains("timed out after 150 ms"), "{reason}");
        assert!(reason.contains("test-server"), "{reason}");
        assert!(reason.contains("again"), "{reason}");
        assert!(!reason.contains("S3CRET"), "{reason}");
        // The listener was released.
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        assert_eq!(fmt_duration(Duration::from_secs(300)), "300 s");
    }

    #[test]
    fn default_port_is_deterministic_and_in_range() {
        let a = LoopbackUi::default_port("https://mcp.example.com/mcp");
        assert_eq!(a, LoopbackUi::default_port("https://mcp.example.com/mcp"));
        assert_eq!(
            LoopbackUi::new("https://mcp.example.com/mcp").redirect_uri(),
            format!("http://127.0.0.1:{a}/callback")
        );
        // Pinned: the formula must never change (registered redirect URIs).
        // 30000 + fnv1a64(key) % 10000.
        assert_eq!(LoopbackUi::default_port(""), 36037);
        assert_eq!(LoopbackUi::default_port("a"), 31996);
        assert_eq!(a, 36110);
        let mut distinct = std::collections::HashSet::new();
        for i in 0..100 {
            let p = LoopbackUi::default_port(&format!("https://server{i}.example/mcp"));
            assert!((30000..=39999).contains(&p), "{p}");
            distinct.insert(p);
        }
        assert!(distinct.len() > 90, "{}", distinct.len());
        assert_ne!(a, LoopbackUi::default_port("https://other.example.com/mcp"));
    }

    #[tokio::test]
    async fn busy_port_fails_naming_the_port() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let err = test_ui(port)
            .run(&auth_url(), "S3CRET-state", "srv")
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&format!("port {port}")), "{msg}");
        assert!(msg.contains("callback_port"), "{msg}");
        assert!(msg.contains("in use"), "{msg}");
    }

    #[tokio::test]
    async fn pasted_redirect_completes() {
        let port = free_port();
        let right = format!("http://127.0.0.1:{port}/callback?code=pasted-code&state=S3CRET-state");
        let input = format!(
            "\nnot a url\nhttp://127.0.0.1:{port}/callback?code=c&state=wrong\n  {right}  \n"
        );
        let ui = test_ui(port)
            .paste_fallback(true)
            .paste_input(std::io::Cursor::new(input.into_bytes()));
        let redirect = ui.run(&auth_url(), "S3CRET-state", "srv").await.unwrap();
        assert_eq!(redirect.as_str(), right);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
    }

    #[tokio::test]
    async fn pasted_query_completes_and_eof_keeps_listening() {
        let port = free_port();
        let ui = test_ui(port)
            .paste_fallback(true)
            .paste_input(std::io::Cursor::new(
                b"?code=q&state=S3CRET-state\n".to_vec(),
            ));
        let redirect = ui.run(&auth_url(), "S3CRET-state", "srv").await.unwrap();
        assert_eq!(
            redirect.as_str(),
            format!("http://127.0.0.1:{port}/callback?code=q&state=S3CRET-state")
        );

        // Input that ends without the redirect: the listener still works.
        let port = free_port();
        let ui = test_ui(port)
            .paste_fallback(true)
            .paste_input(std::io::Cursor::new(b"nothing useful\n".to_vec()));
        let url = auth_url();
        let flow = ui.run(&url, "S3CRET-state", "srv");
        let client = get(port, "/callback?code=h&state=S3CRET-state");
        let (result, (status, _)) = tokio::join!(flow, client);
        assert_eq!(status, 200);
        assert_eq!(result.unwrap().query(), Some("code=h&state=S3CRET-state"));
    }

    #[tokio::test]
    async fn oversized_and_odd_requests_are_refused() {
        let port = free_port();
        let ui = test_ui(port);
        let url = auth_url();
        let flow = ui.run(&url, "S3CRET-state", "srv");
        let client = async {
            let long = format!("/callback?x={}", "a".repeat(20 * 1024));
            let (status, _) = get(port, &long).await;
            assert_eq!(status, 431);
            // Not GET.
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(b"POST /callback?state=S3CRET-state HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut resp = String::new();
            s.read_to_string(&mut resp).await.unwrap();
            assert!(resp.starts_with("HTTP/1.1 405 "), "{resp}");
            // An idle connection does not hold up the callback.
            let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            get(port, "/callback?code=z&state=S3CRET-state").await
        };
        let (result, (status, _)) = tokio::join!(flow, client);
        assert_eq!(status, 200);
        assert!(result.is_ok());
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn ipv6_host_is_bracketed() {
        let ui = LoopbackUi::new("k").host("[::1]").port(4000).path("cb");
        assert_eq!(ui.redirect_uri(), "http://[::1]:4000/cb");
        let ui = LoopbackUi::new("k").host("localhost").port(4000);
        assert_eq!(ui.redirect_uri(), "http://localhost:4000/callback");
    }
}
