//! An incremental Server-Sent Events decoder (WHATWG HTML §9.2.6), fed with
//! whatever chunks the network delivers.
//!
//! It yields the same events however the bytes are split, bounds the size of
//! one event, and reports `id` even on events without data (the priming
//! event of SEP-1699 carries only an id and a `retry`).

use std::borrow::Cow;

/// One decoded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched event.
    Event(SseEvent),
    /// A `retry:` field: the reconnection delay in milliseconds.
    Retry(u64),
}

/// A dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if any (`None` means the default, `message`).
    pub event: Option<String>,
    /// The data lines joined by `\n` (may be empty for an id-only event).
    pub data: String,
    /// The `id:` set in this event block, if any.
    pub id: Option<String>,
}

/// The stream broke a limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "an SSE event exceeded {limit} bytes; raise the server's limits.max_message_bytes if this is expected"
)]
pub struct SseTooLarge {
    /// The limit in bytes.
    pub limit: usize,
}

/// Incremental decoder state.
#[derive(Debug)]
pub struct SseDecoder {
    line: Vec<u8>,
    data: String,
    event: String,
    id: Option<String>,
    skip_lf: bool,
    started: bool,
    limit: usize,
}

impl SseDecoder {
    /// A decoder that refuses events larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            event: String::new(),
            id: None,
            skip_lf: false,
            started: false,
            limit,
        }
    }

    /// Feeds a chunk, appending completed items to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseTooLarge> {
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.line.extend_from_slice(chunk);
                    self.check_size()?;
                    break;
                }
                Some(i) => {
                    self.line.extend_from_slice(&chunk[..i]);
                    let was_cr = chunk[i] == b'\r';
                    chunk = &chunk[i + 1..];
                    if was_cr {
                        if chunk.first() == Some(&b'\n') {
                            chunk = &chunk[1..];
                        } else if chunk.is_empty() {
                            self.skip_lf = true;
                        }
                    }
                    let line = std::mem::take(&mut self.line);
                    self.process_line(&line, out)?;
                    self.line = line;
                    self.line.clear();
                }
            }
        }
        Ok(())
    }

    fn check_size(&self) -> Result<(), SseTooLarge> {
        if self.line.len() + self.data.len() > self.limit {
            return Err(SseTooLarge { limit: self.limit });
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseTooLarge> {
        let mut line = line;
        if !self.started {
            self.started = true;
            if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value: Cow<'_, str> = String::from_utf8_lossy(value);
        match field {
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
                if self.data.len() > self.limit {
                    return Err(SseTooLarge { limit: self.limit });
                }
            }
            b"event" => self.event = value.into_owned(),
            b"id" if !value.contains('\0') => {
                self.id = Some(value.into_owned());
            }
            b"retry" => {
                if !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && let Ok(ms) = value.parse::<u64>()
                {
                    out.push(SseItem::Retry(ms));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let id = self.id.take();
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() && id.is_none() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseItem::Event(SseEvent {
            event: (!event.is_empty()).then_some(event),
            data,
            id,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], split: &[usize]) -> Vec<SseItem> {
        let mut d = SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        let mut start = 0;
        for &s in split {
            d.push(&input[start..s], &mut out).unwrap();
            start = s;
        }
        d.push(&input[start..], &mut out).unwrap();
        out
    }

    const SAMPLE: &[u8] = b"\xEF\xBB\xBF: comment\r\nid: 1\r\nretry: 500\r\ndata:\r\n\r\nevent: message\ndata: {\"a\":\ndata:  1}\n\nid: x\rdata: second\r\rdata: no-terminator";

    #[test]
    fn fields_and_line_endings() {
        let out = decode_all(SAMPLE, &[]);
        assert_eq!(
            out,
            vec![
                SseItem::Retry(500),
                SseItem::Event(SseEvent {
                    event: None,
                    data: String::new(),
                    id: Some("1".into())
                }),
                SseItem::Event(SseEvent {
                    event: Some("message".into()),
                    data: "{\"a\":\n 1}".into(),
                    id: None
                }),
                SseItem::Event(SseEvent {
                    event: None,
                    data: "second".into(),
                    id: Some("x".into())
                }),
            ]
        );
    }

    #[test]
    fn same_events_for_every_split_point() {
        let whole = decode_all(SAMPLE, &[]);
        for i in 0..=SAMPLE.len() {
            assert_eq!(decode_all(SAMPLE, &[i]), whole, "split at {i}");
            for j in i..=SAMPLE.len() {
                assert_eq!(decode_all(SAMPLE, &[i, j]), whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn size_limit() {
        let mut d = SseDecoder::new(16);
        let mut out = Vec::new();
        assert!(d.push(b"data: 0123456789abcdefghij\n", &mut out).is_err());
        let mut d = SseDecoder::new(16);
        assert!(d.push(b"data: 0123456789abcdefghij", &mut out).is_err());
    }

    #[test]
    fn endpoint_event() {
        let out = decode_all(b"event: endpoint\ndata: /messages?session_id=abc\n\n", &[]);
        assert_eq!(
            out,
            vec![SseItem::Event(SseEvent {
                event: Some("endpoint".into()),
                data: "/messages?session_id=abc".into(),
                id: None
            })]
        );
    }
}
