//! The modern era's per-request `_meta` (protocol version, client info,
//! capabilities, log level), serialized once per session rather than cloned
//! into every request, and merged with the caller's `params` while the
//! request is written.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

const VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
const CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// Our `_meta` fields, each already JSON.
#[derive(Debug)]
pub(crate) struct ProtocolMeta {
    fields: Vec<(&'static str, Box<RawValue>)>,
    /// The whole `_meta` object, for requests whose params have none.
    whole: Box<RawValue>,
}

impl ProtocolMeta {
    pub(crate) fn new(
        version: &str,
        client_info: &Value,
        capabilities: &Value,
        log_level: Option<&str>,
    ) -> Self {
        let level = log_level.map(|l| Value::String(l.to_owned()));
        let parts = [
            (VERSION, Some(Value::String(version.to_owned()))),
            (CLIENT_INFO, Some(client_info.clone())),
            (CAPABILITIES, Some(capabilities.clone())),
            (LOG_LEVEL, level),
        ];
        // Serializing a JSON value cannot fail.
        let fields: Vec<(&'static str, Box<RawValue>)> = parts
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::value::to_raw_value(&v?).ok()?)))
            .collect();
        let whole = serde_json::value::to_raw_value(&Merged {
            theirs: None,
            fields: &fields,
        })
        .unwrap_or_default();
        Self { fields, whole }
    }
}

/// A request's `params`: the caller's, plus (modern era) our `_meta`
/// fields. Ours win for the protocol keys; the caller's other `_meta` keys
/// (such as `progressToken`) are kept. A `_meta` that is not an object is
/// replaced.
pub(crate) struct WithMeta<'a> {
    pub params: Option<&'a Map<String, Value>>,
    pub meta: Option<&'a ProtocolMeta>,
}

impl WithMeta<'_> {
    /// Whether there is anything to send as `params`.
    pub(crate) fn is_some(&self) -> bool {
        self.params.is_some() || self.meta.is_some()
    }
}

impl Serialize for WithMeta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(meta) = self.meta else {
            return match self.params {
                Some(p) => p.serialize(s),
                None => Map::new().serialize(s),
            };
        };
        let mut m = s.serialize_map(None)?;
        let mut theirs = None;
        for (k, v) in self.params.into_iter().flatten() {
            if k == "_meta" {
                theirs = v.as_object();
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        match theirs {
            None => m.serialize_entry("_meta", &meta.whole)?,
            Some(_) => m.serialize_entry(
                "_meta",
                &Merged {
                    theirs,
                    fields: &meta.fields,
                },
            )?,
        }
        m.end()
    }
}

struct Merged<'a> {
    theirs: Option<&'a Map<String, Value>>,
    fields: &'a [(&'static str, Box<RawValue>)],
}

impl Serialize for Merged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.theirs.into_iter().flatten() {
            if !self.fields.iter().any(|(ours, _)| ours == k) {
                m.serialize_entry(k, v)?;
            }
        }
        for (k, v) in self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> ProtocolMeta {
        ProtocolMeta::new(
            "2026-07-28",
            &json!({"name": "t", "version": "1"}),
            &json!({"elicitation": {}}),
            Some("debug"),
        )
    }

    fn to_value(w: &WithMeta<'_>) -> Value {
        serde_json::to_value(w).unwrap()
    }

    #[test]
    fn merges_ours_over_theirs_and_keeps_their_other_keys() {
        let m = meta();
        let params = json!({"name": "echo", "_meta": {"progressToken": "p1",
            "io.modelcontextprotocol/protocolVersion": "spoofed"}});
        let v = to_value(&WithMeta {
            params: params.as_object(),
            meta: Some(&m),
        });
        assert_eq!(
            v,
            json!({"name": "echo", "_meta": {
                "progressToken": "p1",
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
                "io.modelcontextprotocol/logLevel": "debug"
            }})
        );
    }

    #[test]
    fn no_params_still_carries_meta_and_bad_meta_is_replaced() {
        let m = meta();
        let v = to_value(&WithMeta {
            params: None,
            meta: Some(&m),
        });
        assert_eq!(v["_meta"]["io.modelcontextprotocol/logLevel"], "debug");
        let params = json!({"_meta": 7});
        let v = to_value(&WithMeta {
            params: params.as_object(),
            meta: Some(&m),
        });
        assert_eq!(v["_meta"].as_object().unwrap().len(), 4);
    }

    #[test]
    fn legacy_params_pass_through_untouched() {
        let params = json!({"name": "echo", "_meta": {"progressToken": 3}});
        let w = WithMeta {
            params: params.as_object(),
            meta: None,
        };
        assert_eq!(to_value(&w), params);
        assert!(
            !WithMeta {
                params: None,
                meta: None
            }
            .is_some()
        );
    }
}
