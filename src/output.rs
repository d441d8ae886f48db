//! One `vivo_exporter` output instance: its tag matcher, its three streams and read settings.

use crate::signal::Signal;
use crate::stream::{Change, Stream};
use crate::tag_match::TagMatcher;
use crate::telemetry::{StreamCounters, Telemetry};

/// The read-side settings of an output, fixed at start.
#[derive(Clone, Debug, Default)]
pub struct ReadSettings {
    /// `empty_stream_on_read`: a GET deletes the entries up to the last one it served.
    pub empty_stream_on_read: bool,
    /// `http_cors_allow_origin`: when set, sent as `Access-Control-Allow-Origin` with the other CORS headers.
    pub cors_allow_origin: Option<String>,
    /// `http_max_wait`: the longest a long-poll waits, whatever its `wait` asks.
    pub max_wait: std::time::Duration,
    /// `Cache-Control` of closed ranges (`public, max-age=N`) with `http_cache_max_age` above
    /// 0; `None`: `no-store`, as for every other answer.
    pub cache_control: Option<actix_web::http::header::HeaderValue>,
    /// `http_max_entries`: the most entries one answer serves, whatever its `limit` asks (0:
    /// no cap). A reader pages on with `Vivo-Stream-Next-ID`.
    pub max_entries: u64,
}

/// A `vivo_exporter` output: the streams one HTTP listener serves and the tags it takes.
pub struct VivoOutput {
    /// The instance name (`vivo_exporter.0`), used in log lines and counters.
    pub instance: String,
    /// Which batches this output takes.
    pub matcher: TagMatcher,
    /// How reads behave.
    pub settings: ReadSettings,
    streams: [Stream; 3],
    /// For each logs entry (same IDs), the head of its era-B/C object: `{"source_type":…,
    /// "source_name":…,"tag":…` (see [`envelope`]).
    envelopes: Stream,
    counters: [StreamCounters; 3],
}

/// The head of an entry's era-B/C object (spec §7.2) for a batch from input instance `input`
/// (`forward.0`: plugin `forward`) with `tag`: `{"source_type":"forward",
/// "source_name":"forward.0","tag":"app"`, to be followed by `,"records":[…]}`.
pub fn envelope(input: &str, tag: &str) -> Vec<u8> {
    let plugin = input.rsplit_once('.').map_or(input, |(plugin, _)| plugin);
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string());
    format!(
        "{{\"source_type\":{},\"source_name\":{},\"tag\":{}",
        quoted(plugin),
        quoted(input),
        quoted(tag)
    )
    .into_bytes()
}

impl VivoOutput {
    /// An output with empty streams of `stream_queue_size` bytes each.
    pub fn new(
        instance: String,
        matcher: TagMatcher,
        stream_queue_size: u64,
        settings: ReadSettings,
        telemetry: &Telemetry,
    ) -> Self {
        let counters = Signal::ALL.map(|signal| telemetry.stream_counters(&instance, signal));
        VivoOutput {
            instance,
            matcher,
            settings,
            streams: Signal::ALL.map(|_| Stream::new(stream_queue_size)),
            // Never evicted by its own budget: it drops what the logs stream drops, in step,
            // so it holds the envelopes of exactly the entries held (some 80 bytes each).
            envelopes: Stream::new(u64::MAX),
            counters,
        }
    }

    /// The stream for one signal, for readers.
    pub fn stream(&self, signal: Signal) -> &Stream {
        &self.streams[signal.index()]
    }

    /// The era-B/C envelopes of the logs entries, under the same IDs.
    pub fn envelopes(&self) -> &Stream {
        &self.envelopes
    }

    /// Appends rendered entries to a stream and counts what happened. For logs, `envelopes`
    /// has one per entry (published first, so a reader never finds an entry without one);
    /// for the other signals it is empty.
    pub fn publish<B: AsRef<[u8]>>(
        &self,
        signal: Signal,
        entries: Vec<B>,
        envelopes: Vec<Vec<u8>>,
    ) {
        let count = entries.len() as u64;
        let bytes: u64 = entries.iter().map(|b| b.as_ref().len() as u64).sum();
        if signal == Signal::Logs {
            debug_assert_eq!(envelopes.len(), entries.len());
            // One per entry whatever was passed, so the IDs of the two streams never part (an
            // empty envelope reads as a missing one).
            let mut envelopes = envelopes;
            envelopes.resize(entries.len(), Vec::new());
            self.envelopes.publish(envelopes);
        }
        let (ids, change) = self.stream(signal).publish(entries);
        if signal == Signal::Logs && change.removed_entries > 0 {
            let oldest = self.stream(signal).peek().oldest_id();
            self.envelopes.delete_through(oldest.saturating_sub(1));
        }
        log::debug!(
            "[output:vivo_exporter:{}] /{}: published IDs {}..={} ({bytes} bytes), evicted {}",
            self.instance,
            signal.name(),
            ids.start,
            ids.end.saturating_sub(1),
            change.removed_entries
        );
        let counters = &self.counters[signal.index()];
        counters.published_entries.inc_by(count);
        counters.published_bytes.inc_by(bytes);
        counters.evicted_entries.inc_by(change.removed_entries);
        self.update_held(signal);
    }

    /// `empty_stream_on_read`: deletes the entries up to `last` after a GET served them.
    pub fn delete_through(&self, signal: Signal, last: u64) -> Change {
        let change = self.stream(signal).delete_through(last);
        if signal == Signal::Logs {
            self.envelopes.delete_through(last);
        }
        self.counters[signal.index()]
            .deleted_entries
            .inc_by(change.removed_entries);
        self.update_held(signal);
        change
    }

    fn update_held(&self, signal: Signal) {
        let snapshot = self.stream(signal).snapshot();
        let counters = &self.counters[signal.index()];
        counters.held_entries.set(snapshot.len() as i64);
        counters.held_bytes.set(snapshot.bytes() as i64);
    }
}
