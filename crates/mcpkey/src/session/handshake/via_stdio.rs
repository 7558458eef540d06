//! The stdio handshake, and the legacy `initialize` exchange every
//! transport shares.

use std::sync::Arc;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::probe::{Probe, classify_discover, lenient_capabilities, lenient_implementation};
use super::{Ctx, DiscoveredDetails, Parts};
use crate::config::{LEGACY_VERSIONS, MODERN_VERSIONS, ProtocolPin};
use crate::error::ErrorKind;
use crate::session::engine::Era;
use crate::transport::jsonrpc::{encode_notification, encode_request};
use crate::transport::{Call, Transport};

pub(super) async fn handshake(
    ctx: &Ctx<'_>,
    transport: &Arc<dyn Transport>,
) -> Result<Parts, ErrorKind> {
    let mut legacy_version = None;
    if !matches!(ctx.pin, ProtocolPin::Legacy(_)) {
        let mut version = ctx.modern_version();
        for _ in 0..2 {
            let call = ctx.discover_call(&version, false);
            let probe_for = if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                ctx.remaining()
            } else {
                ctx.opts.probe_timeout.min(ctx.remaining())
            };
            let outcome = match tokio::time::timeout(probe_for, transport.call(call)).await {
                Err(_) => Probe::Legacy {
                    reason: format!("no answer to server/discover within {probe_for:?}"),
                    version: None,
                },
                Ok(Err(e)) => return Err(ErrorKind::Transport(e)),
                Ok(Ok(r)) => classify_discover(&version, r.as_deref()),
            };
            match outcome {
                Probe::Modern { version, details } => {
                    return Ok(Parts {
                        transport: Arc::clone(transport),
                        era: Era::Modern,
                        version,
                        details,
                        reinit: None,
                        http_headers: false,
                    });
                }
                Probe::Retry(v) => version = v,
                Probe::Legacy { reason, version } => {
                    if matches!(ctx.pin, ProtocolPin::Modern(_)) {
                        return Err(ErrorKind::Protocol(format!(
                            "the config pins a modern protocol, but {reason}"
                        )));
                    }
                    tracing::debug!(%reason, "stdio server is legacy; falling back to initialize");
                    legacy_version = version;
                    break;
                }
            }
        }
    }
    let version = legacy_version.unwrap_or_else(|| ctx.legacy_version());
    let (v, details) = initialize(ctx, transport.as_ref(), &version).await?;
    Ok(Parts {
        transport: Arc::clone(transport),
        era: Era::Legacy,
        version: v,
        details,
        reinit: None,
        http_headers: false,
    })
}

/// The legacy handshake on any transport: `initialize`, then
/// `notifications/initialized`. Returns the negotiated version.
pub(super) async fn initialize(
    ctx: &Ctx<'_>,
    transport: &dyn Transport,
    version: &str,
) -> Result<(String, Box<DiscoveredDetails>), ErrorKind> {
    let id = ctx.next_id();
    let params = ctx.initialize_params(version);
    let call = Call {
        id,
        body: encode_request(id, "initialize", Some(&params)).into(),
        headers: HeaderMap::new(),
    };
    let raw = transport
        .call(call)
        .await
        .map_err(ErrorKind::Transport)?
        .map_err(ErrorKind::Server)?;
    finish_initialize(transport, raw.get()).await
}

pub(super) async fn finish_initialize(
    transport: &dyn Transport,
    raw: &str,
) -> Result<(String, Box<DiscoveredDetails>), ErrorKind> {
    #[derive(Deserialize)]
    struct InitWire {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
        #[serde(default)]
        capabilities: Option<Value>,
        #[serde(rename = "serverInfo", default)]
        server_info: Option<Value>,
        #[serde(default)]
        instructions: Option<String>,
    }
    let init: InitWire = serde_json::from_str(raw)
        .map_err(|e| ErrorKind::Protocol(format!("the initialize result is malformed: {e}")))?;
    if !LEGACY_VERSIONS.contains(&init.protocol_version.as_str()) {
        return Err(ErrorKind::Protocol(format!(
            "the server answered initialize with protocol version {:?}, which mcpkey does not speak (it speaks {} and {})",
            init.protocol_version,
            MODERN_VERSIONS.join(", "),
            LEGACY_VERSIONS.join(", ")
        )));
    }
    transport.set_protocol_version(&init.protocol_version);
    let note = encode_notification::<Value>("notifications/initialized", None);
    transport
        .notify(note.into(), HeaderMap::new())
        .await
        .map_err(ErrorKind::Transport)?;
    Ok((
        init.protocol_version,
        Box::new(DiscoveredDetails {
            implementation: lenient_implementation(init.server_info),
            capabilities: lenient_capabilities(init.capabilities),
            instructions: init.instructions,
        }),
    ))
}
