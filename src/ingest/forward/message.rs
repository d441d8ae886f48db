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
//! - CompressedPackedForward: PackedForward with a gzip (or zstd) payload, named by
//!   `options.compressed` or recognised by its magic bytes ([`super::payload`]); every member
//!   or frame is decoded.
//!
//! With `fluent_signal` 1 (metrics) or 2 (traces) the packed payload is concatenated cmetrics or
//! ctraces contexts, and a Forward-mode array (Fluent Bit's `fluentd_compat on`) holds entries
//! `[time, [context…]]` (or `[time, context]`). Every context becomes one line.
//!
//! What is accepted follows Fluent Bit's forward input (`plugins/in_forward/fw_prot.c`): what it
//! acknowledges, we accept too, and what it refuses by closing the connection, we refuse. The
//! deviations real producers send are accepted and reported ([`Deviation`]):
//!
//! - **`size` is advisory.** The protocol says it is the number of entries, but Fluent Bit 4.1's
//!   gzip path declares the entries of the original chunk (group markers it then strips
//!   included), and the npm `fluent-logger` 3.x declares the payload's byte length. Fluent Bit
//!   never reads it. [`RenderedCount::entries`] lets the caller count a mismatch.
//! - **Swallowed messages.** Fluent Bit 4.1's forward output writes the entries-array header of
//!   a chunk holding OTLP logs with the chunk's object count (record plus group markers) but
//!   sends only the record, so the array swallows the next messages on the connection as
//!   "entries". An entry shaped like a Forward message (`[str tag, …]`, 2 to 4 elements) can
//!   never be a valid entry, so [`parse`] sets it aside as a message of its own
//!   ([`ForwardMessage::take_embedded`]) and the outer message keeps its other entries.
//! - **Options that do not apply are ignored**, as Fluent Bit ignores them: `compressed` outside
//!   PackedForward, `fluent_signal` in Message mode (always a log) or with an unknown value in
//!   Forward mode (logs). Extra array elements after the options are ignored.
//! - **A malformed entry is dropped, not the message.** Fluent Bit keeps the entries before it,
//!   drops the rest and acknowledges; here only the malformed entry is dropped (each entry is a
//!   whole msgpack object, so the next one is found), counted in [`RenderedCount::dropped`]. A
//!   message none of whose entries is valid is refused, so garbage is never acknowledged.
//! - **A message that holds nothing** (no entries, only group markers, an empty payload) is
//!   accepted and stores nothing, as Fluent Bit acknowledges it.

use std::borrow::Cow;

use bytes::Bytes;

use super::options::{Chunk, Compressed, Options, SignalOption};
use super::payload::{inflate, Compression};
use crate::render::msgpack::{next_head, peek_head, Head};
use crate::render::scan::skip;
use crate::render::time::{decode_timestamp, Timestamp};
use crate::render::{RenderError, RenderOptions, Renderer};
use crate::signal::Signal;

/// Why a Forward message was refused. The whole message is refused (and not acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The msgpack itself, or an entry or context inside it, is malformed.
    #[error("malformed Forward message: {0}")]
    Msgpack(RenderError),
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
    /// A PackedForward `fluent_signal` is not 0, 1 or 2: the payload's format is unknown.
    #[error("unknown fluent_signal {0}")]
    UnknownSignal(i128),
    /// The compressed payload could not be decoded.
    #[error("{codec} payload: {source}")]
    Decompress {
        /// The codec (`gzip`, `zstd`).
        codec: &'static str,
        /// What the decoder said.
        #[source]
        source: std::io::Error,
    },
    /// The payload inflates beyond the configured cap (a decompression bomb guard).
    #[error("compressed payload inflates beyond {limit} bytes")]
    DecompressedTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The message renders to more JSON than one entry may hold (`max_entry_size`).
    #[error("the message renders to more than {limit} bytes of JSON (max_entry_size)")]
    EntryTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The message holds more records than one entry may (`max_entry_records`).
    #[error("the message holds more than {limit} records (max_entry_records)")]
    TooManyRecords {
        /// The cap.
        limit: u64,
    },
}

impl From<RenderError> for MessageError {
    /// A value past the size cap is the cap's refusal, not malformed input.
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::TooLarge { limit } => MessageError::EntryTooLarge { limit },
            other => MessageError::Msgpack(other),
        }
    }
}

impl MessageError {
    /// A short machine-friendly label for counters (`reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            MessageError::Msgpack(_) => "malformed",
            MessageError::Shape(_) => "shape",
            MessageError::BadOption { .. } => "bad_option",
            MessageError::UnknownSignal(_) => "unknown_signal",
            MessageError::Decompress { .. } => "decompress",
            MessageError::DecompressedTooLarge { .. } => "decompressed_too_large",
            MessageError::EntryTooLarge { .. } => "entry_too_large",
            MessageError::TooManyRecords { .. } => "too_many_records",
        }
    }
}

/// A deviation from the protocol that a real producer sends and Fluent Bit accepts: the message
/// is accepted, and the deviation is counted (`vivo_input_tolerated_total{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deviation {
    /// `options.size` is not the number of entries (or not a count at all).
    SizeMismatch,
    /// A Forward-mode array held a whole Forward message (a miscounted array header).
    EmbeddedMessage,
    /// The outer array has elements after the options; they are ignored.
    ExtraElements,
    /// An option that does not apply to the message's mode, or names nothing known.
    IgnoredOption,
}

impl Deviation {
    /// The counter's `reason` label.
    pub fn reason(self) -> &'static str {
        match self {
            Deviation::SizeMismatch => "size_mismatch",
            Deviation::EmbeddedMessage => "embedded_message",
            Deviation::ExtraElements => "extra_elements",
            Deviation::IgnoredOption => "ignored_option",
        }
    }
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderedCount {
    /// Lines written: log records, or cmetrics/ctraces contexts.
    pub lines: usize,
    /// Group-marker entries skipped (logs only).
    pub group_markers: usize,
    /// Entries the message held, group markers and dropped entries included, embedded messages
    /// not: what `options.size` should have said (for packed metrics and traces, the contexts).
    pub entries: u64,
    /// Malformed log entries dropped (a packed payload whose rest cannot be framed counts once).
    pub dropped: u64,
    /// Why the first dropped entry was malformed.
    pub first_drop: Option<RenderError>,
}

impl RenderedCount {
    fn drop_entry(&mut self, why: RenderError) {
        self.dropped += 1;
        self.first_drop.get_or_insert(why);
    }
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
    /// What [`parse`] tolerated (empty for a well-formed message).
    deviations: Vec<Deviation>,
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
    Packed {
        payload: Bytes,
        compression: Compression,
    },
}

/// Parses one complete Forward frame (exactly one msgpack object), keeping slices of `frame`.
///
/// `max_decompressed` caps what a compressed payload may inflate to when the message is
/// rendered (callers pass a few times their buffer limit).
pub fn parse(frame: Bytes, max_decompressed: usize) -> Result<ForwardMessage, MessageError> {
    let mut cur: &[u8] = &frame;
    let elements = match next_head(&mut cur)? {
        Head::Array(n @ 2..) => n,
        _ => {
            return Err(MessageError::Shape(
                "expected an array of at least 2 elements",
            ))
        }
    };
    let tag = match next_head(&mut cur)? {
        Head::Str(tag) => String::from_utf8_lossy(tag).into_owned(),
        _ => return Err(MessageError::Shape("the tag must be a string")),
    };
    let mut embedded = Vec::new();
    let mut deviations = Vec::new();
    let body = match peek_head(cur)? {
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
            next_head(&mut cur)?;
            Body::Packed {
                payload: frame.slice_ref(payload),
                compression: Compression::None,
            }
        }
        Head::Nil | Head::Bool(_) | Head::Map(_) => {
            return Err(MessageError::Shape(
                "the second element must be a time, an array or a bin/str",
            ));
        }
    };
    // Options follow the body: index 3 in Message mode, 2 otherwise.
    let options_at = if matches!(body, Body::Single { .. }) {
        3
    } else {
        2
    };
    let options = if elements > options_at {
        Options::parse(&mut cur, &frame)?
    } else {
        Options::default()
    };
    if elements > options_at + 1 {
        for _ in options_at + 1..elements {
            skip(&mut cur)?;
        }
        deviations.push(Deviation::ExtraElements);
    }
    if !cur.is_empty() {
        return Err(MessageError::Shape("unexpected bytes after the message"));
    }
    if options.size_unusable {
        deviations.push(Deviation::SizeMismatch);
    }
    let (signal, body) = apply_options(body, &options, &mut deviations)?;
    Ok(ForwardMessage {
        tag,
        signal,
        chunk: options.chunk,
        size: options.size,
        max_decompressed,
        body,
        embedded,
        deviations,
    })
}

/// Decides per mode what the options mean, as Fluent Bit's forward input does: only
/// PackedForward reads `compressed` and `fluent_signal` strictly; Message mode is always a log
/// with `metadata` as its record metadata; Forward mode takes a known signal
/// (`fluentd_compat`) and ignores the rest.
fn apply_options(
    body: Body,
    options: &Options,
    deviations: &mut Vec<Deviation>,
) -> Result<(Signal, Body), MessageError> {
    let compressed = options.compressed;
    let names_compression = !matches!(
        compressed,
        None | Some(Compressed::Named(Compression::None))
    );
    match body {
        Body::Single { time, record, .. } => {
            if let Some(metadata) = &options.metadata {
                if !matches!(peek_head(metadata)?, Head::Map(_)) {
                    return Err(MessageError::BadOption {
                        name: "metadata",
                        expected: "a map",
                    });
                }
            }
            let other_signal = !matches!(
                options.signal,
                None | Some(SignalOption::Known(Signal::Logs))
            );
            if other_signal || names_compression {
                deviations.push(Deviation::IgnoredOption);
            }
            let body = Body::Single {
                time,
                record,
                metadata: options.metadata.clone(),
            };
            Ok((Signal::Logs, body))
        }
        Body::Entries { runs } => {
            let signal = match options.signal {
                None => Signal::Logs,
                Some(SignalOption::Known(signal)) => signal,
                Some(SignalOption::Unknown(_) | SignalOption::NotAnInteger) => {
                    deviations.push(Deviation::IgnoredOption);
                    Signal::Logs
                }
            };
            if names_compression {
                deviations.push(Deviation::IgnoredOption);
            }
            Ok((signal, Body::Entries { runs }))
        }
        Body::Packed { payload, .. } => {
            let signal = match options.signal {
                None => Signal::Logs,
                Some(SignalOption::Known(signal)) => signal,
                Some(SignalOption::Unknown(code)) => return Err(MessageError::UnknownSignal(code)),
                Some(SignalOption::NotAnInteger) => {
                    return Err(MessageError::BadOption {
                        name: "fluent_signal",
                        expected: "an integer",
                    })
                }
            };
            let compression = match compressed {
                Some(Compressed::Named(codec @ (Compression::Gzip | Compression::Zstd))) => codec,
                Some(Compressed::Unrecognised) => {
                    deviations.push(Deviation::IgnoredOption);
                    Compression::sniff(&payload)
                }
                None | Some(Compressed::Named(Compression::None)) => Compression::sniff(&payload),
            };
            Ok((
                signal,
                Body::Packed {
                    payload,
                    compression,
                },
            ))
        }
    }
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
            Body::Packed {
                compression: Compression::None,
                ..
            } => Mode::PackedForward,
            Body::Packed { .. } => Mode::CompressedPackedForward,
        }
    }

    /// The declared `options.size`, if any: advisory, compare it with
    /// [`RenderedCount::entries`].
    pub fn declared_size(&self) -> Option<u64> {
        self.size
    }

    /// What [`parse`] tolerated in this message, for the counters.
    pub fn deviations(&self) -> &[Deviation] {
        &self.deviations
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
    /// line per context (every context). Decompresses packed payloads. Malformed log entries
    /// are dropped and counted; if every entry was malformed, the message is refused. On error
    /// `out` is left as it was.
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
            match (&count.first_drop, count.lines + count.group_markers) {
                (Some(why), 0) => Err(MessageError::Msgpack(why.clone())),
                _ => Ok(count),
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
                    match self.signal {
                        Signal::Logs => self.log_entries(r, out, run, &mut count)?,
                        Signal::Metrics | Signal::Traces => {
                            let mut rest: &[u8] = run;
                            while !rest.is_empty() {
                                count.lines += compat_entry(r, out, &mut rest)?;
                                count.entries += 1;
                            }
                        }
                    }
                }
            }
            Body::Packed {
                payload,
                compression,
            } => {
                let data: Cow<'_, [u8]> = match compression {
                    Compression::None => Cow::Borrowed(payload),
                    codec => Cow::Owned(inflate(*codec, payload, self.max_decompressed)?),
                };
                match self.signal {
                    Signal::Logs => self.log_entries(r, out, &data, &mut count)?,
                    Signal::Metrics | Signal::Traces => {
                        if !data.is_empty() {
                            count.lines = r.write_contexts(out, &data)?;
                        }
                        count.entries = count.lines as u64;
                    }
                }
            }
        }
        Ok(count)
    }

    /// Renders concatenated log entries, dropping each malformed one. Only when an entry
    /// cannot even be delimited (truncated or invalid msgpack inside a packed payload) is the
    /// rest of the payload lost, counted as one dropped entry. Stops with an error as soon as
    /// the entry passes the renderer's limits.
    fn log_entries(
        &self,
        r: &mut Renderer,
        out: &mut Vec<u8>,
        entries: &[u8],
        count: &mut RenderedCount,
    ) -> Result<(), MessageError> {
        let limits = r.limits();
        let mut rest = entries;
        while !rest.is_empty() {
            let entry = rest;
            count.entries += 1;
            if count.entries > limits.max_records {
                return Err(MessageError::TooManyRecords {
                    limit: limits.max_records,
                });
            }
            match r.write_event(out, &self.tag, &mut rest) {
                Ok(true) => count.lines += 1,
                Ok(false) => count.group_markers += 1,
                // Not a malformed entry to drop: the message is past its cap.
                Err(RenderError::TooLarge { limit }) => {
                    return Err(MessageError::EntryTooLarge { limit })
                }
                Err(why) => {
                    count.drop_entry(why);
                    rest = entry;
                    if skip(&mut rest).is_err() {
                        return Ok(());
                    }
                }
            }
            if out.len() > limits.max_entry_bytes {
                return Err(MessageError::EntryTooLarge {
                    limit: limits.max_entry_bytes,
                });
            }
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
        let frame = [vec![0x93], s("app"), bin(&entry(1, 2)), bad_signal].concat();
        assert!(parse_bytes(frame.clone()).is_err());
        assert!(requests_ack(&frame));
        let no_chunk = options(&[("fluent_signal", vec![0x07])]);
        let frame = [vec![0x93], s("app"), bin(&entry(1, 2)), no_chunk].concat();
        assert!(parse_bytes(frame.clone()).is_err());
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
                entries: 1,
                ..RenderedCount::default()
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
                entries: 3,
                ..RenderedCount::default()
            }
        );
        assert_eq!(text, line(1, 1));
        // Only markers: accepted, nothing to store.
        let frame = [
            vec![0x92],
            s("app"),
            vec![0x92],
            marker(0xffff_ffff),
            marker(0xffff_fffe),
        ]
        .concat();
        let (count, text) = render(frame).expect("accepted");
        assert_eq!(
            (count.lines, count.group_markers, text.as_str()),
            (0, 2, "")
        );
    }

    #[test]
    fn messages_holding_nothing_are_accepted_and_render_nothing() {
        // As Fluent Bit acknowledges them: an empty array, an empty payload, for every signal.
        let metrics = options(&[("fluent_signal", vec![0x01])]);
        for frame in [
            [vec![0x92], s("app"), vec![0x90]].concat(),
            [vec![0x92], s("app"), bin(&[])].concat(),
            [vec![0x93], s("m"), bin(&[]), metrics.clone()].concat(),
            [vec![0x93], s("m"), vec![0x90], metrics].concat(),
        ] {
            let (count, text) = render(frame.clone()).expect("accepted");
            assert_eq!(
                (count.lines, count.entries, text.as_str()),
                (0, 0, ""),
                "{frame:02x?}"
            );
        }
    }

    #[test]
    fn malformed_entries_are_dropped_and_the_others_kept() {
        // Forward mode: a record that is not [time, record], a bad time, an ext of another
        // type, between good entries.
        let bad_shape = vec![0x93, 0x01, 0x80, 0x80];
        let bad_time = [vec![0x92, 0xc0], vec![0x80]].concat();
        let bad_ext = vec![0x92, 0xd7, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0x80];
        let frame = [
            vec![0x92],
            s("app"),
            vec![0x95],
            entry(1, 1),
            bad_shape.clone(),
            bad_time.clone(),
            entry(2, 2),
            bad_ext.clone(),
        ]
        .concat();
        let (count, text) = render(frame).expect("keeps the good entries");
        assert_eq!(text, line(1, 1) + &line(2, 2));
        assert_eq!((count.entries, count.dropped), (5, 3));
        assert!(matches!(count.first_drop, Some(RenderError::Shape { .. })));
        // Packed: a malformed entry is skipped; truncated msgpack loses only the rest.
        let payload = [
            entry(1, 1),
            bad_time.clone(),
            entry(2, 2),
            vec![0x92, 0x01, 0xc1],
        ]
        .concat();
        let (count, text) = render([vec![0x92], s("app"), bin(&payload)].concat()).expect("kept");
        assert_eq!(text, line(1, 1) + &line(2, 2));
        assert_eq!((count.entries, count.dropped), (4, 2));
        // Nothing valid at all: refused, so garbage is never acknowledged.
        let frame = [vec![0x92], s("app"), vec![0x92], bad_shape, bad_ext].concat();
        assert!(matches!(
            render(frame),
            Err(MessageError::Msgpack(RenderError::Shape { .. }))
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
    fn options_fluent_bit_refuses_are_refused() {
        let packed = |opts: Vec<u8>| [vec![0x93], s("app"), bin(&entry(1, 1)), opts].concat();
        let forward =
            |opts: Vec<u8>| [vec![0x93], s("app"), vec![0x91], entry(1, 1), opts].concat();
        // PackedForward's payload format depends on fluent_signal: an unknown one is refused.
        assert!(matches!(
            parse_bytes(packed(options(&[("fluent_signal", vec![0x03])]))),
            Err(MessageError::UnknownSignal(3))
        ));
        assert!(matches!(
            parse_bytes(packed(options(&[("fluent_signal", vec![0xff])]))),
            Err(MessageError::UnknownSignal(-1))
        ));
        assert!(matches!(
            parse_bytes(packed(options(&[("fluent_signal", s("1"))]))),
            Err(MessageError::BadOption {
                name: "fluent_signal",
                ..
            })
        ));
        // In every mode: a chunk that is not a str or bin, options that are not a map or nil.
        assert!(matches!(
            parse_bytes(forward(options(&[("chunk", vec![0x01])]))),
            Err(MessageError::BadOption { name: "chunk", .. })
        ));
        assert!(matches!(
            parse_bytes(forward(vec![0x90])),
            Err(MessageError::Shape(_))
        ));
        // Message mode's metadata must be a map.
        let message = |opts: Vec<u8>| [vec![0x94], s("app"), vec![0x01, 0x80], opts].concat();
        assert!(matches!(
            parse_bytes(message(options(&[("metadata", vec![0x90])]))),
            Err(MessageError::BadOption {
                name: "metadata",
                ..
            })
        ));
    }

    #[test]
    fn options_fluent_bit_ignores_are_tolerated() {
        let forward =
            |opts: Vec<u8>| [vec![0x93], s("app"), vec![0x91], entry(1, 1), opts].concat();
        let message = |opts: Vec<u8>| [vec![0x94], s("app"), vec![0x01, 0x80], opts].concat();
        let tolerated = |frame: Vec<u8>| {
            let msg = parse_bytes(frame).expect("accepted");
            assert_eq!(msg.signal(), Signal::Logs);
            let deviations = msg.deviations().to_vec();
            assert_eq!(lines_of(&msg).lines().count(), 1);
            deviations
        };
        let ignored = [Deviation::IgnoredOption];
        // Forward mode: an unknown signal means logs; compression does not apply.
        for opts in [
            options(&[("fluent_signal", vec![0x03])]),
            options(&[("fluent_signal", s("1"))]),
            options(&[("compressed", s("gzip"))]),
            options(&[("compressed", s("zstd"))]),
        ] {
            assert_eq!(tolerated(forward(opts)), ignored);
        }
        // Message mode is always one log record, uncompressed.
        for opts in [
            options(&[("fluent_signal", vec![0x01])]),
            options(&[("compressed", s("gzip"))]),
        ] {
            assert_eq!(tolerated(message(opts)), ignored);
        }
        // A size that is not a count is a mismatch, not a refusal.
        let msg = parse_bytes(forward(options(&[("size", vec![0xff])]))).expect("accepted");
        assert_eq!(
            (msg.declared_size(), msg.deviations()),
            (None, &[Deviation::SizeMismatch][..])
        );
        // Unknown keys, non-string keys and repeated keys (first wins) pass unremarked;
        // metadata outside Message mode is ignored.
        let mut quiet = options(&[
            ("source", s("x")),
            ("size", vec![0x01]),
            ("size", vec![0x07]),
            ("metadata", vec![0x90]),
            ("compressed", s("text")),
        ]);
        quiet[0] += 1;
        quiet.extend_from_slice(&[0x92, 0x01, 0x02, 0xc0]);
        let msg = parse_bytes(forward(quiet)).expect("accepted");
        assert_eq!((msg.declared_size(), msg.deviations()), (Some(1), &[][..]));
        // Elements after the options are ignored, in every mode.
        let extra = [vec![0x95], s("app"), vec![0x01, 0x80, 0x80, 0xc0]].concat();
        assert_eq!(tolerated(extra), [Deviation::ExtraElements]);
        let extra = [
            vec![0x94],
            s("app"),
            vec![0x91],
            entry(1, 1),
            vec![0x80, 0x01],
        ]
        .concat();
        assert_eq!(tolerated(extra), [Deviation::ExtraElements]);
    }

    #[test]
    fn compression_is_named_or_recognised() {
        let payload = entry(1, 1);
        let zst = zstd::encode_all(&payload[..], 3).expect("zstd");
        for (data, opts) in [
            (gzip(&payload), options(&[("compressed", s("gzip"))])),
            (zst.clone(), options(&[("compressed", s("zstd"))])),
            // Unnamed, named "text" or something unknown: the magic bytes decide.
            (gzip(&payload), vec![0x80]),
            (zst.clone(), options(&[("compressed", s("text"))])),
            (zst, options(&[("compressed", s("snappy"))])),
        ] {
            let msg =
                parse_bytes([vec![0x93], s("app"), bin(&data), opts].concat()).expect("parses");
            assert_eq!(msg.mode(), Mode::CompressedPackedForward);
            assert_eq!(lines_of(&msg), line(1, 1));
        }
    }

    #[test]
    fn outer_shape_errors() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0x80],
            [vec![0x91], s("app")].concat(),
            [vec![0x92, 0x01, 0x90]].concat(),
            [vec![0x92], s("app"), vec![0xc0]].concat(),
            [vec![0x92], s("app"), vec![0x01]].concat(),
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
        assert!(matches!(
            render(frame),
            Err(MessageError::Decompress { codec: "gzip", .. })
        ));
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
        // Every entry malformed: refused.
        let payload = [vec![0x93, 0x01, 0x80, 0x80], vec![0x92, 0xc0, 0x80]].concat();
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
