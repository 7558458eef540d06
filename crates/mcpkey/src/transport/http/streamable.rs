//! Streamable HTTP, client side, for both protocol eras.
//!
//! Modern (2026-07-28): every message is a POST; a request is answered with
//! JSON or with an SSE stream scoped to it; no sessions, no GET stream, no
//! resumption (a broken stream is reported as [`TransportError::StreamEnded`]
//! and the session re-issues the request with a new id).
//!
//! Legacy (2025-03-26 to 2025-11-25), switched on by
//! `StreamableHttp::set_legacy` before `initialize`: the `Mcp-Session-Id`
//! from the initialize response is sent on every later request; a POST
//! stream that breaks after an event id is resumed with a GET carrying
//! `Last-Event-ID`, after the server's `retry` delay, and events the server
//! sends again on the resumed stream (same id) are skipped; a standalone GET
//! stream carries server notifications and requests (a non-2xx answer there
//! only means "no stream"); a 404 on a request that carried the session id
//! means the session expired; DELETE ends the session on close.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use mcpkey_auth::{AuthResponse, RequestKind};
use tokio::task::JoinHandle;
use url::Url;

use super::core::{HttpCore, content_type_is};
use super::sse::SseItem;
use super::stream::SseReader;
use crate::transport::jsonrpc::{Incoming, RpcResult, parse_incoming};
use crate::transport::{Call, InboundTx, Transport, TransportError, TransportKind};

const ACCEPT_BOTH: HeaderValue = HeaderValue::from_static("application/json, text/event-stream");
const ACCEPT_SSE: HeaderValue = HeaderValue::from_static("text/event-stream");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
pub(crate) const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
pub(crate) const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Resume attempts for one broken POST stream (legacy era).
const MAX_RESUMES: u32 = 5;
/// Reconnection delay when the server gave no `retry`.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Event ids of one response stream remembered to skip replays.
const MAX_SEEN_IDS: usize = 4096;
/// Longest wait for the end of a stream after its response arrived.
const DRAIN_BUDGET: Duration = Duration::from_millis(100);

#[derive(Default)]
struct State {
    session_id: Option<HeaderValue>,
    protocol_version: Option<HeaderValue>,
}

/// A Streamable HTTP connection to one MCP endpoint.
pub(crate) struct StreamableHttp {
    core: HttpCore,
    url: Url,
    state: Mutex<State>,
    inbound: InboundTx,
    legacy: AtomicBool,
    closed: AtomicBool,
    listener: Mutex<Option<JoinHandle<()>>>,
}

/// What a POST answered before its response (used by era detection).
pub(crate) enum PostOutcome {
    /// The JSON-RPC response.
    Response(RpcResult),
    /// An HTTP status without a usable response; the body's JSON-RPC error,
    /// if any, is inside the error.
    Status(TransportError),
}

impl StreamableHttp {
    pub(crate) fn new(core: HttpCore, url: Url, inbound: InboundTx) -> Arc<Self> {
        Arc::new(Self {
            core,
            url,
            state: Mutex::new(State::default()),
            inbound,
            legacy: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            listener: Mutex::new(None),
        })
    }

    /// Switches on the legacy behaviours (sessions, resumption, GET stream).
    pub(crate) fn set_legacy(&self, yes: bool) {
        self.legacy.store(yes, Ordering::Release);
    }

    fn is_legacy(&self) -> bool {
        self.legacy.load(Ordering::Acquire)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens the standalone GET stream (legacy era) and waits up to `wait`
    /// for the server's answer to it, so that server requests sent while a
    /// call starts are not lost.
    pub(crate) async fn start_listening_and_wait(self: &Arc<Self>, wait: Duration) {
        if !self.is_legacy() {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut slot = self.listener.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                return;
            }
            *slot = Some(tokio::spawn(Arc::clone(self).listen(Some(tx))));
        }
        let _ = tokio::time::timeout(wait, rx).await;
    }

    /// Forgets the session id (before re-initializing).
    pub(crate) fn reset_session(&self) {
        self.state().session_id = None;
    }

    fn headers(&self, accept: HeaderValue, json_body: bool) -> (HeaderMap, bool) {
        let mut h = HeaderMap::with_capacity(8);
        h.insert(ACCEPT, accept);
        if json_body {
            h.insert(CONTENT_TYPE, JSON);
        }
        let st = self.state();
        if let Some(v) = &st.protocol_version {
            h.insert(PROTOCOL_VERSION, v.clone());
        }
        let has_session = if let Some(s) = &st.session_id {
            h.insert(SESSION_ID, s.clone());
            true
        } else {
            false
        };
        (h, has_session)
    }

    /// Sends a request and classifies the answer without turning HTTP
    /// errors into failures (era detection needs to look at them).
    pub(crate) async fn post_request(&self, call: Call) -> Result<PostOutcome, TransportError> {
        let (mut headers, sent_session) = self.headers(ACCEPT_BOTH, true);
        headers.extend(call.headers);
        let resp = self
            .core
            .send(
                RequestKind::Post,
                Method::POST,
                &self.url,
                headers,
                call.body,
            )
            .await?;
        let status = resp.status;
        if status.is_success() {
            self.capture_session(&resp);
            if content_type_is(&resp.headers, "text/event-stream") {
                return self
                    .read_post_stream(resp, call.id)
                    .await
                    .map(PostOutcome::Response);
            }
            if content_type_is(&resp.headers, "application/json") {
                let (_, _, _, body) = resp.into_parts();
                let bytes = self.core.read_body(body).await?;
                return self
                    .take_response(&bytes, call.id)
                    .await
                    .map(PostOutcome::Response);
            }
            return Err(TransportError::Protocol(format!(
                "the server answered a request with HTTP {} and content type {:?}; expected \
                 application/json or text/event-stream",
                status.as_u16(),
                resp.headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
            )));
        }
        if status == StatusCode::NOT_FOUND && sent_session && self.is_legacy() {
            resp.discard().await;
            return Err(TransportError::SessionExpired);
        }
        Ok(PostOutcome::Status(
            self.core.status_error(&Method::POST, resp).await,
        ))
    }

    fn capture_session(&self, resp: &AuthResponse) {
        if !self.is_legacy() {
            return;
        }
        if let Some(v) = resp.headers.get(SESSION_ID) {
            let visible = v.as_bytes().iter().all(|b| (0x21..=0x7e).contains(b));
            if visible && !v.is_empty() {
                let mut st = self.state();
                if st.session_id.is_none() {
                    let mut v = v.clone();
                    v.set_sensitive(true);
                    st.session_id = Some(v);
                }
            }
        }
    }

    async fn take_response(&self, bytes: &[u8], id: i64) -> Result<RpcResult, TransportError> {
        let messages =
            parse_incoming(bytes).map_err(|e| TransportError::Protocol(e.to_string()))?;
        let mut found = None;
        for m in messages {
            if found.is_none() && m.response_id() == Some(id) {
                if let Incoming::Response { result, .. } = m {
                    found = Some(result);
                }
            } else {
                self.deliver(m).await;
            }
        }
        found.ok_or_else(|| {
            TransportError::Protocol("the server's JSON answer did not contain the response".into())
        })
    }

    async fn deliver(&self, m: Incoming) {
        // If the session is gone nobody listens; that is not an error here.
        let _ = self.inbound.send(m).await;
    }

    /// Reads an SSE response stream until our response, resuming (legacy
    /// only) if it breaks after an event id.
    async fn read_post_stream(
        &self,
        resp: AuthResponse,
        id: i64,
    ) -> Result<RpcResult, TransportError> {
        let limit = self.core.settings().max_message_bytes;
        let (_, _, _, body) = resp.into_parts();
        let mut reader = SseReader::new(body, limit);
        let mut last_id: Option<String> = None;
        let mut retry: Option<Duration> = None;
        let mut resumes = 0u32;
        // Ids of events delivered (legacy: the stream may be resumed): a
        // server that replays one on resume must not deliver it twice.
        let legacy = self.is_legacy();
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let broken = loop {
                match reader.next().await {
                    None => break None,
                    Some(Err(e @ TransportError::SseTooLarge(_))) => return Err(e),
                    Some(Err(e)) => break Some(e),
                    Some(Ok(SseItem::Retry(ms))) => retry = Some(Duration::from_millis(ms)),
                    Some(Ok(SseItem::Event(ev))) => {
                        let has_id = ev.id.is_some();
                        if let Some(i) = ev.id {
                            if resumes > 0 && seen.contains(&i) {
                                tracing::debug!(
                                    "skipping an event the server sent again on resume"
                                );
                                continue;
                            }
                            last_id = Some(i);
                        }
                        if ev.data.trim().is_empty()
                            || ev.event.as_deref().is_some_and(|e| e != "message")
                        {
                            continue;
                        }
                        match parse_incoming(ev.data.as_bytes()) {
                            Ok(messages) => {
                                let mut found = None;
                                for m in messages {
                                    if found.is_none() && m.response_id() == Some(id) {
                                        if let Incoming::Response { result, .. } = m {
                                            found = Some(result);
                                        }
                                    } else {
                                        self.deliver(m).await;
                                    }
                                }
                                if let Some(r) = found {
                                    reader.drain_briefly(DRAIN_BUDGET).await;
                                    return Ok(r);
                                }
                                // Delivered: remember its id in case the
                                // server replays it after a resume.
                                if legacy
                                    && has_id
                                    && seen.len() < MAX_SEEN_IDS
                                    && let Some(i) = &last_id
                                {
                                    seen.insert(i.clone());
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "ignoring an unparseable SSE event");
                            }
                        }
                    }
                }
            };
            // The stream ended (or broke) before our response.
            let can_resume = self.is_legacy()
                && last_id.is_some()
                && resumes < MAX_RESUMES
                && !self.closed.load(Ordering::Acquire);
            if !can_resume {
                if let Some(e) = broken {
                    tracing::debug!(error = %e, "response stream broke");
                }
                return Err(TransportError::StreamEnded);
            }
            resumes += 1;
            let wait = retry.unwrap_or(DEFAULT_RETRY);
            tracing::debug!(
                ?wait,
                attempt = resumes,
                "resuming the response stream with Last-Event-ID"
            );
            tokio::time::sleep(wait).await;
            let (mut headers, _) = self.headers(ACCEPT_SSE, false);
            if let Some(l) = last_id
                .as_deref()
                .and_then(|l| HeaderValue::from_str(l).ok())
            {
                headers.insert(LAST_EVENT_ID, l);
            }
            let resp = self
                .core
                .send(
                    RequestKind::ResumeGet,
                    Method::GET,
                    &self.url,
                    headers,
                    Bytes::new(),
                )
                .await?;
            if !resp.status.is_success() || !content_type_is(&resp.headers, "text/event-stream") {
                return Err(self.core.status_error(&Method::GET, resp).await);
            }
            let (_, _, _, body) = resp.into_parts();
            reader = SseReader::new(body, limit);
        }
    }

    /// POSTs a notification or a response (202 expected).
    async fn post_message(&self, body: Bytes, extra: HeaderMap) -> Result<(), TransportError> {
        let (mut headers, sent_session) = self.headers(ACCEPT_BOTH, true);
        headers.extend(extra);
        let resp = self
            .core
            .send(RequestKind::Post, Method::POST, &self.url, headers, body)
            .await?;
        if resp.status.is_success() {
            resp.discard().await;
            return Ok(());
        }
        if resp.status == StatusCode::NOT_FOUND && sent_session && self.is_legacy() {
            resp.discard().await;
            return Err(TransportError::SessionExpired);
        }
        Err(self.core.status_error(&Method::POST, resp).await)
    }

    /// The standalone GET stream (legacy era): server notifications and
    /// requests. Reconnects after the server's `retry` delay; gives up on a
    /// non-2xx answer, which only means the server offers no such stream.
    async fn listen(self: Arc<Self>, mut ready: Option<tokio::sync::oneshot::Sender<()>>) {
        let limit = self.core.settings().max_message_bytes;
        let mut last_id: Option<String> = None;
        let mut retry = DEFAULT_RETRY;
        let mut failures = 0u32;
        while !self.closed.load(Ordering::Acquire) {
            let (mut headers, _) = self.headers(ACCEPT_SSE, false);
            let kind = match last_id
                .as_deref()
                .and_then(|l| HeaderValue::from_str(l).ok())
            {
                Some(l) => {
                    headers.insert(LAST_EVENT_ID, l);
                    RequestKind::ResumeGet
                }
                None => RequestKind::StreamGet,
            };
            let sent = self
                .core
                .send(kind, Method::GET, &self.url, headers, Bytes::new())
                .await;
            if let Some(r) = ready.take() {
                let _ = r.send(());
            }
            match sent {
                Ok(resp)
                    if resp.status.is_success()
                        && content_type_is(&resp.headers, "text/event-stream") =>
                {
                    let (_, _, _, body) = resp.into_parts();
                    let mut reader = SseReader::new(body, limit);
                    let mut got_any = false;
                    while let Some(item) = reader.next().await {
                        match item {
                            Ok(SseItem::Retry(ms)) => retry = Duration::from_millis(ms),
                            Ok(SseItem::Event(ev)) => {
                                got_any = true;
                                if let Some(i) = ev.id {
                                    last_id = Some(i);
                                }
                                if ev.data.trim().is_empty() {
                                    continue;
                                }
                                match parse_incoming(ev.data.as_bytes()) {
                                    Ok(ms) => {
                                        for m in ms {
                                            self.deliver(m).await;
                                        }
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "ignoring an unparseable SSE event on the GET stream")
                                    }
                                }
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "GET stream broke");
                                break;
                            }
                        }
                    }
                    failures = if got_any { 0 } else { failures + 1 };
                }
                Ok(resp) => {
                    tracing::debug!(
                        status = resp.status.as_u16(),
                        "the server offers no standalone GET stream"
                    );
                    resp.discard().await;
                    return;
                }
                Err(e) => {
                    failures += 1;
                    tracing::debug!(error = %e, "GET stream request failed");
                }
            }
            if failures > 5 {
                tracing::debug!("giving up on the GET stream after repeated failures");
                return;
            }
            let backoff = retry.saturating_mul(1 << failures.min(5));
            tokio::time::sleep(backoff.min(Duration::from_secs(30))).await;
        }
    }
}

#[async_trait]
impl Transport for Arc<StreamableHttp> {
    async fn call(&self, call: Call) -> Result<RpcResult, TransportError> {
        match self.post_request(call).await? {
            PostOutcome::Response(r) => Ok(r),
            PostOutcome::Status(e) => Err(e),
        }
    }

    async fn notify(&self, body: Bytes, headers: HeaderMap) -> Result<(), TransportError> {
        self.post_message(body, headers).await
    }

    async fn respond(&self, body: Bytes) -> Result<(), TransportError> {
        self.post_message(body, HeaderMap::new()).await
    }

    fn set_protocol_version(&self, version: &str) {
        if let Ok(v) = HeaderValue::from_str(version) {
            self.state().protocol_version = Some(v);
        }
    }

    fn needs_cancel_notification(&self, modern: bool) -> bool {
        !modern
    }

    async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(h) = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            h.abort();
        }
        let (headers, has_session) = self.headers(ACCEPT_BOTH, false);
        if has_session && self.is_legacy() {
            let del = self.core.send(
                RequestKind::Delete,
                Method::DELETE,
                &self.url,
                headers,
                Bytes::new(),
            );
            match tokio::time::timeout(Duration::from_secs(2), del).await {
                Ok(Ok(resp)) => {
                    tracing::debug!(status = resp.status.as_u16(), "session DELETE answered");
                    resp.discard().await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "session DELETE failed"),
                Err(_) => tracing::debug!("session DELETE timed out"),
            }
        }
    }

    fn kind(&self) -> TransportKind {
        TransportKind::StreamableHttp
    }
}

impl Drop for StreamableHttp {
    fn drop(&mut self) {
        if let Some(h) = self
            .listener
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            h.abort();
        }
    }
}
