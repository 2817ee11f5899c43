//! Unit tests of the head guard: streams fed in pieces, refusals named, tunnels left alone,
//! trickling heads timed out.

use super::*;
use crate::listener::head_check::{host_is_valid, target_is_valid};
use tokio::io::AsyncReadExt;

fn timeouts(head: Duration) -> GuardTimeouts {
    GuardTimeouts {
        head,
        send: Duration::from_secs(60),
    }
}

fn guard() -> HeadGuard<()> {
    HeadGuard::new((), timeouts(Duration::from_secs(5)))
}

/// Feeds `pieces` one read at a time; returns the bytes passed on and the refusal.
fn feed(pieces: &[&[u8]]) -> (usize, Option<String>) {
    let mut guard = guard();
    let mut passed = 0;
    for piece in pieces {
        if guard.refusal.is_some() {
            break;
        }
        passed += guard.follow(piece);
    }
    let refusal = guard
        .refusal
        .map(|r| String::from_utf8_lossy(&r).into_owned());
    (passed, refusal)
}

#[test]
fn the_target_scan_agrees_with_actix_http_on_every_byte() {
    for byte in (0x21u8..0x7f).filter(|byte| *byte != b'#') {
        for target in [
            format!("/a{}b", byte as char),
            format!("/p?q={}", byte as char),
        ] {
            assert_eq!(
                target_is_valid("GET", &target),
                actix_web::http::Uri::try_from(target.as_str()).is_ok(),
                "{target:?}"
            );
        }
    }
    let too_long = format!("/{}", "a".repeat(70_000));
    assert!(
        !target_is_valid("GET", &too_long),
        "http::Uri caps a URI's length"
    );
}

#[test]
fn each_target_form_is_valid_only_for_its_methods_and_never_with_a_fragment() {
    let valid = [
        ("GET", "/"),
        ("GET", "//x/y"),
        ("POST", "/a?b=c"),
        ("GET", "http://example.com/x"),
        ("GET", "HTTPS://example.com:8443/x?y"),
        ("GET", "http://example.com"),
        ("OPTIONS", "*"),
        ("OPTIONS", "/"),
        ("CONNECT", "example.com:443"),
    ];
    let invalid = [
        ("GET", "*"),
        ("POST", "*"),
        ("GET", "example.com:80"),
        ("GET", "a"),
        ("GET", "/a#b"),
        ("GET", "/a?b#c"),
        ("GET", "http://example.com/a#b"),
        ("GET", "ftp://example.com/x"),
        ("GET", "mailto:a@example.com"),
        ("GET", ""),
    ];
    for (method, target) in valid {
        assert!(target_is_valid(method, target), "{method} {target}");
    }
    for (method, target) in invalid {
        assert!(!target_is_valid(method, target), "{method} {target}");
    }
}

#[tokio::test]
async fn host_values_follow_rfc_9110_and_the_others_are_refused() {
    for good in [
        "example.com",
        "a.example:8080",
        "localhost:",
        "127.0.0.1",
        "[::1]",
        "[::1]:443",
        "[v1.x]",
        "xn--bcher-kva.example",
        "a%2Db.example",
        "",
    ] {
        assert!(host_is_valid(good.as_bytes()), "{good:?}");
    }
    for bad in [
        "a b",
        "a/b",
        "user@a.example",
        "a.example:80:80",
        "a.example:8o",
        "[::1",
        "[]",
        "[::1]x",
        "a%2",
        "a%zz",
        "a\\b",
        "a?b",
        "a#b",
    ] {
        assert!(!host_is_valid(bad.as_bytes()), "{bad:?}");
    }
    let (_, refusal) = feed(&[b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"]);
    let refusal = refusal.expect("a refusal");
    assert!(refusal.starts_with("HTTP/1.1 400"), "{refusal}");
    assert!(refusal.contains("malformed_request"), "{refusal}");
}

#[tokio::test]
async fn sound_requests_pass_whole_in_any_pieces() {
    let stream: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
        POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext\r\nhello\r\n0\r\nTrailer: t\r\n\r\n\
        GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
    for split in [1, 2, 3, 7, 64, stream.len()] {
        let pieces: Vec<&[u8]> = stream.chunks(split).collect();
        assert_eq!(feed(&pieces), (stream.len(), None), "pieces of {split}");
    }
}

#[tokio::test]
async fn a_large_head_in_pieces_is_not_refused_for_the_body_after_it() {
    // 40 KB of head in a first read, then its end with 30 KB of body: within the bound, though
    // the two reads together are not.
    let body = "b".repeat(30_000);
    let stream = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nContent-Length: {}\r\n\r\n{body}",
        "a".repeat(40_000),
        body.len()
    );
    let (first, second) = stream.as_bytes().split_at(40_000);
    assert_eq!(feed(&[first, second]), (stream.len(), None));
}

#[tokio::test]
async fn a_bad_head_after_good_requests_is_cut_off_and_answered_in_json() {
    let good: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let bad: &[u8] = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\
        Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let (passed, refusal) = feed(&[&[good, bad].concat()]);
    assert_eq!(passed, good.len());
    let refusal = refusal.unwrap();
    assert!(
        refusal.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{refusal}"
    );
    assert!(
        refusal.contains("\"error\":\"ambiguous_framing\""),
        "{refusal}"
    );
    assert!(refusal.contains("connection: close\r\n"), "{refusal}");
}

#[tokio::test]
async fn a_malformed_chunked_body_ends_the_stream_at_its_bad_byte_and_is_recorded() {
    let head: &[u8] = b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let stream = [
        head,
        b"4\r\nabcd\r\n4\nabcd\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    ]
    .concat();
    for split in [1, 5, stream.len()] {
        let mut guard = guard();
        let mut passed = 0;
        for piece in stream.chunks(split) {
            if guard.refusal.is_some() {
                break;
            }
            passed += guard.follow(piece);
        }
        // Up to the LF that ends the second size line without its CR.
        assert_eq!(passed, head.len() + 10, "pieces of {split}");
        assert_eq!(
            guard.refusal.as_deref(),
            Some(&b""[..]),
            "nothing of our own to write"
        );
        assert_eq!(guard.malformed_body().fault(), Some(ChunkFault::SizeLine));
    }
}

#[tokio::test]
async fn each_refusal_is_named() {
    let cases: [(&[u8], &str); 8] = [
        (b"NOT HTTP AT ALL\r\n\r\n", "400 Bad Request"),
        (b"GET / HTTP/1.1\r\n\r\n", "malformed_request"),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "malformed_request",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "ambiguous_framing",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
            "ambiguous_framing",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            "ambiguous_framing",
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "ambiguous_framing",
        ),
        (b"POST / HTTP/1.0\r\n\r\n", "411 Length Required"),
    ];
    for (head, expected) in cases {
        let (passed, refusal) = feed(&[head]);
        assert_eq!(passed, 0, "{head:?}");
        let refusal = refusal.unwrap_or_default();
        assert!(refusal.contains(expected), "{head:?}: {refusal}");
    }
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let pieces: Vec<&[u8]> = huge.as_bytes().chunks(1000).collect();
    let (_, refusal) = feed(&pieces);
    assert!(refusal.unwrap().contains("431"));
    // A small head with too many fields is named for that, not for its size.
    let fields: String = (0..97).map(|i| format!("X-{i}: v\r\n")).collect();
    let crowded = format!("GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n");
    let refusal = feed(&[crowded.as_bytes()]).1.unwrap();
    assert!(refusal.starts_with("HTTP/1.1 431 "), "{refusal}");
    assert!(
        refusal.contains("more than the 96 header fields"),
        "{refusal}"
    );
    let allowed: String = (0..95).map(|i| format!("X-{i}: v\r\n")).collect();
    let full = format!("GET / HTTP/1.1\r\nHost: x\r\n{allowed}\r\n");
    assert_eq!(feed(&[full.as_bytes()]), (full.len(), None));
    // A request line that alone runs past the bound is named for what it is.
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    for piece in [1000, long_target.len()] {
        let pieces: Vec<&[u8]> = long_target.as_bytes().chunks(piece).collect();
        let (_, refusal) = feed(&pieces);
        let refusal = refusal.unwrap();
        assert!(
            refusal.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{refusal}"
        );
        assert!(refusal.contains(r#""error":"uri_too_long""#), "{refusal}");
    }
}

#[tokio::test]
async fn tunnels_are_not_followed() {
    let stream: &[u8] =
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Content-Length: 5\r\n\r\nhelloNOT A HEAD\r\n\r\n";
    assert_eq!(feed(&[stream]), (stream.len(), None));
}

#[tokio::test]
async fn a_head_that_trickles_past_the_timeout_is_refused_on_any_request() {
    let (client, server) = tokio::io::duplex(1024);
    let mut guard = HeadGuard::new(server, timeouts(Duration::from_millis(100)));
    let mut client = client;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut read = vec![0u8; 1024];
    let n = guard.read(&mut read).await.unwrap();
    assert!(n > 0);
    // The second head never completes: the reader sees the end after the timeout...
    let started = std::time::Instant::now();
    assert_eq!(guard.read(&mut read).await.unwrap(), 0);
    assert!(started.elapsed() >= Duration::from_millis(90));
    // ...and the shutdown delivers the 408.
    guard.shutdown().await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

/// Reads from `guard` into `passed` until it makes the reader wait.
async fn read_until_waiting(guard: &mut HeadGuard<tokio::io::DuplexStream>, passed: &mut Vec<u8>) {
    let mut chunk = [0u8; 100];
    while let Ok(read) =
        tokio::time::timeout(Duration::from_millis(50), guard.read(&mut chunk)).await
    {
        let read = read.expect("the guard reads");
        assert!(read > 0, "the guard ended the stream");
        passed.extend_from_slice(&chunk[..read]);
    }
}

#[tokio::test]
async fn pipelined_heads_wait_while_the_answers_before_them_are_not_out() {
    use tokio::io::AsyncWriteExt;
    const REQUEST: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let mut guard = HeadGuard::new(server, timeouts(Duration::from_secs(5)));
    let sent = REQUEST.repeat(40);
    client.write_all(&sent).await.unwrap();
    let heads = |passed: &[u8]| passed.windows(4).filter(|w| w == b"GET ").count();
    let mut passed = Vec::new();
    read_until_waiting(&mut guard, &mut passed).await;
    assert_eq!(heads(&passed), 16, "no answer has gone out yet");
    // A write the socket takes only in part leaves the pipeline closed.
    let too_large = vec![b'x'; 2 << 20];
    assert!(guard.write(&too_large).await.unwrap() < too_large.len());
    read_until_waiting(&mut guard, &mut passed).await;
    assert_eq!(heads(&passed), 16, "the write did not go out whole");
    // The client reads what was written; the next write goes out whole and opens it again.
    let mut drained = vec![0u8; 2 << 20];
    let _ = client.read(&mut drained).await.unwrap();
    guard.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    read_until_waiting(&mut guard, &mut passed).await;
    assert_eq!(heads(&passed), 32);
    guard.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
    read_until_waiting(&mut guard, &mut passed).await;
    assert_eq!(passed, sent, "every byte passed on once, in order");
}
