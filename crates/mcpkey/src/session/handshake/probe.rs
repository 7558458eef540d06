//! Classifying the answer to a `server/discover` probe.

use rmcp::model::{Implementation, ServerCapabilities};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::DiscoveredDetails;
use crate::config::{LEGACY_VERSIONS, MODERN_VERSIONS};
use crate::transport::jsonrpc::{RpcError, codes};

/// What one modern probe concluded.
pub(super) enum Probe {
    Modern {
        version: String,
        details: Box<DiscoveredDetails>,
    },
    /// Retry the probe with this version (the server listed it).
    Retry(String),
    /// A legacy server; optionally a legacy version it named.
    Legacy {
        reason: String,
        version: Option<String>,
    },
}

#[derive(Deserialize)]
struct DiscoverWire {
    #[serde(rename = "supportedVersions")]
    supported_versions: Vec<String>,
    #[serde(default)]
    capabilities: Option<Value>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(rename = "_meta", default)]
    meta: Option<Map<String, Value>>,
    #[serde(rename = "serverInfo", default)]
    server_info: Option<Value>,
}

pub(super) fn lenient_capabilities(v: Option<Value>) -> ServerCapabilities {
    v.and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

pub(super) fn lenient_implementation(v: Option<Value>) -> Option<Implementation> {
    v.and_then(|v| serde_json::from_value(v).ok())
}

/// Classifies the answer to a `server/discover` probe.
pub(super) fn classify_discover(
    requested: &str,
    result: Result<&serde_json::value::RawValue, &RpcError>,
) -> Probe {
    match result {
        Ok(raw) => match serde_json::from_str::<DiscoverWire>(raw.get()) {
            Ok(d) => {
                let common = MODERN_VERSIONS
                    .iter()
                    .find(|v| d.supported_versions.iter().any(|s| s == *v));
                match common {
                    Some(v) => {
                        let info = d
                            .meta
                            .as_ref()
                            .and_then(|m| m.get("io.modelcontextprotocol/serverInfo").cloned())
                            .or(d.server_info);
                        let details = Box::new(DiscoveredDetails {
                            implementation: lenient_implementation(info),
                            capabilities: lenient_capabilities(d.capabilities),
                            instructions: d.instructions,
                        });
                        if *v == requested {
                            Probe::Modern {
                                version: requested.to_owned(),
                                details,
                            }
                        } else {
                            Probe::Retry((*v).to_owned())
                        }
                    }
                    None => Probe::Legacy {
                        reason: format!(
                            "the server supports only {}",
                            d.supported_versions.join(", ")
                        ),
                        version: LEGACY_VERSIONS
                            .iter()
                            .find(|v| d.supported_versions.iter().any(|s| s == *v))
                            .map(|v| (*v).to_owned()),
                    },
                }
            }
            Err(_) => Probe::Legacy {
                reason: "the answer to server/discover is not a DiscoverResult".into(),
                version: None,
            },
        },
        Err(rpc) => classify_modern_error(requested, rpc).unwrap_or_else(|| Probe::Legacy {
            reason: format!("server/discover failed with {rpc}"),
            version: None,
        }),
    }
}

/// A recognized modern error, as a probe outcome.
pub(super) fn classify_modern_error(requested: &str, rpc: &RpcError) -> Option<Probe> {
    if rpc.code == codes::UNSUPPORTED_PROTOCOL_VERSION {
        let supported: Vec<String> = rpc
            .data
            .as_ref()
            .and_then(|d| d.get("supported"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(v) = MODERN_VERSIONS
            .iter()
            .find(|v| supported.iter().any(|s| s == *v))
        {
            return Some(Probe::Retry((*v).to_owned()));
        }
        if let Some(v) = LEGACY_VERSIONS
            .iter()
            .find(|v| supported.iter().any(|s| s == *v))
        {
            return Some(Probe::Legacy {
                reason: format!("the server supports only {}", supported.join(", ")),
                version: Some((*v).to_owned()),
            });
        }
        let _ = requested;
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.into()).unwrap()
    }

    #[test]
    fn discover_results() {
        let r = raw(
            r#"{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s","version":"1"}},"ttlMs":0,"cacheScope":"private"}"#,
        );
        assert!(
            matches!(classify_discover("2026-07-28", Ok(&r)), Probe::Modern { details, .. } if details.implementation.is_some())
        );
        let r = raw(r#"{}"#);
        assert!(matches!(
            classify_discover("2026-07-28", Ok(&r)),
            Probe::Legacy { .. }
        ));
        let r = raw(r#"{"supportedVersions":["2025-11-25"]}"#);
        assert!(
            matches!(classify_discover("2026-07-28", Ok(&r)), Probe::Legacy { version: Some(v), .. } if v == "2025-11-25")
        );
        let e = RpcError {
            code: -32601,
            message: "Method not found".into(),
            data: None,
        };
        assert!(matches!(
            classify_discover("2026-07-28", Err(&e)),
            Probe::Legacy { .. }
        ));
        let e = RpcError {
            code: -32022,
            message: "Unsupported protocol version".into(),
            data: Some(json!({"supported": ["2026-07-28"], "requested": ""})),
        };
        assert!(
            matches!(classify_discover("2026-07-28", Err(&e)), Probe::Retry(v) if v == "2026-07-28")
        );
    }
}
