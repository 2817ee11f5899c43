//! HTTP/2 header blocks bounded like HTTP/1 heads: follows the frames a client sends (RFC 9113
//! section 4.1) and measures each header block, a HEADERS frame and the CONTINUATION frames
//! after it. h2 buffers a block until its end up to its header list limit (16 MiB by default;
//! lowering it would also replace our JSON 431 for decoded lists with h2's empty one), so a
//! client repeating CONTINUATION frames (the 2024 "CONTINUATION flood") could make each of its
//! connections hold about 20 MiB. Blocks are measured as sent, compressed: an HPACK encoder
//! uses Huffman coding only where it shortens a value, so a block never needs more bytes than
//! the head it encodes. What a block decodes to is bounded per request (`proxy::request_filter`).

use super::head_check::{MAX_HEAD_BYTES, Violation};

const PREFACE_BYTES: usize = 24;
const FRAME_HEADER_BYTES: usize = 9;
const HEADERS: u8 = 0x1;
const PUSH_PROMISE: u8 = 0x5;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

/// Where in the client's frames the next byte belongs.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeaderBlocks {
    /// Bytes of the connection preface still to come.
    preface: usize,
    /// The frame header being collected, and how much of it has arrived.
    header: [u8; FRAME_HEADER_BYTES],
    collected: usize,
    /// Payload bytes of the current frame still to come.
    payload: usize,
    /// Bytes of the header block in progress, until a frame with END_HEADERS ends it.
    block: Option<usize>,
}

impl HeaderBlocks {
    pub(super) fn new() -> Self {
        Self {
            preface: PREFACE_BYTES,
            header: [0; FRAME_HEADER_BYTES],
            collected: 0,
            payload: 0,
            block: None,
        }
    }

    /// Follows `data`; refuses a header block over [`MAX_HEAD_BYTES`] as soon as a frame
    /// header announces it. Malformed frames are h2's to refuse.
    pub(super) fn follow(&mut self, mut data: &[u8]) -> Result<(), Violation> {
        while !data.is_empty() {
            let used = if self.preface > 0 {
                let used = self.preface.min(data.len());
                self.preface -= used;
                used
            } else if self.payload > 0 {
                let used = self.payload.min(data.len());
                self.payload -= used;
                used
            } else {
                let used = (FRAME_HEADER_BYTES - self.collected).min(data.len());
                self.header[self.collected..self.collected + used].copy_from_slice(&data[..used]);
                self.collected += used;
                if self.collected == FRAME_HEADER_BYTES {
                    self.collected = 0;
                    self.frame_header()?;
                }
                used
            };
            data = &data[used..];
        }
        Ok(())
    }

    fn frame_header(&mut self) -> Result<(), Violation> {
        let [l0, l1, l2, kind, flags, ..] = self.header;
        let length = u32::from_be_bytes([0, l0, l1, l2]) as usize;
        self.payload = length;
        let block = match (kind, self.block) {
            (HEADERS | PUSH_PROMISE, _) => length,
            (CONTINUATION, Some(before)) => before + length,
            _ => return Ok(()),
        };
        if block > MAX_HEAD_BYTES {
            return Err(Violation::TooLarge);
        }
        self.block = (flags & END_HEADERS == 0).then_some(block);
        Ok(())
    }

    /// Whether a header block has begun and not ended: the head guard times it like an HTTP/1
    /// head, since h2 would wait for its end as long as the client answers pings.
    pub(super) fn in_block(&self) -> bool {
        self.block.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(kind: u8, flags: u8, length: usize) -> Vec<u8> {
        let mut frame = (length as u32).to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags, 0, 0, 0, 1]);
        frame.resize(FRAME_HEADER_BYTES + length, b'x');
        frame
    }

    /// Feeds `stream` in reads of `piece` bytes; the result of the first refusal, if any.
    fn feed(stream: &[u8], piece: usize) -> Result<(), Violation> {
        let mut blocks = HeaderBlocks::new();
        stream
            .chunks(piece)
            .try_for_each(|read| blocks.follow(read))
    }

    fn connection(frames: &[Vec<u8>]) -> Vec<u8> {
        [PREFACE.to_vec(), frames.concat()].concat()
    }

    #[test]
    fn blocks_within_the_bound_pass_in_reads_of_any_size() {
        let settings = frame(0x4, 0, 6);
        let small = frame(HEADERS, END_HEADERS, 40);
        // 4 x 16,000 bytes: one block just under 64 KiB, then a large DATA frame.
        let split = [
            frame(HEADERS, 0, 16_000),
            frame(CONTINUATION, 0, 16_000),
            frame(CONTINUATION, 0, 16_000),
            frame(CONTINUATION, END_HEADERS, 16_000),
        ];
        let data = frame(0x0, 0, MAX_HEAD_BYTES * 4);
        let stream = connection(&[&[settings, small][..], &split, &[data]].concat());
        for piece in [1, 7, 9, 4096, stream.len()] {
            assert_eq!(feed(&stream, piece), Ok(()), "reads of {piece}");
        }
    }

    #[test]
    fn a_block_growing_past_the_bound_is_refused_at_the_frame_header_that_crosses_it() {
        let mut frames = vec![frame(HEADERS, 0, 16_000)];
        frames.extend((0..3).map(|_| frame(CONTINUATION, 0, 16_000)));
        let within = connection(&frames);
        assert_eq!(feed(&within, 4096), Ok(()));
        // The fifth frame's header alone is enough to refuse it.
        let mut crossing = within.clone();
        crossing.extend(&frame(CONTINUATION, 0, 16_000)[..FRAME_HEADER_BYTES]);
        for piece in [1, 4096] {
            assert_eq!(feed(&crossing, piece), Err(Violation::TooLarge));
        }
    }

    #[test]
    fn each_block_is_measured_on_its_own() {
        let frames: Vec<_> = (0..100)
            .map(|_| frame(HEADERS, END_HEADERS, 16_000))
            .collect();
        assert_eq!(feed(&connection(&frames), 4096), Ok(()));
        let mut blocks = HeaderBlocks::new();
        blocks
            .follow(&connection(&[frame(HEADERS, 0, 10)]))
            .unwrap();
        assert!(blocks.in_block());
        blocks
            .follow(&frame(CONTINUATION, END_HEADERS, 10))
            .unwrap();
        assert!(!blocks.in_block());
        let one_huge_frame = frame(HEADERS, END_HEADERS, MAX_HEAD_BYTES + 1);
        assert_eq!(
            feed(&connection(&[one_huge_frame]), 4096),
            Err(Violation::TooLarge)
        );
    }
}
