//! A client-side cache of cacheable results (MCP 2026-07-28 SEP-2549):
//! `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`
//! and `resources/read` results carry `ttlMs`; a page stays fresh that long
//! and a matching `list_changed` (or `resources/updated`) notification
//! invalidates it at once. Results of MRTR retries are never cached.
//!
//! The cache belongs to one session, which is one authorization context, so
//! `private` and `public` results may both be kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

/// Most entries kept; the oldest are dropped beyond it.
const MAX_ENTRIES: usize = 512;

/// (method, cursor or uri) → (expiry, raw result).
type Entries = HashMap<(String, String), (Instant, Box<RawValue>)>;

#[derive(Default)]
pub(crate) struct Cache {
    entries: Mutex<Entries>,
}

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh cached result for `method` with `key` (cursor or uri).
    pub(crate) fn get(&self, method: &str, key: &str) -> Option<Box<RawValue>> {
        let mut map = self.lock();
        let k = (method.to_owned(), key.to_owned());
        match map.get(&k) {
            Some((expires, v)) if Instant::now() < *expires => Some(v.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Stores a result if it carries a positive `ttlMs`.
    pub(crate) fn put(&self, method: &str, key: &str, raw: &RawValue) {
        let Some(ttl) = ttl_of(raw) else { return };
        if ttl == 0 {
            return;
        }
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            let now = Instant::now();
            map.retain(|_, (exp, _)| *exp > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            (method.to_owned(), key.to_owned()),
            (Instant::now() + Duration::from_millis(ttl), raw.to_owned()),
        );
    }

    /// Drops every entry of `method` (all pages), or of `method` and `key`.
    pub(crate) fn invalidate(&self, method: &str, key: Option<&str>) {
        self.lock()
            .retain(|(m, k), _| !(m == method && key.is_none_or(|x| x == k)));
    }
}

fn ttl_of(raw: &RawValue) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Ttl {
        #[serde(rename = "ttlMs")]
        ttl_ms: Option<i64>,
    }
    let t: Ttl = serde_json::from_str(raw.get()).ok()?;
    t.ttl_ms.map(|v| v.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.into()).unwrap()
    }

    #[test]
    fn ttl_and_invalidation() {
        let c = Cache::default();
        c.put("tools/list", "", &raw(r#"{"tools":[],"ttlMs":60000}"#));
        c.put("tools/list", "p2", &raw(r#"{"tools":[],"ttlMs":60000}"#));
        c.put("prompts/list", "", &raw(r#"{"prompts":[]}"#));
        c.put("resources/list", "", &raw(r#"{"resources":[],"ttlMs":0}"#));
        assert!(c.get("tools/list", "").is_some());
        assert!(c.get("prompts/list", "").is_none(), "no ttl, not cached");
        assert!(c.get("resources/list", "").is_none(), "ttl 0, not cached");
        c.invalidate("tools/list", None);
        assert!(c.get("tools/list", "p2").is_none());
        c.put("tools/list", "", &raw(r#"{"tools":[],"ttlMs":1}"#));
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.get("tools/list", "").is_none(), "expired");
    }
}
