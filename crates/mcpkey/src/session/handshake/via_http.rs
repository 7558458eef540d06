//! The HTTP handshake: modern probe, legacy `initialize`, and the fallback
//! to the legacy HTTP+SSE transport.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use super::probe::{Probe, classify_discover, classify_modern_error};
use super::via_stdio::{finish_initialize, initialize};
use super::{Ctx, Parts};
use crate::config::{HttpTransport, ProtocolPin};
use crate::error::{Attempt, ErrorKind};
use crate::session::engine::Era;
use crate::transport::http::core::HttpCore;
use crate::transport::http::legacy_sse::LegacySse;
use crate::transport::http::streamable::{PostOutcome, StreamableHttp};
use crate::transport::jsonrpc::{codes, encode_request};
use crate::transport::{Call, Transport, TransportError};

pub(super) async fn handshake(
    ctx: &Ctx<'_>,
    core: HttpCore,
    url: &url::Url,
    choice: HttpTransport,
    tx: crate::transport::InboundTx,
) -> Result<Parts, ErrorKind> {
    let mut attempts: Vec<Attempt> = Vec::new();
    if choice == HttpTransport::Sse {
        return legacy_sse(ctx, core, url, tx, &mut attempts).await;
    }
    let http = StreamableHttp::new(core.clone(), url.clone(), tx.clone());
    let mut legacy_version = None;

    if !matches!(ctx.pin, ProtocolPin::Legacy(_)) {
        let mut version = ctx.modern_version();
        let mut tries = 0;
        loop {
            tries += 1;
            let call = ctx.discover_call(&version, true);
            let probe = match http.post_request(call).await {
                Err(e) => return Err(ErrorKind::Transport(e)),
                Ok(PostOutcome::Response(r)) => classify_discover(&version, r.as_deref()),
                Ok(PostOutcome::Status(e)) => match &e {
                    TransportError::HttpStatus {
                        status, rpc_error, ..
                    } if (400..500).contains(status) => {
                        let modern = rpc_error.as_ref().and_then(|rpc| {
                            classify_modern_error(&version, rpc).or_else(|| {
                                // A modern server answers an unknown method
                                // with 404 + -32601, and other validation
                                // failures with its reserved codes.
                                (codes::is_modern(rpc.code)
                                    || (*status == 404 && rpc.code == codes::METHOD_NOT_FOUND))
                                    .then(|| Probe::Modern {
                                        version: version.clone(),
                                        details: Box::default(),
                                    })
                            })
                        });
                        match modern {
                            Some(p) => p,
                            None => Probe::Legacy {
                                reason: e.to_string(),
                                version: None,
                            },
                        }
                    }
                    _ => return Err(ErrorKind::Transport(e)),
                },
            };
            match probe {
                Probe::Modern { version, details } => {
                    http.set_protocol_version(&version);
                    let transport: Arc<dyn Transport> = Arc::new(http);
                    return Ok(Parts {
                        transport,
                        era: Era::Modern,
                        version,
                        details,
                        reinit: None,
                        http_headers: true,
                    });
                }
                Probe::Retry(v) if tries < 3 => version = v,
                Probe::Retry(v) => {
                    return Err(ErrorKind::Protocol(format!(
                        "the server keeps rejecting protocol version {v} that it lists as supported"
                    )));
                }
                Probe::Legacy { reason, version } => {
                    if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                        return Err(ErrorKind::Protocol(format!(
                            "the config pins a modern protocol, but {reason}"
                        )));
                    }
                    tracing::debug!(%reason, "HTTP server is not modern; trying initialize");
                    attempts.push(Attempt {
                        what: "modern request (server/discover)".into(),
                        error: TransportError::Protocol(reason),
                    });
                    legacy_version = version;
                    break;
                }
            }
        }
    }

    // Legacy Streamable HTTP.
    let version = legacy_version.unwrap_or_else(|| ctx.legacy_version());
    http.set_legacy(true);
    let id = ctx.next_id();
    let params = ctx.initialize_params(&version);
    let call = Call {
        id,
        body: encode_request(id, "initialize", Some(&params)).into(),
        headers: HeaderMap::new(),
    };
    match http
        .post_request(call)
        .await
        .map_err(ErrorKind::Transport)?
    {
        PostOutcome::Response(Ok(raw)) => {
            let transport: Arc<dyn Transport> = Arc::new(Arc::clone(&http));
            let (v, details) = finish_initialize(transport.as_ref(), raw.get()).await?;
            start_get_stream(&http, ctx).await;
            Ok(Parts {
                transport,
                era: Era::Legacy,
                version: v,
                details,
                reinit: Some((http, params)),
                http_headers: false,
            })
        }
        PostOutcome::Response(Err(rpc)) => Err(ErrorKind::Server(rpc)),
        PostOutcome::Status(e) => {
            let fallback =
                choice == HttpTransport::Auto && matches!(e.http_status(), Some(400 | 404 | 405));
            attempts.push(Attempt {
                what: "Streamable HTTP initialize".into(),
                error: e,
            });
            if fallback {
                tracing::debug!("falling back to the legacy HTTP+SSE transport");
                legacy_sse(ctx, core, url, tx, &mut attempts).await
            } else {
                Err(into_kind(attempts))
            }
        }
    }
}

/// Opens the standalone GET stream and waits (briefly) until the server
/// has answered it, so server requests sent right after a call starts are
/// not lost.
async fn start_get_stream(http: &Arc<StreamableHttp>, ctx: &Ctx<'_>) {
    let wait = Duration::from_secs(2).min(ctx.remaining());
    http.start_listening_and_wait(wait).await;
}

async fn legacy_sse(
    ctx: &Ctx<'_>,
    core: HttpCore,
    url: &url::Url,
    tx: crate::transport::InboundTx,
    attempts: &mut Vec<Attempt>,
) -> Result<Parts, ErrorKind> {
    let sse = match LegacySse::connect(core, url, tx, ctx.remaining()).await {
        Ok(s) => s,
        Err(e) => {
            attempts.push(Attempt {
                what: "legacy HTTP+SSE".into(),
                error: e,
            });
            return Err(into_kind(std::mem::take(attempts)));
        }
    };
    let transport: Arc<dyn Transport> = Arc::new(sse);
    let version = ctx.legacy_version();
    match initialize(ctx, transport.as_ref(), &version).await {
        Ok((v, details)) => Ok(Parts {
            transport,
            era: Era::Legacy,
            version: v,
            details,
            reinit: None,
            http_headers: false,
        }),
        Err(e) => {
            transport.close().await;
            Err(e)
        }
    }
}

fn into_kind(mut attempts: Vec<Attempt>) -> ErrorKind {
    if attempts.len() == 1
        && let Some(a) = attempts.pop()
    {
        return ErrorKind::Transport(a.error);
    }
    ErrorKind::Attempts(attempts)
}
