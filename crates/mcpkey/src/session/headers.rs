//! Request metadata headers of Streamable HTTP (MCP 2026-07-28, SEP-2243):
//! `Mcp-Method`, `Mcp-Name`, and `Mcp-Param-{Name}` mirrored from tool
//! arguments annotated with `x-mcp-header`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value};

pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// One annotated tool parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderParam {
    /// Chain of `properties` keys from the schema root.
    pub path: Vec<String>,
    /// `Mcp-Param-{name}`.
    pub header: HeaderName,
}

/// Encodes a value for `Mcp-Name` / `Mcp-Param-*`: plain when it is safe
/// visible ASCII, otherwise the `=?base64?...?=` sentinel form.
pub(crate) fn encode_value(s: &str) -> HeaderValue {
    if s.is_empty() {
        return HeaderValue::from_static("");
    }
    // Visible ASCII and inner spaces only: control characters (tab included),
    // non-ASCII, edge whitespace and the sentinel itself are encoded.
    let sentinel = s.starts_with("=?base64?") && s.ends_with("?=");
    let plain_ok = s.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !sentinel;
    if plain_ok && let Ok(v) = HeaderValue::from_str(s) {
        return v;
    }
    let encoded = format!("=?base64?{}?=", STANDARD.encode(s.as_bytes()));
    // Base64 output is always a valid header value.
    HeaderValue::from_str(&encoded).unwrap_or(HeaderValue::from_static(""))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Finds and validates the `x-mcp-header` annotations of a tool's input
/// schema. An `Err` means the tool definition is invalid and must be
/// excluded from `tools/list` (the reason is for the warning).
pub(crate) fn header_params(schema: &Map<String, Value>) -> Result<Vec<HeaderParam>, String> {
    let total = count_annotations(&Value::Object(schema.clone()));
    if total == 0 {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    collect(schema, &mut Vec::new(), &mut found)?;
    if found.len() != total {
        return Err(
            "an x-mcp-header annotation is not reachable through `properties` alone \
             (it sits under items, a composition keyword or $ref)"
                .into(),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for p in &found {
        let lower = p.header.as_str().to_owned();
        if seen.contains(&lower) {
            return Err(format!("x-mcp-header {lower:?} appears twice"));
        }
        seen.push(lower);
    }
    Ok(found)
}

fn count_annotations(v: &Value) -> usize {
    match v {
        Value::Object(o) => {
            usize::from(o.contains_key("x-mcp-header"))
                + o.values().map(count_annotations).sum::<usize>()
        }
        Value::Array(a) => a.iter().map(count_annotations).sum(),
        _ => 0,
    }
}

fn collect(
    schema: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut Vec<HeaderParam>,
) -> Result<(), String> {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return Ok(());
    };
    for (key, sub) in props {
        let Value::Object(sub) = sub else { continue };
        path.push(key.clone());
        if let Some(ann) = sub.get("x-mcp-header") {
            let name = ann
                .as_str()
                .ok_or_else(|| format!("x-mcp-header of {key:?} is not a string"))?;
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(format!(
                    "x-mcp-header {name:?} is not a valid header name token"
                ));
            }
            let ty = sub.get("type").and_then(Value::as_str);
            if !matches!(ty, Some("string" | "integer" | "boolean")) {
                return Err(format!(
                    "x-mcp-header {name:?} is on a parameter of type {}; only string, integer and boolean are allowed",
                    ty.unwrap_or("(none)")
                ));
            }
            let header = HeaderName::from_bytes(format!("mcp-param-{name}").as_bytes())
                .map_err(|_| format!("x-mcp-header {name:?} does not make a valid header name"))?;
            out.push(HeaderParam {
                path: path.clone(),
                header,
            });
        }
        collect(sub, path, out)?;
        path.pop();
    }
    Ok(())
}

/// The `Mcp-Param-*` headers for one call.
pub(crate) fn param_headers(
    params: &[HeaderParam],
    args: Option<&Map<String, Value>>,
) -> Vec<(HeaderName, HeaderValue)> {
    let Some(args) = args else { return Vec::new() };
    let mut out = Vec::with_capacity(params.len());
    'next: for p in params {
        let mut cur = args;
        let (last, init) = match p.path.split_last() {
            Some(x) => x,
            None => continue,
        };
        for k in init {
            match cur.get(k) {
                Some(Value::Object(o)) => cur = o,
                _ => continue 'next,
            }
        }
        let text = match cur.get(last) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if i.abs() <= MAX_SAFE_INTEGER => i.to_string(),
                _ => match n.as_f64() {
                    // 42.0 is the integer 42.
                    Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 => {
                        format!("{}", f as i64)
                    }
                    _ => n.to_string(),
                },
            },
            Some(other) => other.to_string(),
        };
        out.push((p.header.clone(), encode_value(&text)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn encoding_examples_from_the_spec() {
        assert_eq!(encode_value("us-west1"), "us-west1");
        assert_eq!(encode_value(""), "");
        assert_eq!(encode_value("us west 1"), "us west 1");
        assert_eq!(encode_value("\tindented"), "=?base64?CWluZGVudGVk?=");
        assert_eq!(
            encode_value("Hello, 世界"),
            "=?base64?SGVsbG8sIOS4lueVjA==?="
        );
        assert_eq!(encode_value(" padded "), "=?base64?IHBhZGRlZCA=?=");
        assert_eq!(encode_value("line1\nline2"), "=?base64?bGluZTEKbGluZTI=?=");
        assert_eq!(
            encode_value("=?base64?literal?="),
            "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="
        );
    }

    #[test]
    fn finds_nested_and_extracts() {
        let schema = obj(json!({
            "type": "object",
            "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "opts": {"type": "object", "properties": {
                    "n": {"type": "integer", "x-mcp-header": "N"},
                    "dry": {"type": "boolean", "x-mcp-header": "Dry"}
                }},
                "query": {"type": "string"}
            }
        }));
        let p = header_params(&schema).unwrap();
        assert_eq!(p.len(), 3);
        let args =
            obj(json!({"region": "us-west1", "opts": {"n": 42.0, "dry": false}, "query": "x"}));
        let h = param_headers(&p, Some(&args));
        let get = |n: &str| {
            h.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("mcp-param-region").as_deref(), Some("us-west1"));
        assert_eq!(get("mcp-param-n").as_deref(), Some("42"));
        assert_eq!(get("mcp-param-dry").as_deref(), Some("false"));
        let h = param_headers(&p, Some(&obj(json!({"region": null}))));
        assert!(h.is_empty(), "null and absent values send no header");
    }

    #[test]
    fn rejects_invalid_annotations() {
        let cases = [
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "Bad Name"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "X"}, "b": {"type": "string", "x-mcp-header": "x"}}}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "I"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
        ];
        for c in cases {
            assert!(header_params(&obj(c.clone())).is_err(), "{c}");
        }
        assert!(
            header_params(&obj(json!({"properties": {"a": {"type": "string"}}})))
                .unwrap()
                .is_empty()
        );
    }
}
