//! [`Client`]: many servers, connected concurrently, each isolated from the
//! others' failures.

#![allow(deprecated)] // Roots are deprecated in 2026-07-28 but still served.

mod account;
pub mod handler;
pub mod oauth;

pub use account::{AccountStatus, LoginOutcome};

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use rmcp::model::Root;
use serde_json::{Value, json};

use crate::config::{Config, ConfigError, ServerConfig};
use crate::error::{Error, ErrorKind};
use crate::session::Session;
use crate::session::attention::Attention;
use crate::session::handshake::{ConnectOptions, Memo, connect};
use handler::{ElicitationHandler, Handlers, NotificationHandler, SamplingHandler};

/// Default time a stdio server gets to answer the `server/discover` probe
/// before it is treated as a legacy server.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a server's configuration comes from.
enum Entry {
    /// Resolved on first use, so a missing variable of one server does not
    /// stop the others.
    FromConfig(Arc<Config>),
    Ready(Box<ServerConfig>),
}

struct Slot {
    entry: Entry,
    session: tokio::sync::Mutex<Option<Session>>,
}

/// An MCP client for any number of servers.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use mcpkey::{Client, ServerConfig};
/// let client = Client::builder()
///     .server("everything", ServerConfig::stdio("npx").args(["-y", "@modelcontextprotocol/server-everything"]))
///     .build();
/// let session = client.session("everything").await?;
/// for tool in session.list_tools().await? {
///     println!("{}", tool.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    slots: BTreeMap<String, Slot>,
    opts: ConnectOptions,
    memos: Mutex<HashMap<String, Memo>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("servers", &self.inner.slots.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The outcome of [`Client::connect_all`].
#[derive(Debug, Default)]
pub struct ConnectReport {
    /// Servers now connected.
    pub connected: Vec<String>,
    /// Servers that failed, with why.
    pub failed: Vec<Error>,
    /// Servers skipped because they are disabled in the config.
    pub disabled: Vec<String>,
}

/// Builds a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    config: Option<Arc<Config>>,
    servers: Vec<(String, ServerConfig)>,
    handlers: Handlers,
    client_name: Option<(String, String)>,
    probe_timeout: Option<Duration>,
    log_level: Option<String>,
    token_store: Option<Arc<dyn mcpkey_auth::oauth::TokenStore>>,
    login_ui: Option<oauth::LoginUiFactory>,
}

impl ClientBuilder {
    /// Where OAuth tokens and client registrations are kept (default: the
    /// file store under `$MCPKEY_HOME`, or the user data directory).
    pub fn token_store(mut self, store: Arc<dyn mcpkey_auth::oauth::TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// How users log in when a server needs OAuth authorization (default:
    /// none; such a server fails with a message to log in first).
    pub fn login_ui(mut self, factory: oauth::LoginUiFactory) -> Self {
        self.login_ui = Some(factory);
        self
    }

    /// Adds every server of a config file (resolved lazily, per server).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(Arc::new(config));
        self
    }

    /// Adds (or replaces) one server built in code.
    pub fn server(mut self, name: impl Into<String>, cfg: ServerConfig) -> Self {
        self.servers.push((name.into(), cfg));
        self
    }

    /// Answers elicitations (and advertises the capability).
    pub fn elicitation(mut self, h: impl ElicitationHandler + 'static) -> Self {
        self.handlers.elicitation = Some(Arc::new(h));
        self
    }

    /// Answers sampling requests (and advertises the capability).
    pub fn sampling(mut self, h: impl SamplingHandler + 'static) -> Self {
        self.handlers.sampling = Some(Arc::new(h));
        self
    }

    /// Offers these roots (and advertises the capability).
    pub fn roots(mut self, roots: Vec<Root>) -> Self {
        self.handlers.roots = Some(Arc::new(roots));
        self
    }

    /// Receives notifications from every server.
    pub fn on_notification(mut self, h: impl NotificationHandler + 'static) -> Self {
        self.handlers.notifications = Some(Arc::new(h));
        self
    }

    /// The name and version reported to servers (default: mcpkey and its
    /// version).
    pub fn client_info(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.client_name = Some((name.into(), version.into()));
        self
    }

    /// How long a stdio server may stay silent on the `server/discover`
    /// probe before it is treated as a legacy server (default 3 s).
    pub fn probe_timeout(mut self, t: Duration) -> Self {
        self.probe_timeout = Some(t);
        self
    }

    /// Asks servers for log messages at this level and above (`debug`,
    /// `info`, `notice`, `warning`, `error`, ...). Modern servers get it on
    /// every request; legacy servers through `logging/setLevel`.
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = Some(level.into());
        self
    }

    /// Builds the client. Nothing connects until asked.
    pub fn build(self) -> Client {
        let mut slots = BTreeMap::new();
        if let Some(cfg) = &self.config {
            for name in cfg.server_names() {
                slots.insert(
                    name.to_owned(),
                    Slot {
                        entry: Entry::FromConfig(Arc::clone(cfg)),
                        session: tokio::sync::Mutex::new(None),
                    },
                );
            }
        }
        for (name, cfg) in self.servers {
            slots.insert(
                name,
                Slot {
                    entry: Entry::Ready(Box::new(cfg)),
                    session: tokio::sync::Mutex::new(None),
                },
            );
        }
        let (name, version) = self
            .client_name
            .unwrap_or_else(|| ("mcpkey".into(), env!("CARGO_PKG_VERSION").into()));
        Client {
            inner: Arc::new(Inner {
                slots,
                opts: ConnectOptions {
                    client_info: json!({"name": name, "version": version}),
                    handlers: self.handlers,
                    probe_timeout: self.probe_timeout.unwrap_or(DEFAULT_PROBE_TIMEOUT),
                    log_level: self.log_level,
                    oauth: oauth::OAuthEnv {
                        store: self.token_store.unwrap_or_else(default_token_store),
                        http: Arc::default(),
                        ui: self.login_ui,
                        attention: Attention::default(),
                    },
                },
                memos: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for every server of a config file.
    pub fn from_config(config: Config) -> Self {
        Self::builder().config(config).build()
    }

    /// Configured server names, sorted.
    pub fn server_names(&self) -> impl Iterator<Item = &str> {
        self.inner.slots.keys().map(String::as_str)
    }

    /// The resolved configuration of one server, with non-fatal warnings.
    pub fn server_config(&self, name: &str) -> Result<(ServerConfig, Vec<String>), Error> {
        let slot = self.slot(name)?;
        match &slot.entry {
            Entry::Ready(c) => Ok((c.as_ref().clone(), Vec::new())),
            Entry::FromConfig(cfg) => cfg.resolve(name).map_err(|e: ConfigError| {
                Error::new(name, "reading the config", ErrorKind::Config(e))
            }),
        }
    }

    fn slot(&self, name: &str) -> Result<&Slot, Error> {
        self.inner.slots.get(name).ok_or_else(|| {
            Error::new(
                name,
                "lookup",
                ErrorKind::UnknownServer {
                    name: name.to_owned(),
                    known: self.server_names().collect::<Vec<_>>().join(", "),
                },
            )
        })
    }

    /// The session with `name`, connecting first if needed (or again, if
    /// the previous session closed).
    pub async fn session(&self, name: &str) -> Result<Session, Error> {
        let slot = self.slot(name)?;
        let mut guard = slot.session.lock().await;
        if let Some(s) = guard.as_ref()
            && !s.is_closed()
        {
            return Ok(s.clone());
        }
        let (cfg, warnings) = self.server_config(name)?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        let memo = self
            .inner
            .memos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        let (session, memo) = connect(name, &cfg, &self.inner.opts, memo).await?;
        self.inner
            .memos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), memo);
        if let (Some(level), crate::session::Era::Legacy) =
            (&self.inner.opts.log_level, session.details().era)
            && session.details().capabilities.logging.is_some()
            && let Err(e) = session
                .request_raw("logging/setLevel", Some(json!({ "level": level })))
                .await
        {
            tracing::warn!(server = %name, error = %e, "could not set the server's log level");
        }
        *guard = Some(session.clone());
        Ok(session)
    }

    /// Connects every enabled server concurrently. One server's failure
    /// does not affect the others; the report says which failed and why.
    pub async fn connect_all(&self) -> ConnectReport {
        let mut report = ConnectReport::default();
        let mut names = Vec::new();
        for name in self.server_names() {
            match self.server_config(name) {
                Ok((cfg, _)) if cfg.disabled => report.disabled.push(name.to_owned()),
                _ => names.push(name.to_owned()),
            }
        }
        let results = join_all(names.iter().map(|n| self.session(n))).await;
        for (name, r) in names.into_iter().zip(results) {
            match r {
                Ok(_) => report.connected.push(name),
                Err(e) => report.failed.push(e),
            }
        }
        report
    }

    /// Closes every open session.
    pub async fn close(&self) {
        let mut sessions = Vec::new();
        for slot in self.inner.slots.values() {
            if let Some(s) = slot.session.lock().await.take() {
                sessions.push(s);
            }
        }
        join_all(sessions.iter().map(|s| s.close())).await;
    }
}

/// The default token store: files under `$MCPKEY_HOME` or the user data
/// directory; in memory (with a warning) when neither exists.
fn default_token_store() -> Arc<dyn mcpkey_auth::oauth::TokenStore> {
    match mcpkey_auth::oauth::FileStore::open_default() {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::warn!(error = %e, "OAuth tokens will not be kept between runs");
            Arc::new(mcpkey_auth::oauth::MemoryStore::default())
        }
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Client>();
    is::<Session>();
    is::<Value>();
}
