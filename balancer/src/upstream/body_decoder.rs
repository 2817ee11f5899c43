//! The framing of a response body, without I/O: given the bytes buffered so far, what part of
//! them is body, whether more are needed, and where the body ends (RFC 9112 sections 6 and 7).
//! Kept apart from the socket so it can be tried on every split, cut and corruption of a body
//! (`framing_properties.rs`).

use std::io;

use bytes::{Buf, Bytes, BytesMut};

use super::response::BodyFraming;

/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// What the buffered bytes gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes, taken from the buffer.
    Data(Bytes),
    /// Nothing more can be decoded until more bytes arrive.
    NeedMore,
    /// The body is complete; bytes still buffered follow it.
    End,
}

#[derive(Debug, Clone, Copy)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// This many body bytes are still to come.
    Length(u64),
    UntilClose,
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    Trailers,
    Done,
}

impl BodyDecoder {
    pub fn new(framing: BodyFraming) -> Self {
        let state = match framing {
            BodyFraming::Empty => State::Length(0),
            BodyFraming::Length(n) => State::Length(n),
            BodyFraming::Chunked => State::ChunkSize,
            BodyFraming::UntilClose => State::UntilClose,
        };
        Self { state }
    }

    /// Decodes what it can from the front of `buf`. After an error the body cannot go on.
    pub fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Decoded> {
        loop {
            match self.state {
                State::Done | State::Length(0) => {
                    self.state = State::Done;
                    return Ok(Decoded::End);
                }
                _ if buf.is_empty() => return Ok(Decoded::NeedMore),
                State::UntilClose => return Ok(Decoded::Data(buf.split().freeze())),
                State::Length(left) => {
                    let data = take(buf, left);
                    self.state = State::Length(left - data.len() as u64);
                    return Ok(Decoded::Data(data));
                }
                State::ChunkData(left) => {
                    let data = take(buf, left);
                    let left = left - data.len() as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(left)
                    };
                    return Ok(Decoded::Data(data));
                }
                State::ChunkSize => match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        buf.advance(used);
                        self.state = match size {
                            0 => State::Trailers,
                            size => State::ChunkData(size),
                        };
                    }
                    Ok(httparse::Status::Partial) if buf.len() < MAX_LINE => {
                        return Ok(Decoded::NeedMore);
                    }
                    _ => return Err(self.fail("invalid chunk size")),
                },
                State::ChunkEnd if buf.len() < 2 => return Ok(Decoded::NeedMore),
                State::ChunkEnd if buf.starts_with(b"\r\n") => {
                    buf.advance(2);
                    self.state = State::ChunkSize;
                }
                State::ChunkEnd => return Err(self.fail("chunk data not followed by CRLF")),
                State::Trailers => match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        buf.advance(2);
                        self.state = State::Done;
                    }
                    // Trailer fields are not forwarded (the head is already sent); skip them.
                    Some(end) => buf.advance(end + 2),
                    None if buf.len() < MAX_LINE => return Ok(Decoded::NeedMore),
                    None => return Err(self.fail("trailer line too long")),
                },
            }
        }
    }

    /// Whether the body is known to be complete without decoding further.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Length(0) | State::Done)
    }

    /// The backend closed the connection: the end of a body read until close, else an error.
    pub fn end_of_stream(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::UntilClose | State::Done => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the backend closed the connection before the end of the body",
            )),
        }
    }

    fn fail(&mut self, what: &'static str) -> io::Error {
        self.state = State::Done;
        io::Error::new(io::ErrorKind::InvalidData, what)
    }
}

/// Up to `wanted` bytes from the front of `buf`.
fn take(buf: &mut BytesMut, wanted: u64) -> Bytes {
    let n = wanted.min(buf.len() as u64) as usize;
    buf.split_to(n).freeze()
}
