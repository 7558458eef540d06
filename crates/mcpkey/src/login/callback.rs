//! The loopback listener: a minimal HTTP/1.1 server that waits for the one
//! request carrying the login's `state`, and the pages it answers with.

use super::*;

pub(super) struct Callback<'a> {
    pub(super) path: &'a str,
    pub(super) state: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) server: &'a str,
}

impl Callback<'_> {
    /// The full redirect URL if `query` carries exactly one `state` and it
    /// is the login's.
    pub(super) fn accept(&self, query: &str) -> Option<Url> {
        // Check the state in the URL as the OAuth code will read it (a `#`
        // in the pasted or requested text would otherwise move parameters
        // out of the query after the check).
        let url = Url::parse(&format!("{}?{query}", self.redirect_uri)).ok()?;
        let ok = {
            let mut states = url
                .query_pairs()
                .filter(|(k, _)| k == "state")
                .map(|(_, v)| v);
            let state = states.next()?;
            states.next().is_none() && bool::from(state.as_bytes().ct_eq(self.state.as_bytes()))
        };
        ok.then_some(url)
    }
}

/// Accepts connections on every listener until one brings the callback.
pub(super) async fn serve(listeners: &[TcpListener], ctx: &Callback<'_>) -> Url {
    let mut connections = FuturesUnordered::new();
    loop {
        tokio::select! {
            accepted = accept_any(listeners) => match accepted {
                Ok(stream) => {
                    if connections.len() < MAX_CONNECTIONS {
                        connections.push(handle(stream, ctx));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accepting a login callback connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = connections.next(), if !connections.is_empty() => {
                if let Some(url) = done {
                    return url;
                }
            }
        }
    }
}

/// The next connection on any of the listeners.
pub(super) async fn accept_any(listeners: &[TcpListener]) -> std::io::Result<TcpStream> {
    poll_fn(|cx| {
        for l in listeners {
            if let Poll::Ready(r) = l.poll_accept(cx) {
                return Poll::Ready(r.map(|(s, _)| s));
            }
        }
        Poll::Pending
    })
    .await
}

/// Serves one connection (one request, then close); returns the redirect
/// URL if it was the callback.
pub(super) async fn handle(mut stream: TcpStream, ctx: &Callback<'_>) -> Option<Url> {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(HeadError::TooLarge)) => {
            let page = Page::error(431, "Request Header Fields Too Large", "Request too large.");
            respond(&mut stream, &page, true).await;
            return None;
        }
        Ok(Err(HeadError::Malformed)) => {
            let page = Page::error(400, "Bad Request", "Malformed request.");
            respond(&mut stream, &page, true).await;
            return None;
        }
        Ok(Err(HeadError::Closed)) | Err(_) => return None,
    };
    let (page, url) = route(&head, ctx);
    respond(&mut stream, &page, url.is_none()).await;
    url
}

pub(super) enum HeadError {
    TooLarge,
    Malformed,
    Closed,
}

/// Reads the request line and headers (up to the blank line).
pub(super) async fn read_head(stream: &mut TcpStream) -> Result<String, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let end = find(&buf, b"\r\n\r\n").or_else(|| find(&buf, b"\n\n"));
        if let Some(end) = end {
            if end > MAX_REQUEST_HEAD {
                return Err(HeadError::TooLarge);
            }
            buf.truncate(end);
            return String::from_utf8(buf).map_err(|_| HeadError::Malformed);
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The page for a request, and the redirect URL if it is the callback.
pub(super) fn route(head: &str, ctx: &Callback<'_>) -> (Page, Option<Url>) {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (Page::error(400, "Bad Request", "Malformed request."), None);
    };
    if !version.starts_with("HTTP/1.") {
        return (Page::error(400, "Bad Request", "Malformed request."), None);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if path != ctx.path {
        return (Page::error(404, "Not Found", "Not found."), None);
    }
    if method != "GET" {
        return (
            Page::error(405, "Method Not Allowed", "Method not allowed."),
            None,
        );
    }
    let Some(url) = query.and_then(|q| ctx.accept(q)) else {
        return (
            Page::error(
                400,
                "Bad Request",
                "This is not the response of the login mcpkey is waiting for (its state does \
                 not match). Start the login again from the terminal.",
            ),
            None,
        );
    };
    tracing::debug!("callback received");
    let mut error = None;
    let mut description = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "error" => error = Some(v.into_owned()),
            "error_description" => description = Some(v.into_owned()),
            _ => {}
        }
    }
    let server = html_escape(ctx.server);
    let page = match error {
        None => Page {
            status: 200,
            reason: "OK",
            title: "Login complete",
            body: format!(
                "<p>mcpkey received the authorization for <b>{server}</b>.</p>\
                 <p>You can close this tab and return to the terminal.</p>"
            ),
        },
        Some(error) => {
            let mut body = format!(
                "<p>The authorization server refused the login to <b>{server}</b>: \
                 <code>{}</code></p>",
                html_escape(&shown(&error))
            );
            if let Some(d) = description {
                body.push_str(&format!("<p>It said: {}</p>", html_escape(&shown(&d))));
            }
            body.push_str("<p>Return to the terminal for details.</p>");
            Page {
                status: 200,
                reason: "OK",
                title: "Login failed",
                body,
            }
        }
    };
    (page, Some(url))
}

/// An authorization-server-supplied text, shortened and without control
/// characters.
pub(super) fn shown(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SHOWN_ERROR)
        .collect()
}

/// Escapes text for HTML element content and attribute values.
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One HTML answer. `body` is already escaped HTML.
pub(super) struct Page {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) title: &'static str,
    pub(super) body: String,
}

impl Page {
    fn error(status: u16, reason: &'static str, text: &'static str) -> Self {
        Self {
            status,
            reason,
            title: "mcpkey login",
            body: format!("<p>{}</p>", html_escape(text)),
        }
    }

    pub(super) fn to_bytes(&self) -> Vec<u8> {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}</title><style>body{{font-family:system-ui,sans-serif;\
             max-width:40em;margin:4em auto;padding:0 1em;line-height:1.5}}</style></head>\
             <body><h1>{title}</h1>{body}</body></html>\n",
            title = self.title,
            body = self.body
        );
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\n\
             Connection: close\r\n",
            self.status,
            self.reason,
            html.len()
        );
        if self.status == 405 {
            out.push_str("Allow: GET\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(html.as_bytes());
        bytes
    }
}

/// Writes the page and closes the connection (errors ignored: the browser
/// may be gone). Refusals linger briefly, reading what the client still
/// sends, so that closing with unread data does not reset the connection
/// before the client has read the page.
pub(super) async fn respond(stream: &mut TcpStream, page: &Page, linger: bool) {
    let bytes = page.to_bytes();
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&bytes).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if linger {
        let _ = tokio::time::timeout(LINGER, async {
            let mut sink = [0u8; 4096];
            let mut total = 0;
            while total < MAX_LINGER_BYTES {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        })
        .await;
    }
}
