//! The deprecated HTTP+SSE transport (protocol 2024-11-05), which many
//! servers still serve at `/sse` URLs.
//!
//! A GET opens an event stream whose first event, `endpoint`, names the URL
//! to POST messages to. That endpoint must be on the same origin as the
//! stream: credentials are sent there, so any other origin is refused.
//! Responses and server messages arrive as `message` events on the stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::Method;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use mcpkey_auth::{RedactedUrl, RequestKind, redact::origin_string};
use tokio::task::JoinHandle;
use url::Url;

use super::core::{HttpCore, content_type_is};
use super::sse::SseItem;
use super::stream::SseReader;
use super::streamable::PROTOCOL_VERSION;
use crate::transport::jsonrpc::{Incoming, RpcResult, id_as_i64, parse_incoming};
use crate::transport::pending::{Closed, Pending};
use crate::transport::{Call, InboundTx, Transport, TransportError, TransportKind};

/// A legacy HTTP+SSE connection.
pub(crate) struct LegacySse {
    core: HttpCore,
    endpoint: Url,
    pending: Arc<Pending>,
    protocol_version: std::sync::Mutex<Option<HeaderValue>>,
    reader: std::sync::Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
}

impl LegacySse {
    /// Opens the event stream at `url` and waits (up to `timeout`) for the
    /// `endpoint` event.
    pub(crate) async fn connect(
        core: HttpCore,
        url: &Url,
        inbound: InboundTx,
        timeout: Duration,
    ) -> Result<Arc<Self>, TransportError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let resp = core
            .send(
                RequestKind::LegacySseGet,
                Method::GET,
                url,
                headers,
                Bytes::new(),
            )
            .await?;
        if !resp.status.is_success() {
            return Err(core.status_error(&Method::GET, resp).await);
        }
        if !content_type_is(&resp.headers, "text/event-stream") {
            return Err(TransportError::Protocol(format!(
                "GET {} did not open an event stream (content type {:?})",
                RedactedUrl(url),
                resp.headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
            )));
        }
        let (_, _, _, body) = resp.into_parts();
        let mut reader = SseReader::new(body, core.settings().max_message_bytes);
        let endpoint = tokio::time::timeout(timeout, async {
            while let Some(item) = reader.next().await {
                if let SseItem::Event(ev) = item?
                    && ev.event.as_deref() == Some("endpoint") {
                        return Ok(ev.data);
                    }
            }
            Err(TransportError::Protocol(
                "the SSE stream ended before its `endpoint` event".into(),
            ))
        })
        .await
        .map_err(|_| {
            TransportError::Protocol(format!(
                "no `endpoint` event on the SSE stream within {timeout:?}; is this a legacy SSE URL?"
            ))
        })??;
        let endpoint = url.join(endpoint.trim()).map_err(|e| {
            TransportError::Protocol(format!("the SSE `endpoint` event is not a URL: {e}"))
        })?;
        if endpoint.origin() != url.origin() {
            return Err(TransportError::EndpointCrossOrigin {
                endpoint_origin: origin_string(&endpoint),
                stream_origin: origin_string(url),
            });
        }
        tracing::debug!(endpoint = %RedactedUrl(&endpoint), "legacy SSE endpoint");
        let this = Arc::new(Self {
            core,
            endpoint,
            pending: Arc::new(Pending::default()),
            protocol_version: std::sync::Mutex::new(None),
            reader: std::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        let pending = Arc::clone(&this.pending);
        let task = tokio::spawn(read_stream(reader, pending, inbound));
        *this.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(this)
    }

    async fn post(&self, body: Bytes) -> Result<(), TransportError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(v) = self
            .protocol_version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            headers.insert(PROTOCOL_VERSION, v);
        }
        let resp = self
            .core
            .send(
                RequestKind::LegacyPost,
                Method::POST,
                &self.endpoint,
                headers,
                body,
            )
            .await?;
        if resp.status.is_success() {
            resp.discard().await;
            Ok(())
        } else {
            Err(self.core.status_error(&Method::POST, resp).await)
        }
    }
}

async fn read_stream(mut reader: SseReader, pending: Arc<Pending>, inbound: InboundTx) {
    while let Some(item) = reader.next().await {
        match item {
            Ok(SseItem::Event(ev)) => {
                if ev.data.trim().is_empty() || ev.event.as_deref().is_some_and(|e| e != "message")
                {
                    continue;
                }
                match parse_incoming(ev.data.as_bytes()) {
                    Ok(messages) => {
                        for m in messages {
                            route(m, &pending, &inbound).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring an unparseable SSE message"),
                }
            }
            Ok(SseItem::Retry(_)) => {}
            Err(e) => {
                tracing::debug!(error = %e, "legacy SSE stream broke");
                break;
            }
        }
    }
    pending.close(Closed::StreamEnded);
}

pub(crate) async fn route(m: Incoming, pending: &Pending, inbound: &InboundTx) {
    if let Incoming::Response { id, result } = m {
        let delivered = id_as_i64(&id).is_some_and(|n| pending.complete(n, result));
        if !delivered {
            tracing::debug!(?id, "response to an unknown or abandoned request ignored");
        }
    } else {
        let _ = inbound.send(m).await;
    }
}

#[async_trait]
impl Transport for Arc<LegacySse> {
    async fn call(&self, call: Call) -> Result<RpcResult, TransportError> {
        let waiter = self.pending.register(call.id)?;
        self.post(call.body).await?;
        waiter.wait().await
    }

    async fn notify(&self, body: Bytes, _headers: HeaderMap) -> Result<(), TransportError> {
        self.post(body).await
    }

    async fn respond(&self, body: Bytes) -> Result<(), TransportError> {
        self.post(body).await
    }

    fn set_protocol_version(&self, version: &str) {
        if let Ok(v) = HeaderValue::from_str(version) {
            *self
                .protocol_version
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(v);
        }
    }

    fn needs_cancel_notification(&self, _modern: bool) -> bool {
        true
    }

    async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(h) = self.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
        self.pending.close(Closed::ByUs);
    }

    fn kind(&self) -> TransportKind {
        TransportKind::Sse
    }
}

impl Drop for LegacySse {
    fn drop(&mut self) {
        if let Some(h) = self
            .reader
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            h.abort();
        }
    }
}
