//! How far a client's pipelined requests may run ahead of the answers it takes. actix-http reads
//! on while its writes wait for a client that does not read, and encodes the answer to each
//! request it reads into its write buffer, which has no bound: four connections pipelining
//! `GET /cached` without reading grew the balancer from 23 MB to 140 MB in 8 s, and the send
//! timeout ends that only after a minute. So while anything written before is still waiting for
//! the socket, the guard passes at most [`AHEAD`] more request heads on and holds the bytes from
//! the next head on here; nginx goes further and reads a pipelined request only once the answer
//! before it is out. A client that reads has each write go out whole, which opens the pipeline
//! again, so it can still pipeline: `wrk` sending 8 requests a write got 298-316k cache hits/s
//! against 319-332k before.

use std::io;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::ReadBuf;

/// Request heads passed on while earlier answers are still being written: actix-http's own
/// bound on requests it queues (`MAX_PIPELINED_MESSAGES`). Its answers stay small in the write
/// buffer: a large body is fed to it only as the buffer empties.
const AHEAD: u32 = 16;

#[derive(Debug, Default)]
pub(super) struct Pipeline {
    /// Bytes read from the socket from a head on that may not be passed on yet.
    held: BytesMut,
    /// Heads passed on since the write buffer was last written out whole.
    unanswered: u32,
    /// The reader told to wait until it is.
    reader: Option<Waker>,
}

impl Pipeline {
    /// Whether another head may be passed on now.
    pub fn is_open(&self) -> bool {
        self.unanswered < AHEAD
    }

    /// The reader waits for the next write to empty the write buffer.
    pub fn wait<T>(&mut self, cx: &Context<'_>) -> Poll<T> {
        self.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    pub fn head_passed(&mut self) {
        self.unanswered += 1;
    }

    /// After a write of `given` bytes: if it took them all, nothing actix-http has answered
    /// waits any more (it hands its whole write buffer to each write), so the pipeline opens.
    pub fn after_write(&mut self, written: &Poll<io::Result<usize>>, given: usize) {
        if !matches!(written, Poll::Ready(Ok(n)) if *n == given) {
            return;
        }
        self.unanswered = 0;
        if let Some(reader) = self.reader.take() {
            reader.wake();
        }
    }

    pub fn holds_bytes(&self) -> bool {
        !self.held.is_empty()
    }

    /// Copies as many held bytes as fit into `buf`; they stay held until [`Self::consumed`].
    pub fn copy_held(&self, buf: &mut ReadBuf<'_>) {
        let n = self.held.len().min(buf.remaining());
        buf.put_slice(&self.held[..n]);
    }

    /// `n` held bytes were passed on.
    pub fn consumed(&mut self, n: usize) {
        self.held.advance(n);
    }

    /// Bytes just read from the socket that may not be passed on yet.
    pub fn hold(&mut self, rest: &[u8]) {
        self.held.extend_from_slice(rest);
    }
}
