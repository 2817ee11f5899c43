//! Property tests of the hand-written HTTP/1.1 response framing (`response.rs` heads,
//! `body_decoder.rs` bodies): every head and body, split at every byte, cut short anywhere or
//! with any byte changed, decodes to the same message, waits for more, or fails cleanly; it
//! never panics, never reads past the message and never invents bytes. These are what keep our
//! transport instead of hyper's (balancer/README.md, "The upstream transport").

use actix_web::http::Method;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::body_decoder::{BodyDecoder, Decoded};
use super::response::{BodyFraming, parse_head};

/// What feeding a decoder gave: the body bytes, whether it ended, and the bytes left after.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    ended: bool,
    left: usize,
    failed: bool,
}

/// Feeds `pieces` to a decoder for `framing` as a socket would deliver them.
fn feed(framing: BodyFraming, pieces: &[&[u8]]) -> Outcome {
    let mut decoder = BodyDecoder::new(framing);
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Decoded::Data(data)) => body.extend_from_slice(&data),
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::End) => {
                    let left = buf.len();
                    return Outcome {
                        body,
                        ended: true,
                        left,
                        failed: false,
                    };
                }
                Err(_) => {
                    return Outcome {
                        body,
                        ended: false,
                        left: buf.len(),
                        failed: true,
                    };
                }
            }
        }
    }
    Outcome {
        body,
        ended: false,
        left: buf.len(),
        failed: false,
    }
}

/// A body with its chunked encoding: chunk sizes, extensions and trailers drawn at random.
fn chunked_body() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let chunk = (
        prop::collection::vec(any::<u8>(), 1..200),
        any::<bool>(),
        any::<bool>(),
    );
    (prop::collection::vec(chunk, 0..8), any::<bool>()).prop_map(|(chunks, trailers)| {
        let (mut body, mut wire) = (Vec::new(), Vec::new());
        for (data, extension, upper) in chunks {
            let size = if upper {
                format!("{:X}", data.len())
            } else {
                format!("{:x}", data.len())
            };
            wire.extend_from_slice(size.as_bytes());
            if extension {
                wire.extend_from_slice(b";name=\"value\"");
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&data);
            wire.extend_from_slice(b"\r\n");
            body.extend_from_slice(&data);
        }
        wire.extend_from_slice(b"0\r\n");
        if trailers {
            wire.extend_from_slice(b"Checksum: abc\r\nX-Other: 1\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        (body, wire)
    })
}

/// A response head with its framing, and the body bytes that follow it.
fn response() -> impl Strategy<Value = (Vec<u8>, BodyFraming)> {
    let framing = prop_oneof![
        (0u64..100_000).prop_map(BodyFraming::Length),
        Just(BodyFraming::Chunked),
        Just(BodyFraming::UntilClose),
    ];
    let field = ("[A-Za-z][A-Za-z0-9-]{0,20}", "[ -~]{0,40}");
    (framing, prop::collection::vec(field, 0..10), 200u16..600).prop_map(
        |(framing, fields, status)| {
            let mut head = format!("HTTP/1.1 {status} Whatever\r\n");
            for (name, value) in fields {
                let name = name.to_ascii_lowercase();
                // Framing fields come only from the drawn framing.
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    head.push_str(&format!("{name}: {}\r\n", value.trim()));
                }
            }
            match framing {
                BodyFraming::Length(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
                BodyFraming::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
                _ => head.push_str("Connection: close\r\n"),
            }
            head.push_str("\r\n");
            (head.into_bytes(), framing)
        },
    )
}

/// The statuses whose answer has no body whatever the head says (RFC 9112 section 6.3).
fn bodiless(status: u16) -> bool {
    status == 204 || status == 304
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_chunked_body_split_at_every_byte_decodes_whole((body, wire) in chunked_body()) {
        let whole = feed(BodyFraming::Chunked, &[&wire]);
        prop_assert_eq!(&whole, &Outcome { body: body.clone(), ended: true, left: 0, failed: false });
        for cut in 0..=wire.len() {
            let (front, back) = wire.split_at(cut);
            prop_assert_eq!(&feed(BodyFraming::Chunked, &[front, back]), &whole, "cut at {}", cut);
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(&feed(BodyFraming::Chunked, &bytes), &whole, "one byte at a time");
    }

    #[test]
    fn bytes_after_a_body_are_left_for_the_next_response(
        (body, wire) in chunked_body(),
        next in prop::collection::vec(any::<u8>(), 1..50),
    ) {
        let mut stream = wire.clone();
        stream.extend_from_slice(&next);
        let outcome = feed(BodyFraming::Chunked, &[&stream]);
        prop_assert_eq!(outcome, Outcome { body: body.clone(), ended: true, left: next.len(), failed: false });
        let length = BodyFraming::Length(body.len() as u64);
        let mut sized = body.clone();
        sized.extend_from_slice(&next);
        prop_assert_eq!(feed(length, &[&sized]), Outcome { body, ended: true, left: next.len(), failed: false });
    }

    #[test]
    fn a_body_cut_short_anywhere_never_ends((body, wire) in chunked_body()) {
        for cut in 0..wire.len() {
            let outcome = feed(BodyFraming::Chunked, &[&wire[..cut]]);
            prop_assert!(!outcome.ended && !outcome.failed, "cut at {}: {:?}", cut, outcome);
            prop_assert!(body.starts_with(&outcome.body), "cut at {}: bytes invented", cut);
            let mut decoder = BodyDecoder::new(BodyFraming::Chunked);
            let mut buf = BytesMut::from(&wire[..cut]);
            while let Ok(Decoded::Data(_)) = decoder.decode(&mut buf) {}
            prop_assert!(decoder.end_of_stream().is_err(), "a close at {} is an error", cut);
        }
        for cut in 0..body.len() {
            let outcome = feed(BodyFraming::Length(body.len() as u64), &[&body[..cut]]);
            prop_assert!(!outcome.ended && outcome.body == body[..cut]);
        }
    }

    #[test]
    fn a_changed_byte_decodes_or_fails_but_never_overreads(
        (_, wire) in chunked_body(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut wire = wire;
        let at = at.index(wire.len());
        wire[at] = value;
        let outcome = feed(BodyFraming::Chunked, &[&wire]);
        prop_assert!(outcome.body.len() + outcome.left <= wire.len());
        prop_assert!(!(outcome.ended && outcome.failed));
    }

    #[test]
    fn a_response_head_split_at_every_byte_parses_once_complete(
        (head, framing) in response(),
        tail in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let status: u16 = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
        let mut stream = head.clone();
        stream.extend_from_slice(&tail);
        let (length, parsed) = parse_head(&stream, &Method::GET)
            .expect("a valid head")
            .expect("a complete head");
        prop_assert_eq!(length, head.len());
        let expected = if bodiless(status) { BodyFraming::Empty } else { framing };
        prop_assert_eq!(parsed.framing, expected);
        for cut in 0..head.len() {
            prop_assert!(
                matches!(parse_head(&head[..cut], &Method::GET), Ok(None)),
                "a head cut at {} waits for more", cut
            );
        }
    }

    #[test]
    fn a_response_head_with_a_changed_byte_is_parsed_or_refused_within_its_bytes(
        (head, _) in response(),
        at in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut head = head;
        let at = at.index(head.len());
        head[at] = value;
        if let Ok(Some((length, _))) = parse_head(&head, &Method::GET) {
            prop_assert!(length <= head.len());
        }
    }
}

#[test]
fn a_sized_body_hands_over_exactly_its_length() {
    let mut decoder = BodyDecoder::new(BodyFraming::Length(3));
    let mut buf = BytesMut::from(&b"abcdef"[..]);
    assert_eq!(
        decoder.decode(&mut buf).unwrap(),
        Decoded::Data(Bytes::from_static(b"abc"))
    );
    assert!(decoder.is_complete());
    assert_eq!(decoder.decode(&mut buf).unwrap(), Decoded::End);
    assert_eq!(&buf[..], b"def");
}
