//! Following a chunked request body (RFC 9112 section 7.1) byte by byte, at least as strictly as
//! actix-http's decoder. actix-http takes a malformed chunk line for an I/O error and closes the
//! connection without a word (when the body came in the same read as its head), so the guard
//! passes a body on only up to its first byte outside the grammar, ends the stream there, and
//! records why in [`MalformedBody`] for the handler's answer.

use std::cell::Cell;
use std::rc::Rc;

/// Longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;

/// What was wrong with a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkFault {
    SizeNotHex,
    SizeTooLarge,
    SizeLine,
    LineTooLong,
    DataOverrun,
    Trailer,
}

impl ChunkFault {
    pub fn describe(self) -> &'static str {
        match self {
            Self::SizeNotHex => "a chunk size is not a hexadecimal number",
            Self::SizeTooLarge => "a chunk size does not fit in 64 bits",
            Self::SizeLine => {
                "a chunk-size line holds more than the size and its extensions, or does not end \
                 in CRLF"
            }
            Self::LineTooLong => "a chunk-size or trailer line is longer than 4096 bytes",
            Self::DataOverrun => "chunk data does not end in CRLF where its size says it ends",
            Self::Trailer => "a trailer line holds a control character or does not end in CRLF",
        }
    }
}

/// A connection's record of the chunked body the guard found malformed, shared with the
/// requests' handlers as connection data: what they read next is the stream's end, and this
/// says why.
#[derive(Debug, Clone, Default)]
pub struct MalformedBody(Rc<Cell<Option<ChunkFault>>>);

impl MalformedBody {
    pub fn fault(&self) -> Option<ChunkFault> {
        self.0.get()
    }

    pub(super) fn record(&self, fault: ChunkFault) {
        self.0.set(Some(fault));
    }
}

/// Where in a chunk-size, chunk-end or trailer line the next byte belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    SizeFirst,
    Size(u64),
    SizeSpace(u64),
    Extension(u64),
    SizeLf(u64),
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Line(Line),
    Data(u64),
}

/// How far a piece of the stream took the body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Followed {
    /// All of it belongs to the body, which goes on.
    All,
    /// The body ended after this many bytes; a head follows.
    Ended(usize),
    /// The byte at this offset is the first outside the grammar.
    Fault(usize, ChunkFault),
}

#[derive(Debug)]
pub(super) struct ChunkedBody {
    state: State,
    /// Bytes of the current line so far.
    line: usize,
}

impl ChunkedBody {
    pub(super) fn new() -> Self {
        Self {
            state: State::Line(Line::SizeFirst),
            line: 0,
        }
    }

    pub(super) fn follow(&mut self, data: &[u8]) -> Followed {
        let mut at = 0;
        while at < data.len() {
            let line = match self.state {
                State::Data(left) => {
                    let used = left.min((data.len() - at) as u64);
                    at += used as usize;
                    self.state = match left - used {
                        0 => State::Line(Line::DataCr),
                        left => State::Data(left),
                    };
                    continue;
                }
                State::Line(line) => line,
            };
            self.line += 1;
            if self.line > MAX_LINE {
                return Followed::Fault(at, ChunkFault::LineTooLong);
            }
            match step(line, data[at]) {
                Ok(Some(next)) => {
                    if matches!(
                        next,
                        State::Line(Line::SizeFirst | Line::TrailerStart) | State::Data(_)
                    ) {
                        self.line = 0;
                    }
                    self.state = next;
                }
                Ok(None) => return Followed::Ended(at + 1),
                Err(fault) => return Followed::Fault(at, fault),
            }
            at += 1;
        }
        Followed::All
    }
}

/// The state after `byte`; `None` once the body has ended.
fn step(line: Line, byte: u8) -> Result<Option<State>, ChunkFault> {
    use Line::*;
    let next = match (line, byte) {
        (SizeFirst, _) => Size(hex(byte).ok_or(ChunkFault::SizeNotHex)?),
        (Size(size), _) if let Some(digit) = hex(byte) => Size(
            size.checked_mul(16)
                .and_then(|size| size.checked_add(digit))
                .ok_or(ChunkFault::SizeTooLarge)?,
        ),
        (Size(size) | SizeSpace(size), b' ' | b'\t') => SizeSpace(size),
        (Size(size) | SizeSpace(size), b';') => Extension(size),
        (Size(size) | SizeSpace(size) | Extension(size), b'\r') => SizeLf(size),
        (Extension(size), _) if !is_control(byte) => Extension(size),
        (SizeLf(0), b'\n') => TrailerStart,
        (SizeLf(size), b'\n') => return Ok(Some(State::Data(size))),
        (Size(_) | SizeSpace(_) | Extension(_) | SizeLf(_), _) => {
            return Err(ChunkFault::SizeLine);
        }
        (DataCr, b'\r') => DataLf,
        (DataLf, b'\n') => SizeFirst,
        (DataCr | DataLf, _) => return Err(ChunkFault::DataOverrun),
        (TrailerStart, b'\r') => EndLf,
        (Trailer, b'\r') => TrailerLf,
        (TrailerStart | Trailer, _) if !is_control(byte) => Trailer,
        (TrailerLf, b'\n') => TrailerStart,
        (EndLf, b'\n') => return Ok(None),
        (TrailerStart | Trailer | TrailerLf | EndLf, _) => return Err(ChunkFault::Trailer),
    };
    Ok(Some(State::Line(next)))
}

fn hex(byte: u8) -> Option<u64> {
    char::from(byte).to_digit(16).map(u64::from)
}

/// A control character other than HTAB (the CR and LF that end a line are matched first).
fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow_in_pieces(body: &[u8], piece: usize) -> Followed {
        let mut chunked = ChunkedBody::new();
        let mut offset = 0;
        for part in body.chunks(piece) {
            match chunked.follow(part) {
                Followed::All => offset += part.len(),
                Followed::Ended(used) => return Followed::Ended(offset + used),
                Followed::Fault(at, fault) => return Followed::Fault(offset + at, fault),
            }
        }
        Followed::All
    }

    #[test]
    fn sound_bodies_end_where_their_last_crlf_does_in_any_pieces() {
        let bodies: [&[u8]; 5] = [
            b"0\r\n\r\n",
            b"4\r\nabcd\r\n0\r\n\r\n",
            b"A;name=\"v\"\t;x\r\n0123456789\r\n0\r\n\r\n",
            b"4 \t;ext\r\nabcd\r\n0\r\nX-Sum: 1\r\nY:\t2\r\n\r\n",
            b"00000000000000004\r\nab\r\n\r\n0\r\n\r\n",
        ];
        for body in bodies {
            for piece in [1, 2, 3, body.len()] {
                let mut stream = body.to_vec();
                stream.extend_from_slice(b"GET / HTTP/1.1\r\n");
                assert_eq!(
                    follow_in_pieces(&stream, piece),
                    Followed::Ended(body.len()),
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn each_malformed_body_stops_at_its_first_bad_byte() {
        let long_extension = format!("4;{}\r\nabcd\r\n0\r\n\r\n", "x".repeat(MAX_LINE));
        let cases: [(&[u8], usize, ChunkFault); 13] = [
            (b"\r\n", 0, ChunkFault::SizeNotHex),
            (b"0x4\r\nabcd\r\n", 1, ChunkFault::SizeLine),
            (b"-1\r\n", 0, ChunkFault::SizeNotHex),
            (b"fffffffffffffffff\r\n", 16, ChunkFault::SizeTooLarge),
            (b"4\nabcd\n0\n\n", 1, ChunkFault::SizeLine),
            (b"4 4\r\nabcd\r\n", 2, ChunkFault::SizeLine),
            (b"4;a\nb\r\nabcd\r\n", 3, ChunkFault::SizeLine),
            (b"4;a\x01\r\nabcd\r\n", 3, ChunkFault::SizeLine),
            (b"4\r\r\nabcd\r\n", 2, ChunkFault::SizeLine),
            (b"2\r\nabcd\r\n0\r\n\r\n", 5, ChunkFault::DataOverrun),
            (b"0\r\nX: 1\n\r\n", 7, ChunkFault::Trailer),
            (b"0\r\nX: 1\r\r\n", 8, ChunkFault::Trailer),
            (long_extension.as_bytes(), MAX_LINE, ChunkFault::LineTooLong),
        ];
        for (body, at, fault) in cases {
            for piece in [1, 5, body.len()] {
                assert_eq!(
                    follow_in_pieces(body, piece),
                    Followed::Fault(at, fault),
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    #[test]
    fn a_body_without_its_last_chunk_goes_on() {
        assert_eq!(follow_in_pieces(b"4\r\nab", 2), Followed::All);
        assert_eq!(follow_in_pieces(b"0\r\nX: 1\r\n", 3), Followed::All);
    }
}
