//! The paste fallback: the user pastes the URL the browser landed on.

use super::*;

/// Where pasted lines come from.
pub(super) enum PasteSource<'a> {
    Reader(&'a mut PasteInput),
    Stdin(&'static Mutex<mpsc::UnboundedReceiver<String>>),
}

impl PasteSource<'_> {
    /// The next line, or `None` at end of input.
    async fn next_line(&mut self) -> Option<String> {
        match self {
            Self::Reader(r) => {
                let mut line = String::new();
                match (&mut **r).take(MAX_PASTE_LINE).read_line(&mut line).await {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line),
                }
            }
            Self::Stdin(rx) => rx.lock().await.recv().await,
        }
    }
}

/// Reads pasted lines until one is the redirect; `None` at end of input (or
/// without a source).
pub(super) async fn paste(source: Option<&mut PasteSource<'_>>, ctx: &Callback<'_>) -> Option<Url> {
    let source = source?;
    while let Some(line) = source.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(url) = pasted_redirect(line, ctx) {
            tracing::debug!("callback received (pasted)");
            return Some(url);
        }
        // Never echo the line: it may hold a code.
        eprintln!(
            "That is not the redirect of this login (no matching state). Paste the whole URL \
             from the browser's address bar."
        );
    }
    None
}

/// A pasted redirect: a full `http(s)` URL, or just its query (`?code=…`),
/// whose `state` is the login's. Returned as the redirect URI plus the
/// pasted query.
pub(super) fn pasted_redirect(line: &str, ctx: &Callback<'_>) -> Option<Url> {
    let query = match Url::parse(line) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.query()?.to_owned(),
        Ok(_) => return None,
        Err(_) => {
            let q = line.strip_prefix('?').unwrap_or(line);
            if q.contains(['/', ' ', '#']) {
                return None;
            }
            q.to_owned()
        }
    };
    ctx.accept(&query)
}

/// Terminal lines, read by one process-wide thread.
///
/// A dedicated thread rather than `tokio::io::stdin`: tokio's stdin read
/// cannot be cancelled and would keep the runtime from shutting down until
/// the user pressed Enter. The thread is started by the first login that
/// uses the paste fallback on a terminal and lives until end of input.
pub(super) fn stdin_lines() -> Option<&'static Mutex<mpsc::UnboundedReceiver<String>>> {
    static LINES: OnceLock<Option<Mutex<mpsc::UnboundedReceiver<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            std::thread::Builder::new()
                .name("mcpkey-login-stdin".into())
                .spawn(move || {
                    loop {
                        let mut line = String::new();
                        let stdin = std::io::stdin();
                        match stdin.lock().take(MAX_PASTE_LINE).read_line(&mut line) {
                            Ok(0) => break,
                            Ok(_) => {
                                if tx.send(line).is_err() {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {}
                            Err(_) => break,
                        }
                    }
                })
                .ok()
                .map(|_| Mutex::new(rx))
        })
        .as_ref()
}
