//! Finding where a msgpack object ends without decoding it, iteratively (hostile nesting cannot
//! overflow the stack).
//!
//! [`Scanner`] is resumable: a network reader feeds it the growing buffer of one connection and it
//! continues where it stopped, so a multi-megabyte frame arriving in small reads is scanned once,
//! not once per read. [`skip`] is the one-shot form used when the whole object is in memory.

use super::msgpack::{read_head, HeadError};
use super::{RenderError, MAX_DEPTH};

/// The outcome of scanning a buffer that starts with a msgpack object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// The buffer holds the whole object, which is this many bytes long.
    Complete(usize),
    /// More bytes are needed. The object is at least `need_at_least` bytes long in total, so
    /// scanning again before the buffer has grown to that length cannot succeed.
    Incomplete {
        /// Minimum total length of the object, in bytes from its first byte.
        need_at_least: usize,
    },
}

/// Why a buffer can never hold a valid object, whatever bytes follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// The reserved marker `0xc1` appears.
    #[error("invalid msgpack marker 0xc1")]
    Reserved,
    /// Arrays and maps are nested deeper than [`MAX_DEPTH`].
    #[error("msgpack nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Resumable measurement of one msgpack object in a buffer that grows between calls.
#[derive(Clone, Debug, Default)]
pub struct Scanner {
    /// Offset of the next head to read; everything before it has been scanned.
    pos: usize,
    /// For each open array/map, how many child objects are still to come (the innermost last).
    pending: Vec<u64>,
}

impl Scanner {
    /// A scanner positioned at the start of an object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues scanning `buf`, which must start with the same bytes as the buffer of the
    /// previous call (it may only have grown). After `Complete` or an error the scanner is reset
    /// and ready for the next object. If `buf` is shorter than what was already scanned (the
    /// caller broke the contract), the scan restarts from the beginning rather than misbehave.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Scan, ScanError> {
        if buf.len() < self.pos {
            self.reset();
        }
        let result = self.advance(buf);
        if !matches!(result, Ok(Scan::Incomplete { .. })) {
            self.reset();
        }
        result
    }

    /// Forgets any partial progress, to measure a new object.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.pending.clear();
    }

    fn advance(&mut self, buf: &[u8]) -> Result<Scan, ScanError> {
        loop {
            let rest = buf.get(self.pos..).unwrap_or_default();
            let (head, len) = match read_head(rest) {
                Ok(decoded) => decoded,
                Err(HeadError::Reserved) => return Err(ScanError::Reserved),
                Err(HeadError::Truncated { needed }) => {
                    // Every object still to come after this one needs at least one byte. Each
                    // open container's count includes the child now being read (the head
                    // that is cut off, or the container open inside it), so that one is not
                    // a later object.
                    let later: u64 = self
                        .pending
                        .iter()
                        .fold(0u64, |sum, &left| sum.saturating_add(left - 1));
                    let later = usize::try_from(later).unwrap_or(usize::MAX);
                    let need_at_least = self.pos.saturating_add(needed).saturating_add(later);
                    return Ok(Scan::Incomplete { need_at_least });
                }
            };
            self.pos += len;
            let children = head.child_count();
            if children > 0 {
                if self.pending.len() >= MAX_DEPTH {
                    return Err(ScanError::TooDeep);
                }
                self.pending.push(children);
                continue;
            }
            // A leaf (or empty container) completed: close every container it completes.
            loop {
                match self.pending.last_mut() {
                    None => return Ok(Scan::Complete(self.pos)),
                    Some(left) if *left > 1 => {
                        *left -= 1;
                        break;
                    }
                    Some(_) => {
                        self.pending.pop();
                    }
                }
            }
        }
    }
}

/// Advances `input` past one complete msgpack object and returns that object's bytes.
///
/// It tracks only a count of outstanding objects, so it neither recurses nor allocates, and it
/// does not enforce [`MAX_DEPTH`]: skipping deep data is harmless, rendering it is what the cap
/// protects.
pub fn skip<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], RenderError> {
    let whole: &'a [u8] = input;
    let mut pos = 0usize;
    let mut outstanding: u64 = 1;
    while outstanding > 0 {
        let rest = whole.get(pos..).unwrap_or_default();
        let (head, len) = read_head(rest)?;
        pos += len;
        outstanding = (outstanding - 1).saturating_add(head.child_count());
    }
    let (object, after) = whole.split_at(pos);
    *input = after;
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[1, {"a": [2, 3]}, "xyz"]`
    const NESTED: &[u8] = &[
        0x93, 0x01, 0x81, 0xa1, b'a', 0x92, 0x02, 0x03, 0xa3, b'x', b'y', b'z',
    ];

    #[test]
    fn complete_object_length() {
        let mut s = Scanner::new();
        assert_eq!(s.scan(NESTED), Ok(Scan::Complete(NESTED.len())));
        let mut with_tail = NESTED.to_vec();
        with_tail.extend_from_slice(&[0xc0, 0xc0]);
        assert_eq!(s.scan(&with_tail), Ok(Scan::Complete(NESTED.len())));
        assert_eq!(s.scan(&[0x05]), Ok(Scan::Complete(1)));
        assert_eq!(s.scan(&[0x90]), Ok(Scan::Complete(1)));
        assert_eq!(s.scan(&[0x80, 0x01]), Ok(Scan::Complete(1)));
    }

    #[test]
    fn every_prefix_is_incomplete_and_resumable() {
        for cut in 0..NESTED.len() {
            let mut s = Scanner::new();
            match s.scan(&NESTED[..cut]) {
                Ok(Scan::Incomplete { need_at_least }) => {
                    assert!(
                        need_at_least > cut && need_at_least <= NESTED.len(),
                        "cut {cut}: {need_at_least}"
                    );
                }
                other => panic!("cut {cut}: {other:?}"),
            }
            assert_eq!(
                s.scan(NESTED),
                Ok(Scan::Complete(NESTED.len())),
                "resume after cut {cut}"
            );
        }
    }

    #[test]
    fn need_at_least_covers_declared_payload() {
        let mut frame = vec![0x92, 0xa1, b't', 0xc6, 0x00, 0x10, 0x00, 0x00];
        let total = frame.len() + 0x10_0000;
        assert_eq!(
            Scanner::new().scan(&frame),
            Ok(Scan::Incomplete {
                need_at_least: total
            })
        );
        frame.resize(total, 0);
        assert_eq!(Scanner::new().scan(&frame), Ok(Scan::Complete(total)));
    }

    #[test]
    fn need_at_least_counts_missing_elements() {
        // An array of 1000 elements with only 10 present needs at least 990 more bytes.
        let mut buf = vec![0xdc, 0x03, 0xe8];
        buf.extend(std::iter::repeat_n(0x01, 10));
        assert_eq!(
            Scanner::new().scan(&buf),
            Ok(Scan::Incomplete {
                need_at_least: 3 + 1000
            })
        );
    }

    #[test]
    fn need_at_least_is_exact_inside_nested_containers() {
        // `["t", ["abc"]]` cut inside "abc": the outer array's one remaining child is the inner
        // array already open, so the string's end is the frame's end (the scan once said 9, and
        // a framer waiting for that ninth byte stalled a complete frame).
        let frame = [0x92, 0xa1, b't', 0x91, 0xa3, b'a', b'b', b'c'];
        for cut in 5..frame.len() {
            assert_eq!(
                Scanner::new().scan(&frame[..cut]),
                Ok(Scan::Incomplete { need_at_least: 8 }),
                "cut {cut}"
            );
        }
        // `[[1, 2], 3]` cut after `[1,`: 2 and 3 are still to come, one byte each.
        assert_eq!(
            Scanner::new().scan(&[0x92, 0x92, 0x01]),
            Ok(Scan::Incomplete { need_at_least: 5 })
        );
    }

    #[test]
    fn invalid_input() {
        assert_eq!(
            Scanner::new().scan(&[0x92, 0x01, 0xc1]),
            Err(ScanError::Reserved)
        );
        let deep = vec![0x91; MAX_DEPTH + 1];
        assert_eq!(Scanner::new().scan(&deep), Err(ScanError::TooDeep));
        let mut ok = vec![0x91; MAX_DEPTH];
        ok.push(0xc0);
        assert_eq!(Scanner::new().scan(&ok), Ok(Scan::Complete(MAX_DEPTH + 1)));
    }

    #[test]
    fn shrunk_buffer_restarts() {
        let mut s = Scanner::new();
        assert!(matches!(s.scan(&NESTED[..8]), Ok(Scan::Incomplete { .. })));
        assert!(matches!(s.scan(&NESTED[..2]), Ok(Scan::Incomplete { .. })));
        assert_eq!(s.scan(NESTED), Ok(Scan::Complete(NESTED.len())));
    }

    #[test]
    fn skip_advances_past_one_object() {
        let owned = [NESTED, &[0x07]].concat();
        let mut input: &[u8] = &owned;
        assert_eq!(skip(&mut input), Ok(NESTED));
        assert_eq!(input, &[0x07]);
        let mut truncated: &[u8] = &NESTED[..5];
        assert_eq!(skip(&mut truncated), Err(RenderError::Truncated));
        let mut huge: &[u8] = &[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(skip(&mut huge), Err(RenderError::Truncated));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// The resumable scanner, fed in two pieces, agrees with the one-shot skip.
        #[test]
        fn scanner_agrees_with_skip(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..128), cut in 0usize..128) {
            let cut = cut.min(bytes.len());
            let mut scanner = Scanner::new();
            let first = scanner.scan(&bytes[..cut]);
            let whole = match first {
                Ok(Scan::Incomplete { need_at_least }) => {
                    proptest::prop_assert!(need_at_least > cut);
                    let whole = scanner.scan(&bytes);
                    // A lower bound: never more than the object turns out to be.
                    if let Ok(Scan::Complete(len)) = whole {
                        proptest::prop_assert!(need_at_least <= len, "{} > {}", need_at_least, len);
                    }
                    whole
                }
                other => other,
            };
            let mut input = bytes.as_slice();
            match (whole, skip(&mut input)) {
                (Ok(Scan::Complete(len)), Ok(object)) => proptest::prop_assert_eq!(len, object.len()),
                (Ok(Scan::Incomplete { need_at_least }), Err(RenderError::Truncated)) => {
                    proptest::prop_assert!(need_at_least > bytes.len());
                }
                (Err(ScanError::Reserved), Err(RenderError::InvalidMarker)) | (Err(ScanError::TooDeep), _) => {}
                (scan, skipped) => proptest::prop_assert!(false, "scan {:?} vs skip {:?}", scan, skipped),
            }
        }
    }
}
