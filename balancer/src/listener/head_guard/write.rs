//! The guard's write side: each write bounded by the send timeout, the pipeline told when
//! actix-http's write buffer has gone out whole, and a refusal written after everything
//! actix-http wrote, then a lingering close.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::HeadGuard;

/// How long a refused connection's remaining input is read away before it is closed.
const LINGER: Duration = Duration::from_secs(1);

impl<T> HeadGuard<T> {
    /// Passes a write's result on; a write still waiting `send_timeout` after the last one that
    /// made progress fails.
    fn bound_wait<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.write_waiting = false;
            return polled;
        }
        let timeout = self.send_timeout;
        let deadline = self
            .send_deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if !self.write_waiting {
            deadline.as_mut().reset(Instant::now() + timeout);
            self.write_waiting = true;
        }
        ready!(deadline.as_mut().poll(cx));
        log::debug!("closed a connection whose client stopped reading");
        Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        self.pipeline.after_write(&polled, data.len());
        self.bound_wait(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, data);
        let given = data.iter().map(|slice| slice.len()).sum();
        self.pipeline.after_write(&polled, given);
        self.bound_wait(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.bound_wait(cx, polled)
    }

    /// Writes a pending refusal after everything actix-http wrote, then shuts down. After the
    /// stream was ended, what the client is still sending is read away for a moment (a
    /// lingering close, as nginx does), so closing with unread bytes does not reset the
    /// connection before the client has read the answer.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(refusal) = this.refusal.as_mut() else {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            return Pin::new(&mut this.io).poll_shutdown(cx);
        };
        while !refusal.is_empty() {
            let written = ready!(Pin::new(&mut this.io).poll_write(cx, refusal))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            refusal.advance(written);
        }
        if !this.lingering {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.lingering = true;
            this.deadline.as_mut().reset(Instant::now() + LINGER);
        }
        let mut scratch = [0u8; 4096];
        loop {
            if this.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut sink = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.io).poll_read(cx, &mut sink)) {
                Ok(()) if !sink.filled().is_empty() => {}
                _ => return Poll::Ready(Ok(())),
            }
        }
    }
}
