//! Property tests of the parsers' invariants, and the fuzz corpora replayed
//! through the fuzz entry points (every seed and past finding runs in CI on
//! stable Rust; long fuzzing runs are `scripts/fuzz.sh`).

use proptest::prelude::*;

use super::*;

/// SSE-looking input: fields, comments, CR/LF/CRLF line ends, a BOM.
fn sse_text() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "data:[ a-z{}\":,]{0,20}".prop_map(String::from),
        "data".prop_map(String::from),
        "event: ?[a-z]{0,8}".prop_map(String::from),
        "id: ?[0-9a-z]{0,6}".prop_map(String::from),
        "retry: ?[0-9]{0,6}".prop_map(String::from),
        ":[ a-z]{0,10}".prop_map(String::from),
        "".prop_map(String::from),
        "[a-z]{1,5}:? ?[a-z]{0,5}".prop_map(String::from),
    ];
    let eol = prop::sample::select(vec!["\n", "\r", "\r\n"]);
    (any::<bool>(), prop::collection::vec((line, eol), 0..30)).prop_map(|(bom, lines)| {
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(b"\xEF\xBB\xBF");
        }
        for (l, e) in lines {
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(e.as_bytes());
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The same events come out however the bytes are chunked.
    #[test]
    fn sse_events_do_not_depend_on_chunking(
        data in sse_text(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let whole = sse_whole(&data, 1 << 20).expect("within the limit");
        let chunked = sse_chunked(&data, &cuts, 1 << 20).expect("within the limit");
        prop_assert_eq!(&whole, &chunked);
        let bytewise = sse_chunked(&data, &(0..data.len()).collect::<Vec<_>>(), 1 << 20)
            .expect("within the limit");
        prop_assert_eq!(&whole, &bytewise);
    }

    /// Arbitrary bytes: same outcome for every chunking, no panic.
    #[test]
    fn sse_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..400)) {
        sse(&data);
    }

    /// Expansion never leaks a variable the input does not name, and its
    /// errors never carry a value.
    #[test]
    fn interpolation_never_leaks_a_neighbour(
        parts in prop::collection::vec(prop_oneof![
            "[a-z /:.]{0,6}".prop_map(String::from),
            Just("${TOKEN}".to_owned()),
            Just("${HOST}".to_owned()),
            Just("${EMPTY}".to_owned()),
            "\\$\\{[A-Z_]{0,6}\\}".prop_map(String::from),
            "\\$\\{[A-Z_]{1,6}:-[a-z${}]{0,6}\\}".prop_map(String::from),
            "\\$\\{file:[a-z/]{0,8}\\}".prop_map(String::from),
            "\\$\\{?[A-Za-z]{0,4}".prop_map(String::from),
            Just("$$".to_owned()),
        ], 0..8),
    ) {
        let input: String = parts.concat();
        interpolate(&input);
        // An unset variable's error names it, never a set neighbour's value.
        if let Err(e) = expand(&input, &FakeEnv::standard()) {
            prop_assert!(!interpolation_error_text(&e).contains(SECRET));
        }
    }

    /// Config files with secrets in every position: no panic, and the
    /// secret never shows in an error or a Debug.
    #[test]
    fn config_never_shows_the_secret(
        key in prop::sample::select(vec!["headers", "env", "auth", "url", "args", "limits", "timeout"]),
        value in prop_oneof![
            Just(serde_json::json!("${TOKEN}")),
            Just(serde_json::json!({"X-Api-Key": "${TOKEN}"})),
            Just(serde_json::json!({"type": "basic", "username": "u", "password": "${TOKEN}"})),
            Just(serde_json::json!({"type": "query_param", "api_key": "${TOKEN}"})),
            Just(serde_json::json!(["--token", "${TOKEN}"])),
            Just(serde_json::json!("http://127.0.0.1:1/mcp?key=${TOKEN}")),
            Just(serde_json::json!(-1)),
            Just(serde_json::json!({"type": "nope", "token": "${TOKEN}"})),
        ],
        stdio in any::<bool>(),
    ) {
        let mut entry = serde_json::Map::new();
        if stdio {
            entry.insert("command".into(), "true".into());
        } else {
            entry.insert("url".into(), "http://127.0.0.1:1/mcp".into());
        }
        entry.insert(key.into(), value);
        let file = serde_json::json!({"mcpServers": {"s": entry}});
        config(file.to_string().as_bytes());
    }

    /// JSON-RPC framing and typed decoding never panic.
    #[test]
    fn jsonrpc_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
        jsonrpc(&data);
    }
}

/// Every file under `fuzz/corpus/<target>/` through its entry point.
fn replay(target: &str, f: impl Fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("no corpus at {}: {e}", dir.display()));
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn corpus_config() {
    replay("config", config);
}

#[test]
fn corpus_interpolate() {
    replay("interpolate", |d| interpolate(&String::from_utf8_lossy(d)));
}

#[test]
fn corpus_sse() {
    replay("sse", sse);
}

#[test]
fn corpus_jsonrpc() {
    replay("jsonrpc", jsonrpc);
}

#[test]
fn corpus_callback() {
    replay("callback", callback);
}
