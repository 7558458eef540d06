//! Headers printed by a helper program (like Claude Code's `headersHelper`):
//! the command runs without a shell, prints a JSON object of headers on
//! stdout, and its answer is reused for a configurable time. A 401 on
//! headers that came from the cache runs the command again once.

use std::fmt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use tokio::io::AsyncReadExt;

use crate::secret::sensitive_value;
use crate::{Auth, AuthError, AuthRequest, AuthResponse, Next};

/// How long headers are reused by default.
pub const DEFAULT_CACHE: Duration = Duration::from_secs(300);
/// How long the helper may run by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest helper output read (stdout), in bytes.
const MAX_OUTPUT: usize = 64 * 1024;

type Headers = Vec<(HeaderName, HeaderValue)>;

/// Headers from a helper command.
pub struct CommandHeaders {
    command: String,
    args: Vec<String>,
    cache_for: Duration,
    timeout: Duration,
    cached: tokio::sync::Mutex<Option<(Instant, Headers)>>,
}

impl CommandHeaders {
    /// Runs `command` with `args` (no shell) to get the headers.
    pub fn new(command: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            command: command.into(),
            args,
            cache_for: DEFAULT_CACHE,
            timeout: DEFAULT_TIMEOUT,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// How long one answer is reused (zero: run for every request).
    pub fn cache_for(mut self, d: Duration) -> Self {
        self.cache_for = d;
        self
    }

    /// How long the command may run.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    fn fail(&self, reason: impl Into<String>) -> AuthError {
        AuthError::prepare(
            "command",
            format!("headers helper `{}`: {}", self.command, reason.into()),
        )
    }

    async fn run(&self) -> Result<Headers, AuthError> {
        let mut child = tokio::process::Command::new(&self.command)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.fail(format!("could not start: {e}")))?;
        let mut stdout = child.stdout.take().ok_or_else(|| self.fail("no stdout"))?;
        let mut stderr = child.stderr.take().ok_or_else(|| self.fail("no stderr"))?;
        let work = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut out_limited = (&mut stdout).take(MAX_OUTPUT as u64 + 1);
            let mut err_limited = (&mut stderr).take(4096);
            let (o, e) = tokio::join!(
                out_limited.read_to_end(&mut out),
                err_limited.read_to_end(&mut err)
            );
            o.map_err(|e| self.fail(format!("reading its output: {e}")))?;
            let _ = e;
            let status = child.wait().await.map_err(|e| self.fail(e.to_string()))?;
            Ok::<_, AuthError>((status, out, err))
        };
        let (status, out, err) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| self.fail(format!("did not finish within {:?}", self.timeout)))??;
        if !status.success() {
            // stderr is the helper's diagnostics (the secret goes to stdout).
            let msg = String::from_utf8_lossy(&err);
            let msg: String = msg.lines().next().unwrap_or("").chars().take(200).collect();
            return Err(self.fail(format!(
                "exited with {status}{}",
                if msg.is_empty() {
                    String::new()
                } else {
                    format!(": {msg}")
                }
            )));
        }
        if out.len() > MAX_OUTPUT {
            return Err(self.fail(format!("printed more than {MAX_OUTPUT} bytes")));
        }
        parse_headers(&out).map_err(|r| self.fail(r))
    }

    async fn headers(&self, refresh: bool) -> Result<(Headers, bool), AuthError> {
        let mut cached = self.cached.lock().await;
        if !refresh
            && let Some((at, h)) = cached.as_ref()
            && at.elapsed() < self.cache_for
        {
            return Ok((h.clone(), true));
        }
        let h = self.run().await?;
        *cached = Some((Instant::now(), h.clone()));
        Ok((h, false))
    }
}

/// Parses the helper's stdout: a JSON object of string values.
fn parse_headers(out: &[u8]) -> Result<Headers, String> {
    let v: serde_json::Value = serde_json::from_slice(out)
        .map_err(|_| "its output is not a JSON object of headers (for example {\"Authorization\": \"Bearer ...\"})".to_owned())?;
    let obj = v
        .as_object()
        .ok_or_else(|| "its output is JSON but not an object of headers".to_owned())?;
    let mut headers = Vec::with_capacity(obj.len());
    for (k, v) in obj {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("{k:?} is not a valid header name"))?;
        let s = v
            .as_str()
            .ok_or_else(|| format!("the value of {k} is not a string"))?;
        let value = sensitive_value(&name, s)
            .map_err(|_| format!("the value of {k} is not a valid header value"))?;
        headers.push((name, value));
    }
    Ok(headers)
}

impl fmt::Debug for CommandHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandHeaders")
            .field("command", &self.command)
            .field("cache_for", &self.cache_for)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Auth for CommandHeaders {
    fn scheme(&self) -> &str {
        "command"
    }

    async fn apply(&self, req: &mut AuthRequest) -> Result<(), AuthError> {
        let (h, _) = self.headers(false).await?;
        for (k, v) in h {
            req.headers.insert(k, v);
        }
        Ok(())
    }

    async fn send(&self, req: AuthRequest, next: Next<'_>) -> Result<AuthResponse, AuthError> {
        let (h, from_cache) = self.headers(false).await?;
        let mut first = req.clone();
        for (k, v) in h {
            first.headers.insert(k, v);
        }
        let resp = next.send(first).await?;
        if resp.status != StatusCode::UNAUTHORIZED || !from_cache {
            return Ok(resp);
        }
        // The cached headers may have expired on the server's side.
        resp.discard().await;
        let (h, _) = self.headers(true).await?;
        let mut retry = req;
        for (k, v) in h {
            retry.headers.insert(k, v);
        }
        next.send(retry).await
    }
}

#[cfg(test)]
mod tests {
    use http::Method;
    use url::Url;

    use super::*;
    use crate::RequestKind;

    fn req() -> AuthRequest {
        AuthRequest::new(
            Method::POST,
            Url::parse("https://h/mcp").unwrap(),
            RequestKind::Post,
        )
    }

    #[tokio::test]
    async fn reads_headers_and_caches_them() {
        let dir = std::env::temp_dir().join(format!("mcpkey-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let counter = dir.join("runs");
        let script = format!(
            "echo x >> {}; printf '{{\"Authorization\": \"Bearer from-helper\", \"X-Tenant\": \"t1\"}}'",
            counter.display()
        );
        let a = CommandHeaders::new("sh", vec!["-c".into(), script]);
        let mut r = req();
        a.apply(&mut r).await.unwrap();
        assert_eq!(r.headers["authorization"], "Bearer from-helper");
        assert!(r.headers["x-tenant"].is_sensitive());
        a.apply(&mut req()).await.unwrap();
        let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
        assert_eq!(runs, 1, "second request served from the cache");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn failures_are_clear_and_secret_free() {
        let a = CommandHeaders::new("sh", vec!["-c".into(), "echo 'not json: s3cret'".into()]);
        let e = a.apply(&mut req()).await.unwrap_err().to_string();
        assert!(
            e.contains("not a JSON object") && !e.contains("s3cret"),
            "{e}"
        );
        let a = CommandHeaders::new(
            "sh",
            vec!["-c".into(), "echo 'token expired' >&2; exit 3".into()],
        );
        let e = a.apply(&mut req()).await.unwrap_err().to_string();
        assert!(
            e.contains("exit status: 3") && e.contains("token expired"),
            "{e}"
        );
        let a = CommandHeaders::new("sh", vec!["-c".into(), "sleep 5".into()])
            .timeout(Duration::from_millis(200));
        let e = a.apply(&mut req()).await.unwrap_err().to_string();
        assert!(e.contains("did not finish"), "{e}");
        let a = CommandHeaders::new("/nonexistent/helper", vec![]);
        assert!(
            a.apply(&mut req())
                .await
                .unwrap_err()
                .to_string()
                .contains("could not start")
        );
    }
}
