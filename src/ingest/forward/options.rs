//! The options element of a Forward message, read as leniently as Fluent Bit's forward input
//! reads it: every key is decoded here, and [`super::message::parse`] decides per mode which
//! ones apply.
//!
//! Refused outright (Fluent Bit closes the connection for these too): options that are not a
//! map or nil, a `chunk` that is not a str or bin. Everything else that is odd is recorded, not
//! refused: a `size` that is not a count, a `compressed` that names nothing known, a
//! `fluent_signal` that is not 0, 1 or 2 (refused later, in PackedForward only, as Fluent Bit
//! does). Unknown keys and non-string keys are ignored; when a known key repeats, its first
//! occurrence counts.

use bytes::Bytes;

use super::message::MessageError;
use super::payload::Compression;
use crate::render::msgpack::{next_head, peek_head, Head};
use crate::render::scan::skip;
use crate::signal::Signal;

/// The `chunk` option: its msgpack encoding (echoed verbatim in the ack) and its bytes.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// The value's msgpack encoding, as sent.
    pub encoded: Bytes,
    /// The value's bytes.
    pub token: Bytes,
}

/// What `compressed` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compressed {
    /// `"gzip"`, `"zstd"`, or `"text"` (none).
    Named(Compression),
    /// Another string, or not a string: the payload's first bytes decide.
    Unrecognised,
}

/// What `fluent_signal` said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalOption {
    /// 0, 1 or 2.
    Known(Signal),
    /// Another integer.
    Unknown(i128),
    /// Not an integer.
    NotAnInteger,
}

/// The options element, decoded.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `chunk`: the sender waits for `{"ack": chunk}`.
    pub chunk: Option<Chunk>,
    /// `size`, when it is a non-negative integer (advisory).
    pub size: Option<u64>,
    /// `size` was present but not a non-negative integer.
    pub size_unusable: bool,
    /// `compressed`.
    pub compressed: Option<Compressed>,
    /// `fluent_signal`.
    pub signal: Option<SignalOption>,
    /// `metadata`, as its raw msgpack (only Message mode uses it).
    pub metadata: Option<Bytes>,
}

impl Options {
    /// Reads the options element from the front of `cur` (a slice of `frame`).
    pub fn parse(cur: &mut &[u8], frame: &Bytes) -> Result<Self, MessageError> {
        let n = match next_head(cur)? {
            Head::Map(n) => n,
            // The Go fluent-logger (Docker's fluentd log driver) sends nil when it has no
            // options; Fluent Bit accepts it as "no options".
            Head::Nil => return Ok(Options::default()),
            _ => return Err(MessageError::Shape("the options must be a map or nil")),
        };
        let mut options = Options::default();
        let mut seen_size = false;
        for _ in 0..n {
            let key = peek_head(skip(cur)?)?;
            let encoded = skip(cur)?;
            let value = peek_head(encoded)?;
            let Head::Str(key) = key else { continue };
            match key {
                b"chunk" if options.chunk.is_none() => {
                    let (Head::Str(token) | Head::Bin(token)) = value else {
                        return Err(MessageError::BadOption {
                            name: "chunk",
                            expected: "a str or bin",
                        });
                    };
                    options.chunk = Some(Chunk {
                        encoded: frame.slice_ref(encoded),
                        token: frame.slice_ref(token),
                    });
                }
                b"size" if !seen_size => {
                    seen_size = true;
                    options.size = match value {
                        Head::Uint(v) => Some(v),
                        Head::Int(v) => u64::try_from(v).ok(),
                        _ => None,
                    };
                    options.size_unusable = options.size.is_none();
                }
                b"compressed" if options.compressed.is_none() => {
                    options.compressed = Some(match value {
                        Head::Str(b"gzip") => Compressed::Named(Compression::Gzip),
                        Head::Str(b"zstd") => Compressed::Named(Compression::Zstd),
                        Head::Str(b"text") => Compressed::Named(Compression::None),
                        _ => Compressed::Unrecognised,
                    });
                }
                b"fluent_signal" if options.signal.is_none() => {
                    let code = match value {
                        Head::Uint(v) => Some(i128::from(v)),
                        Head::Int(v) => Some(i128::from(v)),
                        _ => None,
                    };
                    options.signal = Some(match code {
                        Some(0) => SignalOption::Known(Signal::Logs),
                        Some(1) => SignalOption::Known(Signal::Metrics),
                        Some(2) => SignalOption::Known(Signal::Traces),
                        Some(other) => SignalOption::Unknown(other),
                        None => SignalOption::NotAnInteger,
                    });
                }
                b"metadata" if options.metadata.is_none() => {
                    options.metadata = Some(frame.slice_ref(encoded))
                }
                _ => {}
            }
        }
        Ok(options)
    }
}
