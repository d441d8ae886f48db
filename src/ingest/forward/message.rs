//! One Fluent Forward message (protocol v1 plus Fluent Bit's extensions) as a renderable batch.
//!
//! [`parse`] is cheap and runs on the connection's task: it checks the outer shape and the
//! options and keeps the parts as zero-copy slices of the frame. [`ForwardMessage::render`] does
//! the heavy work (decompression, validating every entry, JSON) and is meant for a worker thread.
//!
//! Modes, told apart by the second element:
//! - Message `[tag, time, record, options?]` (time: integer, float or EventTime); the record's
//!   metadata is `options.metadata`;
//! - Forward `[tag, [entry…], options?]`;
//! - PackedForward `[tag, bin-or-str, options?]`, the payload being concatenated entries;
//! - CompressedPackedForward: PackedForward with `options.compressed == "gzip"`; the payload may
//!   be several concatenated gzip members, all of which are decoded.
//!
//! With `fluent_signal` 1 (metrics) or 2 (traces) the packed payload is concatenated cmetrics or
//! ctraces contexts, and a Forward-mode array (Fluent Bit's `fluentd_compat on`) holds entries
//! `[time, [context…]]` (or `[time, context]`). Every context becomes one line.
//!
//! Options: `chunk` (str or bin, echoed in the ack), `size` (advisory, see below), `compressed`
//! (`"gzip"`, or `"text"`/absent for none), `fluent_signal` (0/absent logs, 1 metrics, 2
//! traces), `metadata` (a map; only used, and checked, in Message mode). Unknown keys and
//! non-string keys are ignored; when a known key repeats, its first occurrence counts.
//!
//! **`size` is advisory.** The protocol says it is the number of entries, but real producers
//! disagree: Fluent Bit 4.1's gzip path declares the entries of the original chunk (group
//! markers it then strips included), the npm `fluent-logger` 3.x declares the payload's byte
//! length. Fluent Bit's own forward input never reads it. So it never refuses a message: the
//! entries the message holds are stored, and [`RenderedCount::entries`] lets the caller count a
//! mismatch.
//!
//! **Swallowed messages.** Fluent Bit 4.1's forward output writes the entries-array header of a
//! chunk holding OTLP logs with the chunk's object count (record plus group markers) but sends
//! only the record, so the array swallows the next messages on the connection as "entries". An
//! entry shaped like a Forward message (`[str tag, …]`, 2 to 4 elements) can never be a valid
//! `[time, record]` entry, so [`parse`] sets it aside as a message of its own
//! ([`ForwardMessage::take_embedded`]) and the outer message keeps its other entries.
//!
//! Stricter than Fluent Bit, so that nothing is silently misfiled or half-stored:
//! `compressed: gzip` outside PackedForward, a non-logs signal in Message mode, unknown
//! compressions and unknown signals are errors, and one malformed entry rejects the whole
//! message (Fluent Bit keeps the entries before it and drops the rest).

use std::borrow::Cow;
use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;

use crate::render::msgpack::{next_head, peek_head, Head};
use crate::render::scan::skip;
use crate::render::time::{decode_timestamp, Timestamp};
use crate::render::{RenderError, RenderOptions, Renderer};
use crate::signal::Signal;

/// Why a Forward message was rejected. The whole message is refused (and not acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The msgpack itself, or an entry or context inside it, is malformed.
    #[error("malformed Forward message: {0}")]
    Msgpack(#[from] RenderError),
    /// The outer object is not a Forward message.
    #[error("not a Forward message: {0}")]
    Shape(&'static str),
    /// An option has a value of the wrong type.
    #[error("option `{name}` must be {expected}")]
    BadOption {
        /// The option key.
        name: &'static str,
        /// What its value must be.
        expected: &'static str,
    },
    /// `fluent_signal` is not 0, 1 or 2.
    #[error("unknown fluent_signal {0}")]
    UnknownSignal(i128),
    /// `compressed` names something other than `gzip` or `text`.
    #[error("unsupported compression {0:?}")]
    UnsupportedCompression(String),
    /// `compressed: gzip` on a mode that has no packed payload.
    #[error("compressed payloads are only valid in PackedForward mode")]
    CompressedNotPacked,
    /// Message mode carries one log record; it cannot carry metrics or traces.
    #[error("Message mode cannot carry {0}")]
    SignalInMessageMode(&'static str),
    /// The gzip payload could not be decoded.
    #[error("gzip payload: {0}")]
    Decompress(#[source] std::io::Error),
    /// The gzip payload inflates beyond the configured cap (a decompression bomb guard).
    #[error("gzip payload inflates beyond {limit} bytes")]
    DecompressedTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// Nothing to store: no entries, or only group markers. Fluent Bit refuses to store an empty
    /// text too; the message is rejected without using an ID.
    #[error("the message holds no records")]
    NoRecords,
}

/// Which of the four Forward modes a message used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `[tag, time, record, options?]`
    Message,
    /// `[tag, [entry…], options?]`
    Forward,
    /// `[tag, bin, options?]`
    PackedForward,
    /// `[tag, bin, {compressed: "gzip", …}]`
    CompressedPackedForward,
}

/// How many lines a render produced, and from how many entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderedCount {
    /// Lines written: log records, or cmetrics/ctraces contexts.
    pub lines: usize,
    /// Group-marker entries skipped (logs only).
    pub group_markers: usize,
    /// Entries the message held, group markers included, embedded messages not: what
    /// `options.size` should have said (for packed metrics and traces, the contexts).
    pub entries: u64,
}

/// A parsed Forward message whose parts are slices of the received frame.
#[derive(Clone, Debug)]
pub struct ForwardMessage {
    tag: String,
    signal: Signal,
    chunk: Option<Chunk>,
    size: Option<u64>,
    max_decompressed: usize,
    body: Body,
    /// Whole Forward messages found among the entries of a Forward-mode array, in order.
    embedded: Vec<Bytes>,
}

/// The `chunk` option: its msgpack encoding (echoed verbatim in the ack) and its bytes.
#[derive(Clone, Debug)]
struct Chunk {
    encoded: Bytes,
    token: Bytes,
}

#[derive(Clone, Debug)]
enum Body {
    /// Message mode: one record.
    Single {
        time: Timestamp,
        record: Bytes,
        metadata: Option<Bytes>,
    },
    /// Forward mode: the array's entries, concatenated, in runs of adjacent entries (one run
    /// unless embedded messages were set aside between them).
    Entries { runs: Vec<Bytes> },
    /// (Compressed)PackedForward: the payload as received.
    Packed { payload: Bytes, gzip: bool },
}

/// Parses one complete Forward frame (exactly one msgpack object), keeping slices of `frame`.
///
/// `max_decompressed` caps what a gzip payload may inflate to when the message is rendered
/// (callers pass a few times their buffer limit).
pub fn parse(frame: Bytes, max_decompressed: usize) -> Result<ForwardMessage, MessageError> {
    let mut cur: &[u8] = &frame;
    let elements = match next_head(&mut cur)? {
        Head::Array(n @ 2..=4) => n,
        _ => return Err(MessageError::Shape("expected an array of 2 to 4 elements")),
    };
    let tag = match next_head(&mut cur)? {
        Head::Str(tag) => String::from_utf8_lossy(tag).into_owned(),
        _ => return Err(MessageError::Shape("the tag must be a string")),
    };
    let mut embedded = Vec::new();
    let second = peek_head(cur)?;
    let body = match second {
        Head::Uint(_) | Head::Int(_) | Head::F32(_) | Head::F64(_) | Head::Ext(..) => {
            if elements < 3 {
                return Err(MessageError::Shape(
                    "Message mode needs [tag, time, record]",
                ));
            }
            let time = decode_timestamp(next_head(&mut cur)?)?;
            let record = frame.slice_ref(skip(&mut cur)?);
            Body::Single {
                time,
                record,
                metadata: None,
            }
        }
        Head::Array(count) => {
            if elements > 3 {
                return Err(MessageError::Shape("Forward mode has at most 3 elements"));
            }
            next_head(&mut cur)?;
            let offset = |rest: &[u8]| frame.len() - rest.len();
            let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
            for _ in 0..count {
                let start = offset(cur);
                let entry = skip(&mut cur)?;
                let end = offset(cur);
                if is_message_shaped(entry) {
                    embedded.push(frame.slice(start..end));
                    continue;
                }
                match runs.last_mut() {
                    Some(run) if run.end == start => run.end = end,
                    _ => runs.push(start..end),
                }
            }
            Body::Entries {
                runs: runs.into_iter().map(|run| frame.slice(run)).collect(),
            }
        }
        Head::Str(payload) | Head::Bin(payload) => {
            if elements > 3 {
                return Err(MessageError::Shape(
                    "PackedForward mode has at most 3 elements",
                ));
            }
            next_head(&mut cur)?;
            Body::Packed {
                payload: frame.slice_ref(payload),
                gzip: false,
            }
        }
        Head::Nil | Head::Bool(_) | Head::Map(_) => {
            return Err(MessageError::Shape(
                "the second element must be a time, an array or a bin/str",
            ));
        }
    };
    let has_options = match body {
        Body::Single { .. } => elements == 4,
        _ => elements == 3,
    };
    let options = if has_options {
        Options::parse(&mut cur, &frame)?
    } else {
        Options::default()
    };
    if !cur.is_empty() {
        return Err(MessageError::Shape("unexpected bytes after the message"));
    }
    let signal = options.signal.unwrap_or(Signal::Logs);
    let gzip = options.gzip.unwrap_or(false);
    let body = match body {
        Body::Single { time, record, .. } => {
            if signal != Signal::Logs {
                return Err(MessageError::SignalInMessageMode(signal.name()));
            }
            if gzip {
                return Err(MessageError::CompressedNotPacked);
            }
            if let Some(metadata) = &options.metadata {
                if !matches!(peek_head(metadata)?, Head::Map(_)) {
                    return Err(MessageError::BadOption {
                        name: "metadata",
                        expected: "a map",
                    });
                }
            }
            Body::Single {
                time,
                record,
                metadata: options.metadata,
            }
        }
        Body::Entries { runs } => {
            if gzip {
                return Err(MessageError::CompressedNotPacked);
            }
            Body::Entries { runs }
        }
        Body::Packed { payload, .. } => Body::Packed { payload, gzip },
    };
    Ok(ForwardMessage {
        tag,
        signal,
        chunk: options.chunk,
        size: options.size,
        max_decompressed,
        body,
        embedded,
    })
}

/// Whether an entry of a Forward-mode array is itself a whole Forward message: an array of 2
/// to 4 elements whose first is a string. A valid entry starts with a time (or `[time,
/// metadata]`), never a string, so nothing valid is ever mistaken for a message.
fn is_message_shaped(entry: &[u8]) -> bool {
    let mut cur = entry;
    matches!(next_head(&mut cur), Ok(Head::Array(2..=4)))
        && matches!(peek_head(cur), Ok(Head::Str(_)))
}

/// Whether a frame that [`parse`] refused still carries a `chunk` option, i.e. its sender waits
/// for an acknowledgement that will never come. Lenient on purpose: it only looks for a map as
/// the last element of the outer array with a `chunk` key.
pub fn requests_ack(frame: &[u8]) -> bool {
    let mut cur = frame;
    let Ok(Head::Array(n @ 1..)) = next_head(&mut cur) else {
        return false;
    };
    for _ in 1..n {
        if skip(&mut cur).is_err() {
            return false;
        }
    }
    let Ok(Head::Map(keys)) = next_head(&mut cur) else {
        return false;
    };
    for _ in 0..keys {
        match next_head(&mut cur) {
            Ok(Head::Str(b"chunk")) => return true,
            Ok(Head::Array(_) | Head::Map(_)) | Err(_) => return false,
            Ok(_) => {}
        }
        if skip(&mut cur).is_err() {
            return false;
        }
    }
    false
}

impl ForwardMessage {
    /// The message's tag (the era-A `_tag` of every log line).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Which stream the message belongs to (`options.fluent_signal`).
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Replaces the tag, for the input's `tag` and `tag_prefix` settings.
    pub fn set_tag(&mut self, tag: String) {
        self.tag = tag;
    }

    /// The Forward mode the sender used.
    pub fn mode(&self) -> Mode {
        match self.body {
            Body::Single { .. } => Mode::Message,
            Body::Entries { .. } => Mode::Forward,
            Body::Packed { gzip: false, .. } => Mode::PackedForward,
            Body::Packed { gzip: true, .. } => Mode::CompressedPackedForward,
        }
    }

    /// The declared `options.size`, if any: advisory, compare it with
    /// [`RenderedCount::entries`].
    pub fn declared_size(&self) -> Option<u64> {
        self.size
    }

    /// Takes the whole Forward messages that a miscounted Forward-mode array swallowed (see the
    /// module docs), in the order they appeared, each as the frame of a message to parse and
    /// store on its own, after this one.
    pub fn take_embedded(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.embedded)
    }

    /// The ack token (`options.chunk`), if the sender asked for an acknowledgement.
    pub fn chunk(&self) -> Option<&[u8]> {
        self.chunk.as_ref().map(|c| &c.token[..])
    }

    /// The msgpack reply `{"ack": <chunk>}` to send once the batch is accepted, echoing the chunk
    /// exactly as it was sent (same msgpack type and bytes); `None` if no ack was requested.
    pub fn ack_response(&self) -> Option<Vec<u8>> {
        let chunk = self.chunk.as_ref()?;
        let mut reply = Vec::with_capacity(5 + chunk.encoded.len());
        reply.extend_from_slice(&[0x81, 0xa3, b'a', b'c', b'k']);
        reply.extend_from_slice(&chunk.encoded);
        Some(reply)
    }

    /// Renders the batch: logs as era-A lines with this message's tag, metrics and traces as one
    /// line per context (every context). Decompresses packed payloads. On error `out` is left
    /// as it was.
    pub fn render(
        &self,
        out: &mut Vec<u8>,
        opts: RenderOptions,
    ) -> Result<RenderedCount, MessageError> {
        self.render_with(&mut Renderer::new(opts), out)
    }

    /// [`ForwardMessage::render`] with a caller-owned [`Renderer`], so a worker reuses its
    /// scratch space across messages.
    pub fn render_with(
        &self,
        renderer: &mut Renderer,
        out: &mut Vec<u8>,
    ) -> Result<RenderedCount, MessageError> {
        let start = out.len();
        let result = self.render_body(renderer, out).and_then(|count| {
            if count.lines == 0 {
                Err(MessageError::NoRecords)
            } else {
                Ok(count)
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn render_body(
        &self,
        r: &mut Renderer,
        out: &mut Vec<u8>,
    ) -> Result<RenderedCount, MessageError> {
        let mut count = RenderedCount::default();
        match &self.body {
            Body::Single {
                time,
                record,
                metadata,
            } => {
                count.entries = 1;
                if time.is_group_marker {
                    count.group_markers = 1;
                } else {
                    r.write_log_record(out, &self.tag, time.nanos, metadata.as_deref(), record)?;
                    count.lines = 1;
                }
            }
            Body::Entries { runs } => {
                for run in runs {
                    let mut rest: &[u8] = run;
                    while !rest.is_empty() {
                        match self.signal {
                            Signal::Logs => self.log_event(r, out, &mut rest, &mut count)?,
                            Signal::Metrics | Signal::Traces => {
                                count.lines += compat_entry(r, out, &mut rest)?
                            }
                        }
                        count.entries += 1;
                    }
                }
            }
            Body::Packed { payload, gzip } => {
                let data: Cow<'_, [u8]> = if *gzip {
                    Cow::Owned(gunzip(payload, self.max_decompressed)?)
                } else {
                    Cow::Borrowed(payload)
                };
                match self.signal {
                    Signal::Logs => {
                        let mut rest: &[u8] = &data;
                        while !rest.is_empty() {
                            self.log_event(r, out, &mut rest, &mut count)?;
                            count.entries += 1;
                        }
                    }
                    Signal::Metrics | Signal::Traces => {
                        if data.is_empty() {
                            return Err(MessageError::NoRecords);
                        }
                        count.lines = r.write_contexts(out, &data)?;
                        count.entries = count.lines as u64;
                    }
                }
            }
        }
        Ok(count)
    }

    fn log_event(
        &self,
        r: &mut Renderer,
        out: &mut Vec<u8>,
        rest: &mut &[u8],
        count: &mut RenderedCount,
    ) -> Result<(), MessageError> {
        if r.write_event(out, &self.tag, rest)? {
            count.lines += 1;
        } else {
            count.group_markers += 1;
        }
        Ok(())
    }
}

/// Renders one `fluentd_compat` entry, `[time, [context…]]` or `[time, context]`, and returns
/// how many contexts it held. The time (the send time) is validated but not shown.
fn compat_entry(
    r: &mut Renderer,
    out: &mut Vec<u8>,
    input: &mut &[u8],
) -> Result<usize, MessageError> {
    let shape = |found: Head<'_>| RenderError::Shape {
        what: "fluentd_compat entry",
        expected: "[time, [context…]]",
        found: found.type_name(),
    };
    let root = next_head(input)?;
    if root != Head::Array(2) {
        return Err(shape(root).into());
    }
    decode_timestamp(next_head(input)?)?;
    let contexts = peek_head(input)?;
    match contexts {
        Head::Array(n) => {
            next_head(input)?;
            for _ in 0..n {
                r.write_context(out, input)?;
            }
            Ok(n as usize)
        }
        Head::Map(_) => {
            r.write_context(out, input)?;
            Ok(1)
        }
        other => Err(shape(other).into()),
    }
}

/// Inflates every gzip member of `data`, refusing to produce more than `limit` bytes.
fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut inflated = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    MultiGzDecoder::new(data)
        .take(cap)
        .read_to_end(&mut inflated)
        .map_err(MessageError::Decompress)?;
    if inflated.len() > limit {
        return Err(MessageError::DecompressedTooLarge { limit });
    }
    Ok(inflated)
}

/// The options element, decoded.
#[derive(Default)]
struct Options {
    chunk: Option<Chunk>,
    size: Option<u64>,
    gzip: Option<bool>,
    signal: Option<Signal>,
    metadata: Option<Bytes>,
}

impl Options {
    fn parse(cur: &mut &[u8], frame: &Bytes) -> Result<Self, MessageError> {
        let n = match next_head(cur)? {
            Head::Map(n) => n,
            // The Go fluent-logger (Docker's fluentd log driver) sends nil when it has no
            // options; Fluent Bit accepts it as "no options".
            Head::Nil => return Ok(Options::default()),
            _ => return Err(MessageError::Shape("the options must be a map or nil")),
        };
        let mut options = Options::default();
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
                b"size" if options.size.is_none() => {
                    let size = match value {
                        Head::Uint(v) => Some(v),
                        Head::Int(v) => u64::try_from(v).ok(),
                        _ => None,
                    };
                    options.size = Some(size.ok_or(MessageError::BadOption {
                        name: "size",
                        expected: "a non-negative integer",
                    })?);
                }
                b"compressed" if options.gzip.is_none() => {
                    options.gzip = Some(match value {
                        Head::Str(b"gzip") => true,
                        Head::Str(b"text") => false,
                        Head::Str(other) => {
                            return Err(MessageError::UnsupportedCompression(
                                String::from_utf8_lossy(other).into_owned(),
                            ));
                        }
                        _ => {
                            return Err(MessageError::BadOption {
                                name: "compressed",
                                expected: "a string",
                            })
                        }
                    });
                }
                b"fluent_signal" if options.signal.is_none() => {
                    let code = match value {
                        Head::Uint(v) => i128::from(v),
                        Head::Int(v) => i128::from(v),
                        _ => {
                            return Err(MessageError::BadOption {
                                name: "fluent_signal",
                                expected: "an integer",
                            })
                        }
                    };
                    options.signal = Some(match code {
                        0 => Signal::Logs,
                        1 => Signal::Metrics,
                        2 => Signal::Traces,
                        other => return Err(MessageError::UnknownSignal(other)),
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;

    const OPTS: RenderOptions = RenderOptions {
        escape_unicode: true,
    };
    const LIMIT: usize = 1 << 20;

    fn s(text: &str) -> Vec<u8> {
        let mut v = vec![0xd9, text.len() as u8];
        v.extend_from_slice(text.as_bytes());
        v
    }

    fn bin(data: &[u8]) -> Vec<u8> {
        let mut v = vec![0xc6];
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    /// An options map from already-encoded (key, value) pairs.
    fn options(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![0x80 | pairs.len() as u8];
        for (k, val) in pairs {
            v.extend(s(k));
            v.extend_from_slice(val);
        }
        v
    }

    /// `[t, {"n": i}]` with integer seconds.
    fn entry(t: u8, i: u8) -> Vec<u8> {
        [vec![0x92, t, 0x81], s("n"), vec![i]].concat()
    }

    fn line(t: u8, i: u8) -> String {
        format!("[[{t}000000000,{{\"_tag\":\"app\"}}],{{\"n\":{i}}}]\n")
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).expect("gzip");
        enc.finish().expect("gzip")
    }

    fn parse_bytes(frame: Vec<u8>) -> Result<ForwardMessage, MessageError> {
        parse(Bytes::from(frame), LIMIT)
    }

    fn render(frame: Vec<u8>) -> Result<(RenderedCount, String), MessageError> {
        let msg = parse_bytes(frame)?;
        let mut out = Vec::new();
        let count = msg.render(&mut out, OPTS)?;
        Ok((count, String::from_utf8(out).expect("UTF-8")))
    }

    fn lines(frame: Vec<u8>) -> String {
        render(frame).expect("renders").1
    }

    #[test]
    fn nil_options_mean_no_options() {
        // As the Go fluent-logger (Docker's fluentd log driver) sends them.
        let frame = [vec![0x94], s("app"), vec![0x05, 0x80, 0xc0]].concat();
        assert_eq!(lines(frame), "[[5000000000,{\"_tag\":\"app\"}],{}]\n");
        let frame = [vec![0x93], s("app"), vec![0x91], entry(1, 2), vec![0xc0]].concat();
        assert_eq!(lines(frame), line(1, 2));
        let frame = [vec![0x93], s("app"), vec![0x91], entry(1, 2), vec![0x01]].concat();
        assert!(matches!(parse_bytes(frame), Err(MessageError::Shape(_))));
    }

    #[test]
    fn refused_frames_still_tell_whether_an_ack_is_awaited() {
        let bad_signal = options(&[("fluent_signal", vec![0x07]), ("chunk", s("c1"))]);
        let frame = [vec![0x93], s("app"), vec![0x91], entry(1, 2), bad_signal].concat();
        assert!(parse_bytes(frame.clone()).is_err());
        assert!(requests_ack(&frame));
        let no_chunk = options(&[("fluent_signal", vec![0x07])]);
        let frame = [vec![0x93], s("app"), vec![0x91], entry(1, 2), no_chunk].concat();
        assert!(!requests_ack(&frame));
        assert!(!requests_ack(&[0x93, 0xc1]));
        assert!(!requests_ack(&[]));
    }

    #[test]
    fn message_mode_with_metadata_and_ack() {
        let meta = [vec![0x81], s("origin"), s("x")].concat();
        let opts = options(&[("chunk", s("abc")), ("metadata", meta)]);
        let frame = [
            vec![0x94],
            s("app"),
            vec![0x05],
            [vec![0x81], s("n"), vec![0x01]].concat(),
            opts,
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.mode(), Mode::Message);
        assert_eq!(msg.tag(), "app");
        assert_eq!(msg.signal(), Signal::Logs);
        assert_eq!(msg.chunk(), Some(&b"abc"[..]));
        assert_eq!(
            msg.ack_response(),
            Some([vec![0x81, 0xa3, b'a', b'c', b'k'], s("abc")].concat())
        );
        let mut out = Vec::new();
        assert_eq!(
            msg.render(&mut out, OPTS).expect("renders"),
            RenderedCount {
                lines: 1,
                group_markers: 0,
                entries: 1
            }
        );
        assert_eq!(
            out,
            b"[[5000000000,{\"_tag\":\"app\",\"origin\":\"x\"}],{\"n\":1}]\n"
        );
        // Without options.
        let frame = [vec![0x93], s("app"), vec![0x05, 0x80]].concat();
        assert_eq!(lines(frame), "[[5000000000,{\"_tag\":\"app\"}],{}]\n");
    }

    #[test]
    fn forward_mode() {
        let frame = [vec![0x92], s("app"), vec![0x92], entry(1, 1), entry(2, 2)].concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.mode(), Mode::Forward);
        assert_eq!(msg.chunk(), None);
        assert_eq!(msg.ack_response(), None);
        let mut out = Vec::new();
        assert_eq!(msg.render(&mut out, OPTS).expect("renders").lines, 2);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            line(1, 1) + &line(2, 2)
        );
        // array32 header, options with size.
        let frame = [
            vec![0x93],
            s("app"),
            vec![0xdd, 0, 0, 0, 1],
            entry(3, 3),
            options(&[("size", vec![0x01])]),
        ]
        .concat();
        assert_eq!(lines(frame), line(3, 3));
    }

    #[test]
    fn packed_forward_str_or_bin() {
        let payload = [entry(1, 1), entry(2, 2)].concat();
        let frame = [
            vec![0x93],
            s("app"),
            bin(&payload),
            options(&[("size", vec![0x02]), ("compressed", s("text"))]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.mode(), Mode::PackedForward);
        let mut out = Vec::new();
        msg.render(&mut out, OPTS).expect("renders");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            line(1, 1) + &line(2, 2)
        );
        let mut as_str = vec![0xdb];
        as_str.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        as_str.extend_from_slice(&payload);
        let frame = [vec![0x92], s("app"), as_str].concat();
        assert_eq!(lines(frame), line(1, 1) + &line(2, 2));
    }

    #[test]
    fn compressed_packed_forward_decodes_every_gzip_member() {
        let members = [
            gzip(&entry(1, 1)),
            gzip(&[entry(2, 2), entry(3, 3)].concat()),
        ]
        .concat();
        let frame = [
            vec![0x93],
            s("app"),
            bin(&members),
            options(&[("compressed", s("gzip")), ("size", vec![0x03])]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.mode(), Mode::CompressedPackedForward);
        let mut out = Vec::new();
        assert_eq!(msg.render(&mut out, OPTS).expect("renders").lines, 3);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            line(1, 1) + &line(2, 2) + &line(3, 3)
        );
    }

    #[test]
    fn size_is_advisory() {
        // Declares 2 entries, holds 1 (Forward mode).
        let frame = [
            vec![0x93],
            s("app"),
            vec![0x91],
            entry(1, 1),
            options(&[("size", vec![0x02])]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.declared_size(), Some(2));
        let mut out = Vec::new();
        assert_eq!(msg.render(&mut out, OPTS).expect("renders").entries, 1);
        assert_eq!(String::from_utf8(out).expect("UTF-8"), line(1, 1));
        // Packed and gzip'd, declaring the payload's byte length (npm fluent-logger 3.x) and
        // Fluent Bit 4.1's count of the original chunk (markers it stripped included).
        let payload = [entry(1, 1), entry(2, 2)].concat();
        for declared in [payload.len() as u8, 8] {
            let frame = [
                vec![0x93],
                s("app"),
                bin(&gzip(&payload)),
                options(&[("compressed", s("gzip")), ("size", vec![declared])]),
            ]
            .concat();
            let msg = parse_bytes(frame).expect("parses");
            assert_eq!(msg.declared_size(), Some(u64::from(declared)));
            let mut out = Vec::new();
            let count = msg.render(&mut out, OPTS).expect("renders");
            assert_eq!((count.lines, count.entries), (2, 2));
            assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                line(1, 1) + &line(2, 2)
            );
        }
    }

    #[test]
    fn swallowed_messages_are_set_aside_in_order() {
        // ["app", [entry, ["b", [entry]], entry, ["c", bin, {chunk}], ["d", 5, {}]]]: the
        // array swallowed three messages of every shape (Forward, PackedForward with options,
        // Message); the outer keeps its two entries.
        let forward = [vec![0x92], s("b"), vec![0x91], entry(3, 3)].concat();
        let packed = [
            vec![0x93],
            s("c"),
            bin(&entry(4, 4)),
            options(&[("chunk", s("k"))]),
        ]
        .concat();
        let message = [vec![0x93], s("d"), vec![0x05, 0x80]].concat();
        let frame = [
            vec![0x92],
            s("app"),
            vec![0x95],
            entry(1, 1),
            forward.clone(),
            entry(2, 2),
            packed.clone(),
            message.clone(),
        ]
        .concat();
        let mut msg = parse_bytes(frame).expect("parses");
        let embedded = msg.take_embedded();
        assert_eq!(embedded, [forward, packed, message]);
        assert!(msg.take_embedded().is_empty(), "taken once");
        let mut out = Vec::new();
        let count = msg.render(&mut out, OPTS).expect("renders");
        assert_eq!((count.lines, count.entries), (2, 2));
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            line(1, 1) + &line(2, 2)
        );
        let mut packed = parse_bytes(embedded[1].to_vec()).expect("parses");
        assert_eq!(packed.tag(), "c");
        assert_eq!(packed.chunk(), Some(&b"k"[..]));
        assert!(packed.take_embedded().is_empty());
        // Arrays that start with a time, or hold 5 elements, stay entries (and a 5-element one
        // is malformed).
        assert!(!is_message_shaped(&entry(1, 1)));
        assert!(!is_message_shaped(
            &[vec![0x95], s("x"), vec![1, 2, 3, 4]].concat()
        ));
        assert!(!is_message_shaped(&[vec![0x91], s("x")].concat()));
    }

    #[test]
    fn group_markers_count_in_size_but_not_as_lines() {
        let marker = |secs: u32| {
            [
                vec![0x92, 0x92, 0xd7, 0x00],
                secs.to_be_bytes().to_vec(),
                vec![0, 0, 0, 0, 0x80, 0x80],
            ]
            .concat()
        };
        let frame = [
            vec![0x93],
            s("app"),
            vec![0x93],
            marker(0xffff_ffff),
            entry(1, 1),
            marker(0xffff_fffe),
            options(&[("size", vec![0x03])]),
        ]
        .concat();
        let (count, text) = render(frame).expect("renders");
        assert_eq!(
            count,
            RenderedCount {
                lines: 1,
                group_markers: 2,
                entries: 3
            }
        );
        assert_eq!(text, line(1, 1));
        // Only markers: nothing to store.
        let frame = [
            vec![0x92],
            s("app"),
            vec![0x92],
            marker(0xffff_ffff),
            marker(0xffff_fffe),
        ]
        .concat();
        assert!(matches!(render(frame), Err(MessageError::NoRecords)));
    }

    #[test]
    fn no_records() {
        assert!(matches!(
            render([vec![0x92], s("app"), vec![0x90]].concat()),
            Err(MessageError::NoRecords)
        ));
        assert!(matches!(
            render([vec![0x92], s("app"), bin(&[])].concat()),
            Err(MessageError::NoRecords)
        ));
        let metrics = options(&[("fluent_signal", vec![0x01])]);
        assert!(matches!(
            render([vec![0x93], s("m"), bin(&[]), metrics.clone()].concat()),
            Err(MessageError::NoRecords)
        ));
        assert!(matches!(
            render([vec![0x93], s("m"), vec![0x90], metrics].concat()),
            Err(MessageError::NoRecords)
        ));
    }

    #[test]
    fn metrics_and_traces_contexts() {
        let ctx = |name: &str| [vec![0x81], s("name"), s(name)].concat();
        // Packed: every context becomes a line.
        let frame = [
            vec![0x93],
            s("m"),
            bin(&[ctx("a"), ctx("b")].concat()),
            options(&[("fluent_signal", vec![0x01])]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.signal(), Signal::Metrics);
        let mut out = Vec::new();
        assert_eq!(msg.render(&mut out, OPTS).expect("renders").lines, 2);
        assert_eq!(out, b"{\"name\":\"a\"}\n{\"name\":\"b\"}\n");
        // Gzip'd traces.
        let frame = [
            vec![0x93],
            s("t"),
            bin(&gzip(&ctx("a"))),
            options(&[("fluent_signal", vec![0x02]), ("compressed", s("gzip"))]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        assert_eq!(msg.signal(), Signal::Traces);
        assert_eq!(lines_of(&msg), "{\"name\":\"a\"}\n");
        // fluentd_compat: [[time, [ctx, ctx]], [time, ctx]].
        let entries = [
            vec![0x92, 0x92, 0x01, 0x92],
            ctx("a"),
            ctx("b"),
            vec![0x92, 0x02],
            ctx("c"),
        ]
        .concat();
        let frame = [
            vec![0x93],
            s("m"),
            entries,
            options(&[("fluent_signal", vec![0x01])]),
        ]
        .concat();
        assert_eq!(
            lines(frame),
            "{\"name\":\"a\"}\n{\"name\":\"b\"}\n{\"name\":\"c\"}\n"
        );
        // A log event stream mislabelled as metrics is rejected, not misfiled.
        let frame = [
            vec![0x93],
            s("m"),
            bin(&entry(1, 1)),
            options(&[("fluent_signal", vec![0x01])]),
        ]
        .concat();
        assert!(matches!(
            render(frame),
            Err(MessageError::Msgpack(RenderError::Shape { .. }))
        ));
    }

    fn lines_of(msg: &ForwardMessage) -> String {
        let mut out = Vec::new();
        msg.render(&mut out, OPTS).expect("renders");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn option_errors() {
        let forward =
            |opts: Vec<u8>| [vec![0x93], s("app"), vec![0x91], entry(1, 1), opts].concat();
        assert!(matches!(
            parse_bytes(forward(options(&[("fluent_signal", vec![0x03])]))),
            Err(MessageError::UnknownSignal(3))
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("fluent_signal", vec![0xff])]))),
            Err(MessageError::UnknownSignal(-1))
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("fluent_signal", s("1"))]))),
            Err(MessageError::BadOption {
                name: "fluent_signal",
                ..
            })
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("compressed", s("zstd"))]))),
            Err(MessageError::UnsupportedCompression(c)) if c == "zstd"
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("compressed", s("gzip"))]))),
            Err(MessageError::CompressedNotPacked)
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("chunk", vec![0x01])]))),
            Err(MessageError::BadOption { name: "chunk", .. })
        ));
        assert!(matches!(
            parse_bytes(forward(options(&[("size", vec![0xff])]))),
            Err(MessageError::BadOption { name: "size", .. })
        ));
        assert!(matches!(
            parse_bytes(forward(vec![0x90])),
            Err(MessageError::Shape(_))
        ));
        // Unknown keys, non-string keys and repeated keys (first wins) are tolerated.
        let mut tolerant = options(&[
            ("source", s("x")),
            ("size", vec![0x01]),
            ("size", vec![0x07]),
        ]);
        tolerant[0] += 1;
        tolerant.extend_from_slice(&[0x92, 0x01, 0x02, 0xc0]);
        assert!(parse_bytes(forward(tolerant)).is_ok());
        // Message mode carries logs only, uncompressed, with map metadata.
        let message = |opts: Vec<u8>| [vec![0x94], s("app"), vec![0x01, 0x80], opts].concat();
        assert!(matches!(
            parse_bytes(message(options(&[("fluent_signal", vec![0x01])]))),
            Err(MessageError::SignalInMessageMode("metrics"))
        ));
        assert!(matches!(
            parse_bytes(message(options(&[("compressed", s("gzip"))]))),
            Err(MessageError::CompressedNotPacked)
        ));
        assert!(matches!(
            parse_bytes(message(options(&[("metadata", vec![0x90])]))),
            Err(MessageError::BadOption {
                name: "metadata",
                ..
            })
        ));
        // Outside Message mode, metadata is ignored.
        assert!(parse_bytes(forward(options(&[("metadata", vec![0x90])]))).is_ok());
    }

    #[test]
    fn outer_shape_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0x80],
            [vec![0x91], s("app")].concat(),
            [vec![0x95], s("app"), vec![0x01, 0x80, 0x80, 0x80]].concat(),
            [vec![0x92, 0x01, 0x90]].concat(),
            [vec![0x92], s("app"), vec![0xc0]].concat(),
            [vec![0x92], s("app"), vec![0x01]].concat(),
            [vec![0x94], s("app"), vec![0x90, 0x80, 0x80]].concat(),
            [vec![0x92], s("app"), vec![0x90, 0xc0]].concat(),
            [vec![0x93], s("app"), vec![0x90], vec![0x81, 0xa1]].concat(),
            [
                vec![0x93],
                s("app"),
                vec![0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x80],
            ]
            .concat(),
        ];
        for frame in cases {
            assert!(parse_bytes(frame.clone()).is_err(), "{frame:02x?}");
        }
    }

    #[test]
    fn decompression_bomb_is_capped() {
        let zeros = vec![0u8; 4 * LIMIT];
        let frame = [
            vec![0x93],
            s("app"),
            bin(&gzip(&zeros)),
            options(&[("compressed", s("gzip"))]),
        ]
        .concat();
        let msg = parse_bytes(frame).expect("parses");
        let mut out = Vec::new();
        assert!(matches!(
            msg.render(&mut out, OPTS),
            Err(MessageError::DecompressedTooLarge { limit: LIMIT })
        ));
        let frame = [
            vec![0x93],
            s("app"),
            bin(b"not gzip"),
            options(&[("compressed", s("gzip"))]),
        ]
        .concat();
        assert!(matches!(render(frame), Err(MessageError::Decompress(_))));
    }

    #[test]
    fn render_errors_leave_output_untouched() {
        let frame = [
            vec![0x92],
            s("app"),
            vec![0x92],
            entry(1, 1),
            vec![0x92, 0x01, 0xc1],
        ]
        .concat();
        assert!(matches!(
            parse_bytes(frame),
            Err(MessageError::Msgpack(RenderError::InvalidMarker))
        ));
        let payload = [entry(1, 1), vec![0x93, 0x01, 0x80, 0x80]].concat();
        let msg = parse_bytes([vec![0x92], s("app"), bin(&payload)].concat()).expect("parses");
        let mut out = b"prior".to_vec();
        assert!(matches!(
            msg.render(&mut out, OPTS),
            Err(MessageError::Msgpack(RenderError::Shape { .. }))
        ));
        assert_eq!(out, b"prior");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Arbitrary frames never panic parsing or rendering; accepted output is JSON lines.
        #[test]
        fn arbitrary_frames_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            // Start like a real message half of the time so the parser gets past the header.
            for prefix in [&[][..], &[0x93, 0xa1, b't'][..]] {
                let frame = [prefix, &tail].concat();
                if let Ok(msg) = parse(Bytes::from(frame), LIMIT) {
                    let mut out = Vec::new();
                    if msg.render(&mut out, OPTS).is_ok() {
                        for line in std::str::from_utf8(&out).expect("UTF-8").lines() {
                            serde_json::from_str::<serde_json::Value>(line).expect("valid JSON");
                        }
                    }
                }
            }
        }
    }
}
