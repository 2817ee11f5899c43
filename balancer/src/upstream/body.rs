//! A response body read from a backend connection as it arrives: by `Content-Length`, by
//! chunks, or until the backend closes. Once the body is complete the connection goes back to
//! the pool; a body dropped half-read closes it.

use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::net::TcpStream;

use super::body_decoder::{BodyDecoder, Decoded};
use super::pool::{Pool, SlotRef};
use super::response::BodyFraming;

/// Where a finished connection is checked back in.
pub struct PoolCheckin {
    pub pool: Rc<Pool>,
    pub slot: SlotRef,
}

pub struct BodyReader {
    /// `None` once the body has ended or failed.
    stream: Option<TcpStream>,
    buf: BytesMut,
    decoder: BodyDecoder,
    keep_alive: bool,
    return_to: PoolCheckin,
}

impl BodyReader {
    /// Reads the body framed by `framing` from `stream`, whose first bytes are in `buf`.
    pub fn new(
        stream: TcpStream,
        buf: BytesMut,
        framing: BodyFraming,
        keep_alive: bool,
        return_to: PoolCheckin,
    ) -> Self {
        Self {
            stream: Some(stream),
            buf,
            decoder: BodyDecoder::new(framing),
            // Only the close marks the end of such a body, so the connection cannot be reused.
            keep_alive: keep_alive && framing != BodyFraming::UntilClose,
            return_to,
        }
    }

    /// Ends the body; a connection left exactly at the end of a keep-alive response is reused.
    fn finish(&mut self) {
        if let Some(stream) = self.stream.take()
            && self.keep_alive
            && self.buf.is_empty()
        {
            self.return_to.pool.checkin(&self.return_to.slot, stream);
        }
    }

    fn fail(&mut self, error: io::Error) -> Poll<Option<io::Result<Bytes>>> {
        self.stream = None;
        Poll::Ready(Some(Err(error)))
    }

    /// Reads more bytes into the buffer; `Ok(0)` is the end of the stream.
    fn poll_fill(
        stream: &mut TcpStream,
        buf: &mut BytesMut,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 << 10);
        }
        tokio_util::io::poll_read_buf(Pin::new(stream), cx, buf)
    }
}

impl Stream for BodyReader {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(stream) = this.stream.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut this.buf) {
                Ok(Decoded::Data(data)) => {
                    // A sized body's last bytes free the connection at once: the consumer
                    // may stop polling when it has counted them all.
                    if this.decoder.is_complete() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Ok(Decoded::End) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::NeedMore) => match ready!(Self::poll_fill(stream, &mut this.buf, cx)) {
                    Ok(0) => match this.decoder.end_of_stream() {
                        Ok(()) => {
                            this.finish();
                            return Poll::Ready(None);
                        }
                        Err(error) => return this.fail(error),
                    },
                    Ok(_) => {}
                    Err(error) => return this.fail(error),
                },
                Err(error) => return this.fail(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    /// Reads a body sent by a peer in the given pieces, then reports whether the connection
    /// went back to the pool.
    async fn read(framing: BodyFraming, pieces: &[&[u8]], close: bool) -> (Vec<u8>, bool, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stream = TcpStream::connect(&address).await.unwrap();
        let (mut peer, _) = listener.accept().await.unwrap();
        let pool = Rc::new(Pool::new(4, std::time::Duration::from_secs(4)));
        let slot = pool.slot(&address);
        let return_to = PoolCheckin {
            pool: pool.clone(),
            slot: slot.clone(),
        };
        let pieces: Vec<Vec<u8>> = pieces.iter().map(|p| p.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for piece in pieces {
                peer.write_all(&piece).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            if !close {
                // Keep the connection open until the reader is done.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        });
        let mut reader = BodyReader::new(stream, BytesMut::new(), framing, true, return_to);
        let mut body = Vec::new();
        let mut failed = false;
        while let Some(chunk) = reader.next().await {
            match chunk {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(_) => failed = true,
            }
        }
        writer.await.unwrap();
        (body, failed, pool.idle(&slot) == 1)
    }

    #[tokio::test]
    async fn a_sized_body_in_pieces_then_the_connection_is_reused() {
        let (body, failed, reused) =
            read(BodyFraming::Length(11), &[b"hello", b" ", b"world"], false).await;
        assert_eq!(body, b"hello world");
        assert!(!failed && reused);
    }

    #[tokio::test]
    async fn a_chunked_body_split_anywhere_with_trailers() {
        let wire: &[&[u8]] = &[
            b"5\r\nhel",
            b"lo\r",
            b"\n6;ext=1\r\n wor",
            b"ld\r\n0\r\nX-T: 1\r\n",
            b"\r\n",
        ];
        let (body, failed, reused) = read(BodyFraming::Chunked, wire, false).await;
        assert_eq!(body, b"hello world");
        assert!(!failed && reused);
    }

    #[tokio::test]
    async fn a_body_until_close_is_not_reused() {
        let (body, failed, reused) = read(BodyFraming::UntilClose, &[b"ab", b"cd"], true).await;
        assert_eq!(body, b"abcd");
        assert!(!failed && !reused);
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_error() {
        let (body, failed, reused) = read(BodyFraming::Length(10), &[b"abc"], true).await;
        assert_eq!(body, b"abc");
        assert!(failed && !reused);
        let (_, failed, _) = read(BodyFraming::Chunked, &[b"5\r\nab"], true).await;
        assert!(failed);
        let (_, failed, _) = read(BodyFraming::Chunked, &[b"zz\r\n"], false).await;
        assert!(failed);
    }
}
