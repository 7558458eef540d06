//! Reading SSE items from a response body.

use std::collections::VecDeque;

use futures_util::StreamExt;
use mcpkey_auth::{Body, BoxError};

use super::sse::{SseDecoder, SseItem};
use crate::transport::TransportError;

/// Pulls decoded SSE items out of a body.
pub(crate) struct SseReader {
    body: Body,
    decoder: SseDecoder,
    ready: VecDeque<SseItem>,
    scratch: Vec<SseItem>,
    ended: bool,
}

impl SseReader {
    pub(crate) fn new(body: Body, max_event_bytes: usize) -> Self {
        Self {
            body,
            decoder: SseDecoder::new(max_event_bytes),
            ready: VecDeque::new(),
            scratch: Vec::new(),
            ended: false,
        }
    }

    /// The next item; `None` when the stream ends.
    pub(crate) async fn next(&mut self) -> Option<Result<SseItem, TransportError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            if self.ended {
                return None;
            }
            match self.body.next().await {
                None => {
                    self.ended = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Some(Err(unbox(e)));
                }
                Some(Ok(chunk)) => {
                    if let Err(e) = self.decoder.push(&chunk, &mut self.scratch) {
                        self.ended = true;
                        return Some(Err(e.into()));
                    }
                    self.ready.extend(self.scratch.drain(..));
                }
            }
        }
    }

    /// Reads the rest of the stream for at most `budget`, so that a server
    /// which ends the stream right after the response gets its connection
    /// reused; a stream left open is dropped (closing the connection).
    pub(crate) async fn drain_briefly(mut self, budget: std::time::Duration) {
        let _ = tokio::time::timeout(budget, async {
            while let Some(Ok(_)) = self.body.next().await {}
        })
        .await;
    }
}

fn unbox(e: BoxError) -> TransportError {
    match e.downcast::<TransportError>() {
        Ok(t) => *t,
        Err(other) => TransportError::Protocol(format!("reading the event stream failed: {other}")),
    }
}
