//! Entry points for the fuzz targets in `fuzz/` and the property tests
//! (feature `fuzzing`; not a public API). Each takes arbitrary input, runs
//! one parser the way the library does on outside input, and asserts what
//! must always hold. A panic, hang or unbounded allocation here is a bug.

// Fuzz entry points: failing an assertion (panicking) is how they report.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::Config;
use crate::config::interpolate::{Env, InterpolationError, expand};
use crate::transport::http::sse::{SseDecoder, SseItem};
use crate::transport::jsonrpc::{Incoming, parse_incoming};

/// The secret value the fake environment holds; it must never show in an
/// error or a `Debug` unless the input itself contains it.
pub const SECRET: &str = "s3cr3t-Fuzz-Value-7d1e";

/// An environment with a few variables (one holding [`SECRET`]) and no files.
#[derive(Debug, Clone, Default)]
pub struct FakeEnv {
    /// Variables.
    pub vars: BTreeMap<String, String>,
}

impl FakeEnv {
    /// `TOKEN` = [`SECRET`], `HOST` = `127.0.0.1`, `EMPTY` = ``.
    pub fn standard() -> Self {
        let mut vars = BTreeMap::new();
        vars.insert("TOKEN".into(), SECRET.into());
        vars.insert("HOST".into(), "127.0.0.1".into());
        vars.insert("EMPTY".into(), String::new());
        Self { vars }
    }
}

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no file {path} in the fuzzing environment"),
        ))
    }
}

fn interpolation_error_text(e: &InterpolationError) -> String {
    match e {
        InterpolationError::Missing(n) => n.clone(),
        InterpolationError::File(p, e) => format!("{p}: {e}"),
        InterpolationError::Syntax(s) => s.clone(),
    }
}

/// `${...}` expansion: no panic; an error never carries a variable's value;
/// and a variable the input does not name cannot affect the result (the
/// output is the same whatever `TOKEN` holds, unless the input names it).
pub fn interpolate(input: &str) {
    let env = FakeEnv::standard();
    let first = expand(input, &env);
    if let Err(e) = &first {
        let text = interpolation_error_text(e);
        assert!(
            !text.contains(SECRET) || input.contains(SECRET),
            "an interpolation error shows a variable's value: {text}"
        );
    }
    if !input.contains("TOKEN") {
        let mut other = FakeEnv::standard();
        other
            .vars
            .insert("TOKEN".into(), "another-value-of-token".into());
        let second = expand(input, &other);
        match (&first, &second) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:?} depends on a variable it does not name"),
            (Err(_), Err(_)) => {}
            _ => panic!("{input:?} depends on a variable it does not name"),
        }
    }
}

/// A whole config file: parsing and resolving every server entry. Errors
/// and `Debug` output never show [`SECRET`] (which `${TOKEN}` expands to).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = FakeEnv::standard();
    let file = match Config::parse(text, "fuzz.json") {
        Ok(f) => f,
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.contains(SECRET) || text.contains(SECRET), "{shown}");
            return;
        }
    };
    let names: Vec<String> = file.server_names().map(str::to_owned).collect();
    for name in names {
        match file.resolve_with(&name, &env) {
            Ok((cfg, warnings)) => {
                let shown = format!("{cfg:?} {warnings:?}");
                assert!(
                    !shown.contains(SECRET) || text.contains(SECRET),
                    "Debug shows a secret: {shown}"
                );
            }
            Err(e) => {
                let shown = e.to_string();
                assert!(
                    !shown.contains(SECRET) || text.contains(SECRET),
                    "an error shows a secret: {shown}"
                );
            }
        }
    }
    let _ = file.summaries();
}

/// Decodes `data` as an SSE stream in one piece, returning the items (or
/// `None` when it broke the limit).
pub fn sse_whole(data: &[u8], limit: usize) -> Option<Vec<SseItem>> {
    let mut d = SseDecoder::new(limit);
    let mut out = Vec::new();
    d.push(data, &mut out).ok()?;
    Some(out)
}

/// Decodes `data` fed in chunks cut at `cuts` (offsets, any order).
pub fn sse_chunked(data: &[u8], cuts: &[usize], limit: usize) -> Option<Vec<SseItem>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut d = SseDecoder::new(limit);
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts.into_iter().chain(std::iter::once(data.len())) {
        d.push(&data[at..c], &mut out).ok()?;
        at = c;
    }
    Some(out)
}

/// SSE framing: however the bytes are chunked, the same events come out
/// (or the same limit is broken), and no event is larger than the limit.
pub fn sse(data: &[u8]) {
    let limit = 4096;
    // The first bytes choose where to cut the rest.
    let (head, body) = data.split_at(data.len().min(8));
    let cuts: Vec<usize> = head.iter().map(|&b| b as usize * 7).collect();
    let whole = sse_whole(body, limit);
    let chunked = sse_chunked(body, &cuts, limit);
    let bytewise = sse_chunked(body, &(0..body.len()).collect::<Vec<_>>(), limit);
    match (&whole, &chunked, &bytewise) {
        (Some(a), Some(b), Some(c)) => {
            assert_eq!(a, b, "chunking changed the events");
            assert_eq!(a, c, "byte-wise feeding changed the events");
            for item in a {
                if let SseItem::Event(e) = item {
                    assert!(e.data.len() <= limit, "an event above the limit");
                }
            }
        }
        (None, None, None) => {}
        _ => panic!("the limit was broken for some chunkings only"),
    }
}

/// JSON-RPC messages and MCP results: framing, then every typed decoding
/// the session applies to what servers send.
pub fn jsonrpc(data: &[u8]) {
    let Ok(messages) = parse_incoming(data) else {
        return;
    };
    for m in messages {
        match m {
            Incoming::Response {
                result: Ok(raw), ..
            } => {
                use rmcp::model::*;
                let s = raw.get();
                let _ = serde_json::from_str::<CallToolResult>(s);
                let _ = serde_json::from_str::<ListToolsResult>(s);
                let _ = serde_json::from_str::<InitializeResult>(s);
                let _ = serde_json::from_str::<ReadResourceResult>(s);
                let _ = serde_json::from_str::<GetPromptResult>(s);
                // The modern era's result head and multi round-trip input.
                if let Ok(v) = serde_json::from_str::<Value>(s) {
                    let _ = v.get("resultType").and_then(Value::as_str);
                    if let Some(reqs) = v.get("inputRequests").and_then(Value::as_object) {
                        for r in reqs.values() {
                            let method = r.get("method").and_then(Value::as_str).unwrap_or("");
                            server_request(method, r.get("params").cloned().unwrap_or(Value::Null));
                        }
                    }
                }
            }
            Incoming::Response { result: Err(e), .. } => {
                let _ = e.to_string();
            }
            Incoming::Request { method, params, .. } => {
                let params = params
                    .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                    .unwrap_or(Value::Null);
                server_request(&method, params);
            }
            Incoming::Notification { method, params } => {
                let params = params
                    .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
                    .unwrap_or(Value::Null);
                let _ = crate::client::handler::Notification::parse(&method, params);
            }
        }
    }
}

/// The typed decoding of a server-to-client request's params (sampling is
/// deprecated upstream but still answered, like the dispatcher does).
#[allow(deprecated)]
fn server_request(method: &str, params: Value) {
    use rmcp::model::{CreateMessageRequestParams, ElicitRequestParams};
    match method {
        "elicitation/create" => {
            let _ = serde_json::from_value::<ElicitRequestParams>(params);
        }
        "sampling/createMessage" => {
            let _ = serde_json::from_value::<CreateMessageRequestParams>(params);
        }
        _ => {}
    }
}

/// The login callback: a request head as the loopback listener reads it,
/// and a pasted redirect line.
pub fn callback(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    crate::login::fuzz_callback(&text);
}

#[cfg(test)]
mod properties;
