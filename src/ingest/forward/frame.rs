//! Framing: where each Forward message ends in a connection's byte stream.
//!
//! Every Forward message is exactly one msgpack object, so a frame is one complete object. A
//! connection keeps one [`Framer`] and asks it, each time bytes arrive, whether the buffer now
//! starts with a complete frame:
//!
//! ```
//! use vivo_exporter::ingest::forward::frame::Framer;
//!
//! let mut framer = Framer::new(64 << 20);
//! let mut buf: Vec<u8> = Vec::new();
//! // One message `["t", [], {}]` arrives in two reads.
//! for chunk in [&[0x93, 0xa1][..], &[b't', 0x90, 0x80][..]] {
//!     buf.extend_from_slice(chunk);
//!     while let Some(len) = framer.next_frame_len(&buf).unwrap() {
//!         let frame: Vec<u8> = buf.drain(..len).collect();
//!         assert_eq!(frame, [0x93, 0xa1, b't', 0x90, 0x80]);
//!     }
//! }
//! ```
//!
//! The scan resumes where the previous call stopped and is skipped entirely until the buffer has
//! reached the minimum length already known to be needed, so a large frame arriving in many small
//! reads costs one pass, not one per read. Nesting is capped and checked iteratively.

use crate::render::scan::{Scan, ScanError, Scanner};

/// Why the byte stream can never yield a valid frame; the connection should be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not msgpack (reserved marker) or nest deeper than the cap.
    #[error("invalid Forward frame: {0}")]
    Invalid(#[from] ScanError),
    /// The frame is, or is already known to become, longer than the configured limit.
    #[error("Forward frame of at least {need_at_least} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Minimum length of the frame.
        need_at_least: usize,
        /// The configured maximum.
        limit: usize,
    },
}

/// If `buf` starts with a complete msgpack object, its length; `None` if more bytes are needed.
///
/// A stateless convenience: it rescans from the start on every call, so network readers should
/// keep a [`Framer`] instead.
pub fn object_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    match Scanner::new().scan(buf)? {
        Scan::Complete(len) => Ok(Some(len)),
        Scan::Incomplete { .. } => Ok(None),
    }
}

/// Incremental frame detection for one connection.
#[derive(Debug)]
pub struct Framer {
    scanner: Scanner,
    max_frame: usize,
    /// The buffer cannot hold a complete frame before it is at least this long.
    need: usize,
}

impl Framer {
    /// A framer that rejects frames longer than `max_frame` bytes (pass `usize::MAX` for no
    /// limit). A frame that declares a larger payload is rejected as soon as its header arrives,
    /// before the bytes are buffered.
    pub fn new(max_frame: usize) -> Self {
        Self {
            scanner: Scanner::new(),
            max_frame,
            need: 0,
        }
    }

    /// The length the current frame is already known to reach (0 when nothing is known yet),
    /// never more than the limit: lets the reader reserve room for the whole frame at once
    /// instead of growing (and copying) its buffer read after read.
    pub fn known_frame_len(&self) -> usize {
        self.need
    }

    /// Given the connection's unconsumed bytes (`buf` starts at the current frame and only grows
    /// between calls), returns the frame's length once it is complete. The caller then removes
    /// that many bytes from the front of its buffer; the next call looks for the following frame.
    pub fn next_frame_len(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
        if buf.len() < self.need {
            return Ok(None);
        }
        let scanned = self.scanner.scan(buf);
        let (need_at_least, complete) = match scanned {
            Ok(Scan::Complete(len)) => (len, true),
            Ok(Scan::Incomplete { need_at_least }) => (need_at_least, false),
            Err(e) => {
                self.need = 0;
                return Err(e.into());
            }
        };
        if need_at_least > self.max_frame {
            self.scanner.reset();
            self.need = 0;
            return Err(FrameError::TooLarge {
                need_at_least,
                limit: self.max_frame,
            });
        }
        if complete {
            self.need = 0;
            Ok(Some(need_at_least))
        } else {
            self.need = need_at_least;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::MAX_DEPTH;

    /// `["app", [[1, {"k": "v"}]], {"chunk": "c"}]`
    fn message() -> Vec<u8> {
        let mut v = vec![
            0x93, 0xa3, b'a', b'p', b'p', 0x91, 0x92, 0x01, 0x81, 0xa1, b'k', 0xa1, b'v',
        ];
        v.extend_from_slice(&[0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa1, b'c']);
        v
    }

    #[test]
    fn stateless_object_len() {
        let m = message();
        assert_eq!(object_len(&m), Ok(Some(m.len())));
        assert_eq!(object_len(&m[..m.len() - 1]), Ok(None));
        assert_eq!(object_len(&[]), Ok(None));
        assert_eq!(
            object_len(&[0x92, 0xc1]),
            Err(FrameError::Invalid(ScanError::Reserved))
        );
        assert_eq!(
            object_len(&vec![0x91; MAX_DEPTH + 1]),
            Err(FrameError::Invalid(ScanError::TooDeep))
        );
    }

    #[test]
    fn byte_by_byte_arrival_of_back_to_back_frames() {
        let m = message();
        let stream = [m.clone(), m.clone(), vec![0x92, 0xa1, b'x']].concat();
        let mut framer = Framer::new(1 << 20);
        let mut buf = Vec::new();
        let mut frames = Vec::new();
        for &b in &stream {
            buf.push(b);
            while let Some(len) = framer.next_frame_len(&buf).expect("valid") {
                frames.push(buf.drain(..len).collect::<Vec<u8>>());
            }
        }
        assert_eq!(frames, vec![m.clone(), m]);
        assert_eq!(buf, [0x92, 0xa1, b'x']);
    }

    #[test]
    fn large_payload_is_not_rescanned_until_complete() {
        // ["t", bin32(1 MiB)]
        let mut frame = vec![0x92, 0xa1, b't', 0xc6, 0x00, 0x10, 0x00, 0x00];
        let total = frame.len() + (1 << 20);
        let mut framer = Framer::new(2 << 20);
        assert_eq!(framer.next_frame_len(&frame), Ok(None));
        assert_eq!(framer.need, total);
        frame.resize(total - 1, 0);
        assert_eq!(framer.next_frame_len(&frame), Ok(None));
        frame.push(0);
        assert_eq!(framer.next_frame_len(&frame), Ok(Some(total)));
    }

    #[test]
    fn oversized_frames_are_rejected_from_their_header() {
        let header = [0x92, 0xa1, b't', 0xc6, 0x00, 0x10, 0x00, 0x00];
        let mut framer = Framer::new(4096);
        assert_eq!(
            framer.next_frame_len(&header),
            Err(FrameError::TooLarge {
                need_at_least: header.len() + (1 << 20),
                limit: 4096
            })
        );
        // A complete frame over the limit is rejected too.
        let mut framer = Framer::new(2);
        assert!(matches!(
            framer.next_frame_len(&[0x92, 0x01, 0x02, 0x03]),
            Err(FrameError::TooLarge { .. })
        ));
    }
}
