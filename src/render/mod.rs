//! MessagePack → JSON text, following Fluent Bit v4.1.2's converter (spec §6) except where that
//! converter produces invalid JSON (spec §13.9–13.10): the output is always valid JSON.
//!
//! This is the service's hot path: every ingested record goes through it once. It reads msgpack
//! straight from a byte slice (no intermediate value tree) and appends to a `Vec<u8>`.
//!
//! - [`msgpack`] decodes one head at a time; [`scan`] finds where an object ends.
//! - [`json`] renders one value ([`Renderer`]); [`time`] decodes Forward timestamps.
//! - [`logs`] writes era-A log lines; [`contexts`] writes cmetrics/ctraces lines.

pub mod contexts;
pub mod json;
pub mod logs;
pub mod msgpack;
pub mod number;
pub mod scan;
pub mod string;
pub mod time;

pub use contexts::write_contexts;
pub use json::{write_value, Renderer};

/// Deepest nesting of arrays and maps accepted anywhere, so that hostile input cannot exhaust the
/// stack of the (recursive) renderer. Real telemetry stays below 20. At this depth rendering
/// uses about 300 KB of stack in release builds (a few times more in debug builds), well within
/// the default 2 MB of a spawned thread.
pub const MAX_DEPTH: usize = 512;

/// Switches that change the rendered text.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// Write non-ASCII as `\uXXXX` escapes, like Fluent Bit's `json.escape_unicode on` (the
    /// default since v4.1). When off, valid UTF-8 is copied raw, which is equally valid JSON but
    /// changes byte counts.
    pub escape_unicode: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            escape_unicode: true,
        }
    }
}

/// Caps on what one batch may render to: a small message must not become gigabytes of JSON
/// (each era-A line repeats the tag, so a few bytes of record can cost kilobytes of text).
/// Checked while rendering, so a batch past a cap stops before the memory is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderLimits {
    /// The most bytes of JSON one entry may have (`max_entry_size`).
    pub max_entry_bytes: usize,
    /// The most records one batch may hold (`max_entry_records`).
    pub max_records: u64,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_entry_bytes: 20_000_000,
            max_records: 1_000_000,
        }
    }
}

/// Why msgpack input could not be rendered. The input is rejected as a whole; nothing is guessed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The input ends inside an object, or a declared length exceeds the remaining input.
    #[error("truncated msgpack: the input ends inside an object")]
    Truncated,
    /// The reserved marker byte `0xc1` appears.
    #[error("invalid msgpack marker 0xc1")]
    InvalidMarker,
    /// Arrays and maps nest deeper than [`MAX_DEPTH`].
    #[error("msgpack nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A structural element has the wrong msgpack type or size.
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// Which element (for example "log event").
        what: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        found: &'static str,
    },
    /// A timestamp could not be turned into nanoseconds.
    #[error("invalid timestamp: {0}")]
    Timestamp(&'static str),
    /// Bytes remain after an object that was supposed to fill its slice.
    #[error("{0}: unexpected bytes after the msgpack object")]
    TrailingBytes(&'static str),
    /// A payload that must hold at least one object is empty.
    #[error("empty payload")]
    EmptyPayload,
    /// The JSON would pass [`RenderLimits::max_entry_bytes`]. Checked where one value can grow
    /// faster than its input (a map key that is itself a container is re-escaped at every level
    /// of such nesting, doubling its backslashes each time); elsewhere output grows in step with
    /// the input and the callers check the limit between records.
    #[error("the value renders to more than {limit} bytes of JSON (max_entry_size)")]
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

impl RenderError {
    /// A short machine-friendly label for counters (`reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            RenderError::Truncated => "truncated",
            RenderError::InvalidMarker => "invalid_marker",
            RenderError::TooDeep => "too_deep",
            RenderError::Shape { .. } => "shape",
            RenderError::Timestamp(_) => "timestamp",
            RenderError::TrailingBytes(_) => "trailing_bytes",
            RenderError::EmptyPayload => "empty_payload",
            RenderError::TooLarge { .. } => "entry_too_large",
        }
    }
}

impl From<msgpack::HeadError> for RenderError {
    fn from(e: msgpack::HeadError) -> Self {
        match e {
            msgpack::HeadError::Truncated { .. } => RenderError::Truncated,
            msgpack::HeadError::Reserved => RenderError::InvalidMarker,
        }
    }
}
