//! The stdio transport: a child process exchanging newline-delimited JSON on
//! stdin/stdout.
//!
//! * The environment is the parent's, with the configured `env` on top.
//! * stderr is drained concurrently into a small ring buffer, so a noisy
//!   server never blocks on a full pipe, and its last lines explain a crash.
//! * The child runs in its own process group; closing sends EOF, then
//!   SIGTERM, then SIGKILL to the whole group (npx and uvx start
//!   grandchildren), and dropping the transport kills the group, so no
//!   process is left behind.

use std::collections::VecDeque;
use std::process::Stdio as StdStdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::HeaderMap;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::watch;

use super::http::legacy_sse::route;
use super::jsonrpc::{RpcResult, parse_incoming};
use super::pending::{Closed, Pending};
use super::{Call, InboundTx, Transport, TransportError, TransportKind};
use crate::config::StdioTarget;

/// stderr lines kept for error messages.
const STDERR_LINES: usize = 20;
/// Longest stderr line kept (bytes).
const STDERR_LINE_MAX: usize = 1000;
/// Grace periods when closing.
const EXIT_GRACE: Duration = Duration::from_millis(1500);

/// A running stdio server.
pub(crate) struct StdioTransport {
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Arc<Pending>,
    pgid: Option<Pid>,
    exited: watch::Receiver<Option<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    closed: AtomicBool,
    command: String,
}

impl StdioTransport {
    /// Starts the server.
    pub(crate) fn spawn(
        target: &StdioTarget,
        inbound: InboundTx,
        max_message_bytes: usize,
    ) -> Result<Arc<Self>, TransportError> {
        let mut cmd = Command::new(&target.command);
        cmd.args(&target.args)
            .envs(target.env.iter().map(|(k, v)| (k, v)))
            .stdin(StdStdio::piped())
            .stdout(StdStdio::piped())
            .stderr(StdStdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        if let Some(dir) = &target.cwd {
            cmd.current_dir(dir);
        }
        // The command as shown in errors and logs (a configured secret in it
        // is masked).
        let shown = mcpkey_auth::redact::mask_text(&target.command);
        let mut child = cmd.spawn().map_err(|source| TransportError::Spawn {
            command: shown.clone(),
            source,
        })?;
        let pgid = child.id().map(|id| Pid::from_raw(id as i32));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr_pipe = child.stderr.take();

        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_LINES)));
        if let Some(pipe) = stderr_pipe {
            tokio::spawn(drain_stderr(pipe, Arc::clone(&stderr), shown.clone()));
        }

        let (exit_tx, exited) = watch::channel(None);
        let pending = Arc::new(Pending::default());
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => describe_status(s),
                Err(e) => format!("unknown status: {e}"),
            };
            let _ = exit_tx.send(Some(status));
        });

        let this = Arc::new(Self {
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Arc::clone(&pending),
            pgid,
            exited,
            stderr: Arc::clone(&stderr),
            closed: AtomicBool::new(false),
            command: shown,
        });
        if let Some(out) = stdout {
            let exited = this.exited.clone();
            tokio::spawn(read_stdout(
                out,
                pending,
                inbound,
                exited,
                stderr,
                max_message_bytes,
            ));
        }
        Ok(this)
    }

    async fn write(&self, body: &[u8]) -> Result<(), TransportError> {
        let mut guard = self.stdin.lock().await;
        let Some(stdin) = guard.as_mut() else {
            return Err(self.gone().await);
        };
        // One write per message: the server wakes once, for a whole line.
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        let res = async {
            stdin.write_all(&line).await?;
            stdin.flush().await
        }
        .await;
        match res {
            Ok(()) => Ok(()),
            Err(_) => {
                *guard = None;
                drop(guard);
                Err(self.gone().await)
            }
        }
    }

    /// The error for "the process is gone", with its status and stderr once
    /// known.
    async fn gone(&self) -> TransportError {
        let mut rx = self.exited.clone();
        let status = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                if let Some(s) = rx.borrow().clone() {
                    return s;
                }
                if rx.changed().await.is_err() {
                    return String::from("unknown status");
                }
            }
        })
        .await
        .unwrap_or_else(|_| String::from("still running, but its stdin is closed"));
        TransportError::Exited {
            status,
            stderr_tail: tail(&self.stderr),
        }
    }

    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (already gone) is fine.
            let _ = killpg(pgid, sig);
        }
    }

    fn has_exited(&self) -> bool {
        self.exited.borrow().is_some()
    }

    async fn wait_exit(&self, limit: Duration) -> bool {
        let mut rx = self.exited.clone();
        tokio::time::timeout(limit, async {
            while rx.borrow().is_none() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
        .is_ok()
    }

    /// The last lines of stderr.
    #[allow(dead_code)]
    pub(crate) fn stderr_tail(&self) -> String {
        tail(&self.stderr)
    }
}

fn describe_status(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => s.to_string(),
    }
}

fn tail(buf: &Mutex<VecDeque<String>>) -> String {
    let b = buf.lock().unwrap_or_else(|e| e.into_inner());
    b.iter().cloned().collect::<Vec<_>>().join("\n")
}

async fn drain_stderr(
    pipe: impl AsyncRead + Unpin,
    buf: Arc<Mutex<VecDeque<String>>>,
    command: String,
) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match read_line_bounded(&mut reader, &mut line, STDERR_LINE_MAX * 64).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end();
                let text: String = text.chars().take(STDERR_LINE_MAX).collect();
                // A server may print its own credentials: mask the configured ones.
                let text = mcpkey_auth::redact::mask_text(&text);
                tracing::debug!(target: "mcpkey::stdio::stderr", server = %command, "{text}");
                let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                if b.len() == STDERR_LINES {
                    b.pop_front();
                }
                b.push_back(text);
            }
        }
    }
}

/// Reads one line into `out` (newline excluded). A line longer than `max`
/// is consumed and truncated, so a hostile server cannot exhaust memory.
/// Returns the number of bytes consumed (0 at EOF).
async fn read_line_bounded<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    out: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        consumed += used;
        if done.is_some() {
            return Ok(consumed);
        }
    }
}

async fn read_stdout(
    out: impl AsyncRead + Unpin,
    pending: Arc<Pending>,
    inbound: InboundTx,
    mut exited: watch::Receiver<Option<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    max: usize,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, out);
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match read_line_bounded(&mut reader, &mut line, max + 1).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if line.len() > max {
                    tracing::warn!(
                        limit = max,
                        "dropping a message larger than the limit from the server's stdout"
                    );
                    continue;
                }
                let text = trim_ascii(&line);
                if text.is_empty() {
                    continue;
                }
                match parse_incoming(text) {
                    Ok(messages) => {
                        for m in messages {
                            route(m, &pending, &inbound).await;
                        }
                    }
                    Err(_) => {
                        let shown: String =
                            String::from_utf8_lossy(text).chars().take(200).collect();
                        let shown = mcpkey_auth::redact::mask_text(&shown);
                        tracing::warn!(
                            "ignoring a non-JSON-RPC line on the server's stdout: {shown}"
                        );
                    }
                }
            }
        }
    }
    // stdout closed: the process is exiting. Wait briefly for its status so
    // errors can say how it ended.
    let status = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(s) = exited.borrow().clone() {
                return s;
            }
            if exited.changed().await.is_err() {
                return String::from("unknown status");
            }
        }
    })
    .await
    .unwrap_or_else(|_| String::from("closed its stdout"));
    // Give the stderr drain a moment to catch the last lines.
    tokio::time::sleep(Duration::from_millis(20)).await;
    pending.close(Closed::Exited {
        status,
        stderr_tail: tail(&stderr),
    });
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[async_trait]
impl Transport for Arc<StdioTransport> {
    async fn call(&self, call: Call) -> Result<RpcResult, TransportError> {
        let waiter = self.pending.register(call.id)?;
        self.write(&call.body).await?;
        waiter.wait().await
    }

    async fn notify(&self, body: Bytes, _headers: HeaderMap) -> Result<(), TransportError> {
        self.write(&body).await
    }

    async fn respond(&self, body: Bytes) -> Result<(), TransportError> {
        self.write(&body).await
    }

    fn set_protocol_version(&self, _version: &str) {}

    fn needs_cancel_notification(&self, _modern: bool) -> bool {
        true
    }

    async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.pending.close(Closed::ByUs);
        // 1. EOF on stdin: well-behaved servers exit.
        if let Some(mut stdin) = self.stdin.lock().await.take() {
            let _ = stdin.shutdown().await;
        }
        if !self.wait_exit(EXIT_GRACE).await {
            // 2. SIGTERM to the group, 3. SIGKILL.
            self.signal(Signal::SIGTERM);
            if !self.wait_exit(EXIT_GRACE).await {
                self.signal(Signal::SIGKILL);
                self.wait_exit(EXIT_GRACE).await;
            }
        }
        // Grandchildren may outlive the leader; end them too.
        self.signal(Signal::SIGKILL);
        tracing::debug!(command = %self.command, "stdio server closed");
    }

    fn kind(&self) -> TransportKind {
        TransportKind::Stdio
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) || !self.has_exited() {
            self.signal(Signal::SIGKILL);
        }
    }
}
