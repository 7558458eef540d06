//! A small connection pool over hyper's HTTP/1.1 client connections.
//!
//! Each connection is a `hyper::client::conn::http1` handshake over a TCP
//! (or TLS) stream from hyper-rustls's connector, driven by its own task.
//! A request takes an idle connection, waiting for it to become ready if
//! its previous response was only just read, and opens a new connection
//! only when none is idle: a session's sequential calls stay on one
//! connection, and N calls in flight use N connections. A connection goes
//! back to the pool when its response body has been read to the end;
//! a body dropped early closes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower_service::Service;

/// Idle connections unused for longer are closed instead of reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per origin; more are closed.
const MAX_IDLE: usize = 256;

pub(crate) type Sender = SendRequest<Full<Bytes>>;

/// Why no connection could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// TCP, TLS or DNS failed.
    #[error("connection failed: {0}")]
    Connect(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The HTTP/1.1 handshake failed.
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[source] hyper::Error),
}

/// A connection checked out for one request.
pub(crate) struct Checked {
    pub sender: Sender,
    /// Whether it served requests before (a failure before any answer on
    /// such a connection means the server had closed it: safe to resend).
    pub reused: bool,
    origin: String,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// Connections to the origins one server uses (normally just one).
pub(crate) struct Pool {
    connector: HttpsConnector<HttpConnector>,
    handshake: hyper::client::conn::http1::Builder,
    idle: Mutex<Vec<(String, Vec<Idle>)>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let mut s = String::with_capacity(scheme.len() + 3 + authority.len());
    s.push_str(scheme);
    s.push_str("://");
    s.push_str(authority);
    s
}

impl Pool {
    /// A pool whose connections accept response heads up to
    /// `max_header_bytes` (at least 8 KiB, checked by the config).
    pub(crate) fn new(
        connector: HttpsConnector<HttpConnector>,
        max_header_bytes: usize,
    ) -> Arc<Self> {
        let mut handshake = hyper::client::conn::http1::Builder::new();
        handshake.max_buf_size(max_header_bytes.max(8192));
        Arc::new(Self {
            connector,
            handshake,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn take_idle(&self, origin: &str) -> Option<Idle> {
        let mut all = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = &mut all.iter_mut().find(|(o, _)| o == origin)?.1;
        while let Some(idle) = list.pop() {
            if !idle.sender.is_closed() && idle.since.elapsed() < IDLE_TIMEOUT {
                return Some(idle);
            }
        }
        None
    }

    /// A connection ready for a request to `uri` (absolute).
    pub(crate) async fn checkout(&self, uri: &Uri) -> Result<Checked, ConnectError> {
        let origin = origin_of(uri);
        while let Some(mut idle) = self.take_idle(&origin) {
            // Its last response was read; the connection task may still be
            // finishing it. Waiting is far cheaper than a new connection.
            if idle.sender.ready().await.is_ok() {
                return Ok(Checked {
                    sender: idle.sender,
                    reused: true,
                    origin,
                });
            }
        }
        let io = self
            .connector
            .clone()
            .call(uri.clone())
            .await
            .map_err(ConnectError::Connect)?;
        let (sender, conn) = self
            .handshake
            .handshake(io)
            .await
            .map_err(ConnectError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
        Ok(Checked {
            sender,
            reused: false,
            origin,
        })
    }

    /// Returns a connection whose response was read to the end.
    pub(crate) fn put_back(&self, checked: Checked) {
        if checked.sender.is_closed() {
            return;
        }
        let mut all = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let idle = Idle {
            sender: checked.sender,
            since: Instant::now(),
        };
        match all.iter_mut().find(|(o, _)| *o == checked.origin) {
            Some((_, list)) if list.len() < MAX_IDLE => list.push(idle),
            Some(_) => {} // enough idle connections: this one closes
            None => all.push((checked.origin, vec![idle])),
        }
    }
}
