use std::future::poll_fn;
use std::sync::Arc;
use std::task::Wake;

use actix_web::http::header::LINK;
use tokio::io::AsyncWriteExt;

use super::*;

const HINT: &[u8] = b"HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\n\r\n";

fn hint(queue: &InterimResponses) -> bool {
    let link = HeaderValue::from_static("</app.css>; rel=preload");
    let early_hints = StatusCode::from_u16(103).unwrap();
    queue.push(early_hints, [(&LINK, &link)].into_iter())
}

/// A socket that takes at most `per_write` bytes a call and is not ready every other call.
#[derive(Default)]
struct Trickle {
    wire: Vec<u8>,
    per_write: usize,
    blocked: bool,
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.blocked = !self.blocked;
        if self.blocked {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let taken = data.len().min(self.per_write);
        self.wire.extend_from_slice(&data[..taken]);
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

struct Flag(std::sync::atomic::AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Polls the `written` future once with a waker that records being woken.
fn poll_written(queue: &InterimResponses, flag: &Arc<Flag>) -> Poll<()> {
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut written = Box::pin(queue.written());
    written.as_mut().poll(&mut cx)
}

#[tokio::test]
async fn a_queued_head_waits_for_the_flush_after_the_bytes_already_written() {
    let mut writer = InterimWriter::http1(Vec::new());
    let queue = writer.responses().unwrap();
    writer.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
    assert!(hint(&queue));
    // actix-http's buffer may still hold the end of an earlier response: it goes first.
    writer
        .write_all(b"content-length: 0\r\n\r\n")
        .await
        .unwrap();
    let flag = Arc::new(Flag(Default::default()));
    assert!(poll_written(&queue, &flag).is_pending());
    writer.flush().await.unwrap();
    assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
    assert!(poll_written(&queue, &flag).is_ready());
    let mut expected = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec();
    expected.extend_from_slice(HINT);
    assert_eq!(writer.io, expected);
}

#[tokio::test]
async fn a_partly_written_head_is_finished_before_anything_else() {
    let mut writer = InterimWriter::http1(Trickle {
        per_write: 5,
        ..Trickle::default()
    });
    let queue = writer.responses().unwrap();
    assert!(hint(&queue));
    // One flush attempt writes five bytes, then the socket is not ready.
    let waker = Waker::from(Arc::new(Flag(Default::default())));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut writer).poll_flush(&mut cx).is_pending());
    assert!(Pin::new(&mut writer).poll_flush(&mut cx).is_pending());
    assert_eq!(writer.io.wire.len(), 5);
    writer.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    let mut expected = HINT.to_vec();
    expected.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(writer.io.wire, expected);
}

#[tokio::test]
async fn several_heads_go_out_in_order_on_one_flush() {
    let mut writer = InterimWriter::http1(Vec::new());
    let queue = writer.responses().unwrap();
    assert!(queue.push(StatusCode::PROCESSING, std::iter::empty()));
    assert!(hint(&queue));
    poll_fn(|cx| Pin::new(&mut writer).poll_flush(cx))
        .await
        .unwrap();
    let mut expected = b"HTTP/1.1 102 Processing\r\n\r\n".to_vec();
    expected.extend_from_slice(HINT);
    assert_eq!(writer.io, expected);
}

#[test]
fn a_closed_connection_releases_the_waiting_handler_and_takes_nothing_more() {
    let writer = InterimWriter::http1(Vec::<u8>::new());
    let queue = writer.responses().unwrap();
    assert!(hint(&queue));
    let flag = Arc::new(Flag(Default::default()));
    assert!(poll_written(&queue, &flag).is_pending());
    drop(writer);
    assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst));
    assert!(poll_written(&queue, &flag).is_ready());
    assert!(!hint(&queue));
}

#[test]
fn a_client_that_does_not_read_gets_no_more_than_the_bound_queued() {
    let writer = InterimWriter::http1(Vec::<u8>::new());
    let queue = writer.responses().unwrap();
    let mut queued = 0;
    while hint(&queue) {
        queued += 1;
        assert!(queued * HINT.len() <= MAX_QUEUED_BYTES);
    }
    assert_eq!(queued, MAX_QUEUED_BYTES / HINT.len());
}

#[test]
fn http2_connections_have_no_queue() {
    assert!(InterimWriter::http2(Vec::<u8>::new()).responses().is_none());
}
