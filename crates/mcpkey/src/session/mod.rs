//! A [`Session`] with one connected server: listing, calling, reading,
//! prompting — the same API whichever transport and protocol era the server
//! speaks.

pub(crate) mod attention;
mod cache;
pub(crate) mod dispatch;
mod engine;
pub(crate) mod handshake;
pub(crate) mod headers;
mod meta;
mod subscribe;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use rmcp::model::{
    CallToolResult, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, ProgressNotificationParam,
    Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerCapabilities, Tool,
};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use engine::Engine;
pub use engine::Era;
use headers::{HeaderParam, header_params, param_headers};
pub use subscribe::{Subscribe, Subscription};

use crate::error::{Error, ErrorKind};
use crate::transport::TransportKind;
use crate::transport::jsonrpc::codes;

/// Most pages followed for one list.
const MAX_PAGES: usize = 10_000;

/// What the server told us about itself.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ServerDetails {
    /// The protocol era in use.
    pub era: Era,
    /// The protocol version in use.
    pub protocol_version: String,
    /// The transport in use.
    pub transport: TransportKind,
    /// Name and version the server reported, if any.
    pub implementation: Option<Implementation>,
    /// What the server offers.
    pub capabilities: ServerCapabilities,
    /// Usage instructions for models, if any.
    pub instructions: Option<String>,
}

/// Options for one tool call.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// Overrides the server's request timeout for this call.
    pub timeout: Option<Duration>,
    /// Receives `notifications/progress` for this call.
    pub progress: Option<dispatch::ProgressFn>,
}

impl CallOptions {
    /// Sets the timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Sets a progress callback.
    pub fn on_progress(
        mut self,
        f: impl Fn(&ProgressNotificationParam) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// A connection to one server. Cheap to clone; all clones share it.
///
/// Dropping the last clone closes the connection (a stdio server is
/// stopped); [`Session::close`] does it explicitly and waits.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    details: ServerDetails,
    request_timeout: Duration,
    tool_headers: RwLock<HashMap<String, Arc<[HeaderParam]>>>,
    dispatcher: JoinHandle<()>,
    closed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.dispatcher.abort();
        if !self.closed.load(Ordering::Acquire) {
            let transport = Arc::clone(&self.engine.shared.transport);
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(async move { transport.close().await });
            }
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.inner.engine.shared.name)
            .field("era", &self.inner.details.era)
            .field("transport", &self.inner.details.transport)
            .finish()
    }
}

impl Session {
    pub(crate) fn assemble(
        engine: Engine,
        details: ServerDetails,
        dispatcher: JoinHandle<()>,
        request_timeout: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                details,
                request_timeout,
                tool_headers: RwLock::new(HashMap::new()),
                dispatcher,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// The server's name in the config.
    pub fn name(&self) -> &str {
        &self.inner.engine.shared.name
    }

    /// What the server reported about itself, and the era and transport in
    /// use.
    pub fn details(&self) -> &ServerDetails {
        &self.inner.details
    }

    fn err(&self, step: impl Into<String>, kind: ErrorKind) -> Error {
        Error::new(self.name(), step, kind)
    }

    fn parse<T: DeserializeOwned>(&self, step: &str, raw: &RawValue) -> Result<T, Error> {
        serde_json::from_str(raw.get()).map_err(|e| {
            self.err(
                step,
                ErrorKind::Protocol(format!(
                    "the server's result does not match the MCP schema: {e}"
                )),
            )
        })
    }

    fn check_open(&self, step: &str) -> Result<(), Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(self.err(step, ErrorKind::Closed));
        }
        Ok(())
    }

    /// Sends any request and returns the raw `result` object. `tools/call`,
    /// `prompts/get` and `resources/read` go through the multi round-trip
    /// machinery on modern servers; `_meta` and headers are added as the
    /// era requires.
    pub async fn request_raw(&self, method: &str, params: Option<Value>) -> Result<Value, Error> {
        self.check_open(method)?;
        let params = match params {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(self.err(
                    method,
                    ErrorKind::Protocol("params must be a JSON object".into()),
                ));
            }
        };
        let e = &self.inner.engine;
        let raw = if matches!(method, "tools/call" | "prompts/get" | "resources/read") {
            e.request_with_input(
                method,
                &params.unwrap_or_default(),
                &[],
                self.inner.request_timeout,
            )
            .await
            .map(|(r, _)| r)
        } else {
            e.request(method, params.as_ref(), &[], self.inner.request_timeout)
                .await
        }
        .map_err(|k| self.err(method, k))?;
        self.parse(method, &raw)
    }

    /// Checks the server is alive: `ping` on legacy servers, `server/discover`
    /// on modern ones (which removed `ping`).
    pub async fn ping(&self) -> Result<(), Error> {
        self.check_open("ping")?;
        let method = match self.inner.details.era {
            Era::Legacy => "ping",
            Era::Modern => "server/discover",
        };
        self.inner
            .engine
            .request(method, None, &[], self.inner.request_timeout)
            .await
            .map(|_| ())
            .map_err(|k| self.err("ping", k))
    }

    async fn cached_request(
        &self,
        method: &str,
        key: &str,
        params: Option<Map<String, Value>>,
    ) -> Result<Box<RawValue>, Error> {
        let cache = &self.inner.engine.shared.cache;
        if let Some(hit) = cache.get(method, key) {
            return Ok(hit);
        }
        let raw = self
            .inner
            .engine
            .request(method, params.as_ref(), &[], self.inner.request_timeout)
            .await
            .map_err(|k| self.err(method, k))?;
        cache.put(method, key, &raw);
        Ok(raw)
    }

    async fn list_all<P, T>(
        &self,
        method: &str,
        split: fn(P) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, Error>
    where
        P: DeserializeOwned,
    {
        self.check_open(method)?;
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            let params = cursor.as_ref().map(|c| {
                let mut m = Map::new();
                m.insert("cursor".into(), Value::String(c.clone()));
                m
            });
            let raw = self
                .cached_request(method, cursor.as_deref().unwrap_or(""), params)
                .await?;
            let page: P = self.parse(method, &raw)?;
            let (mut page_items, next) = split(page);
            items.append(&mut page_items);
            match next.filter(|c| !c.is_empty()) {
                Some(c) => {
                    if !seen.insert(c.clone()) {
                        return Err(self.err(
                            method,
                            ErrorKind::Protocol("the server repeated a pagination cursor".into()),
                        ));
                    }
                    cursor = Some(c);
                }
                None => return Ok(items),
            }
        }
        Err(self.err(
            method,
            ErrorKind::Protocol(format!("more than {MAX_PAGES} pages")),
        ))
    }

    /// Every tool, following pagination to the end.
    ///
    /// On Streamable HTTP, tools whose `x-mcp-header` annotations are
    /// invalid are left out (with a warning), as the 2026-07-28 spec
    /// requires.
    pub async fn list_tools(&self) -> Result<Vec<Tool>, Error> {
        let tools = self
            .list_all::<ListToolsResult, Tool>("tools/list", |p| (p.tools, p.next_cursor))
            .await?;
        Ok(self.remember_tool_headers(tools))
    }

    fn remember_tool_headers(&self, tools: Vec<Tool>) -> Vec<Tool> {
        let http = self.inner.details.transport != TransportKind::Stdio;
        let mut kept = Vec::with_capacity(tools.len());
        let mut map = HashMap::new();
        for t in tools {
            match header_params(&t.input_schema) {
                Ok(p) => {
                    if !p.is_empty() {
                        map.insert(t.name.to_string(), Arc::from(p));
                    }
                    kept.push(t);
                }
                Err(reason) if http => {
                    tracing::warn!(server = %self.name(), tool = %t.name, %reason, "leaving out a tool with an invalid x-mcp-header annotation");
                }
                Err(_) => kept.push(t),
            }
        }
        *self
            .inner
            .tool_headers
            .write()
            .unwrap_or_else(|e| e.into_inner()) = map;
        kept
    }

    fn headers_for(
        &self,
        tool: &str,
        args: Option<&Map<String, Value>>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        if !self.inner.engine.http_headers {
            return Vec::new();
        }
        let params = self
            .inner
            .tool_headers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tool)
            .cloned();
        params.map(|p| param_headers(&p, args)).unwrap_or_default()
    }

    /// Calls a tool with JSON arguments (an object, or `None`).
    ///
    /// A tool that fails returns `Ok` with `is_error: Some(true)`; `Err` means
    /// the call itself failed.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> Result<CallToolResult, Error> {
        self.call_tool_with(name, arguments, CallOptions::default())
            .await
    }

    /// Calls a tool with options (timeout, progress).
    pub async fn call_tool_with(
        &self,
        name: &str,
        arguments: Option<Map<String, Value>>,
        opts: CallOptions,
    ) -> Result<CallToolResult, Error> {
        let step = format!("tools/call '{name}'");
        self.check_open(&step)?;
        let mut params = Map::new();
        params.insert("name".into(), Value::String(name.to_owned()));
        if let Some(a) = arguments {
            params.insert("arguments".into(), Value::Object(a));
        }
        let engine = &self.inner.engine;
        let progress_key = opts.progress.as_ref().map(|cb| {
            let key = format!("mcpkey-{}", engine.next_id());
            engine
                .shared
                .progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone(), Arc::clone(cb));
            params.insert("_meta".into(), json!({ "progressToken": key }));
            key
        });
        let _cleanup = progress_key.map(|key| ProgressCleanup {
            shared: Arc::clone(&engine.shared),
            key,
        });
        let timeout = opts.timeout.unwrap_or(self.inner.request_timeout);
        let mut refreshed = false;
        loop {
            let arguments = params.get("arguments").and_then(Value::as_object);
            let headers = self.headers_for(name, arguments);
            match engine
                .request_with_input("tools/call", &params, &headers, timeout)
                .await
            {
                Ok((raw, _)) => return self.parse(&step, &raw),
                Err(ErrorKind::Server(rpc))
                    if rpc.code == codes::HEADER_MISMATCH && !refreshed && engine.http_headers =>
                {
                    // The tool's x-mcp-header annotations changed (or were
                    // never listed): refresh them and try once more.
                    refreshed = true;
                    self.inner
                        .engine
                        .shared
                        .cache
                        .invalidate("tools/list", None);
                    self.list_tools().await?;
                }
                Err(k) => return Err(self.err(step, k)),
            }
        }
    }

    /// Every resource, following pagination.
    pub async fn list_resources(&self) -> Result<Vec<Resource>, Error> {
        self.list_all::<ListResourcesResult, Resource>("resources/list", |p| {
            (p.resources, p.next_cursor)
        })
        .await
    }

    /// Every resource template, following pagination.
    pub async fn list_resource_templates(&self) -> Result<Vec<ResourceTemplate>, Error> {
        self.list_all::<ListResourceTemplatesResult, ResourceTemplate>(
            "resources/templates/list",
            |p| (p.resource_templates, p.next_cursor),
        )
        .await
    }

    /// Every prompt, following pagination.
    pub async fn list_prompts(&self) -> Result<Vec<Prompt>, Error> {
        self.list_all::<ListPromptsResult, Prompt>("prompts/list", |p| (p.prompts, p.next_cursor))
            .await
    }

    /// Reads a resource.
    pub async fn read_resource(&self, uri: &str) -> Result<ReadResourceResult, Error> {
        let step = format!("resources/read '{uri}'");
        self.check_open(&step)?;
        let cache = &self.inner.engine.shared.cache;
        if let Some(hit) = cache.get("resources/read", uri) {
            return self.parse(&step, &hit);
        }
        let mut params = Map::new();
        params.insert("uri".into(), Value::String(uri.to_owned()));
        let (raw, had_input) = self
            .inner
            .engine
            .request_with_input("resources/read", &params, &[], self.inner.request_timeout)
            .await
            .map_err(|k| self.err(&step, k))?;
        if !had_input {
            cache.put("resources/read", uri, &raw);
        }
        self.parse(&step, &raw)
    }

    /// Gets a prompt with string arguments.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Option<Map<String, Value>>,
    ) -> Result<GetPromptResult, Error> {
        let step = format!("prompts/get '{name}'");
        self.check_open(&step)?;
        let mut params = Map::new();
        params.insert("name".into(), Value::String(name.to_owned()));
        if let Some(a) = arguments {
            params.insert("arguments".into(), Value::Object(a));
        }
        let (raw, _) = self
            .inner
            .engine
            .request_with_input("prompts/get", &params, &[], self.inner.request_timeout)
            .await
            .map_err(|k| self.err(&step, k))?;
        self.parse(&step, &raw)
    }

    /// Whether the session was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Closes the connection (DELETE of the HTTP session; EOF, SIGTERM and
    /// SIGKILL for a stdio server). Idempotent.
    pub async fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.engine.shared.transport.close().await;
        self.inner.dispatcher.abort();
    }
}

struct ProgressCleanup {
    shared: Arc<dispatch::Shared>,
    key: String,
}

impl Drop for ProgressCleanup {
    fn drop(&mut self) {
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}
