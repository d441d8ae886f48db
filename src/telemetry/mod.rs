//! The service's own counters, exposed at `/internal/metrics` in the format the scraper asks
//! for ([`exposition`]).
//!
//! Counters are bumped on the ingest and publish paths; the read path touches one counter per
//! request (requests by status, a handle kept by the handler, so no lookup), so readers share
//! one cache line at most.

pub mod cmetrics;
pub mod exposition;

use crate::signal::Signal;
use exposition::Format;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Label set naming a stream.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabel {
    output: String,
    stream: &'static str,
}

/// Label set naming an input instance.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputLabel {
    input: String,
}

/// Label set naming an input instance and why something happened there.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputReasonLabel {
    input: String,
    reason: String,
}

/// Per-stream counters, kept as handles so the publisher never looks them up.
#[derive(Clone)]
pub struct StreamCounters {
    /// Entries appended.
    pub published_entries: Counter,
    /// Rendered bytes appended.
    pub published_bytes: Counter,
    /// Entries removed to stay within `stream_queue_size`.
    pub evicted_entries: Counter,
    /// Entries removed by `empty_stream_on_read`.
    pub deleted_entries: Counter,
    /// Entries held now.
    pub held_entries: Gauge,
    /// Bytes held now.
    pub held_bytes: Gauge,
}

/// The per-stream families, from which each output's stream takes its handles.
struct StreamFamilies {
    published: Family<StreamLabel, Counter>,
    published_bytes: Family<StreamLabel, Counter>,
    evicted: Family<StreamLabel, Counter>,
    deleted: Family<StreamLabel, Counter>,
    held: Family<StreamLabel, Gauge>,
    held_bytes: Family<StreamLabel, Gauge>,
}

/// Every counter the service keeps, and the registry that renders them.
pub struct Telemetry {
    registry: Registry,
    stream_families: StreamFamilies,
    accepted_batches: Family<InputLabel, Counter>,
    accepted_records: Family<InputLabel, Counter>,
    rejected: Family<InputReasonLabel, Counter>,
    tolerated: Family<InputReasonLabel, Counter>,
    dropped_entries: Family<InputReasonLabel, Counter>,
    connections: Family<InputLabel, Counter>,
    open_connections: Family<ListenerLabel, Gauge>,
    refused_connections: Family<ListenerReasonLabel, Counter>,
    read_requests: Family<StatusLabel, Counter>,
    publish_seconds: Histogram,
}

/// Label set naming a listener (an input instance or an output's read API).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabel {
    listener: String,
}

/// Label set naming a listener and why it gave up on a connection.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerReasonLabel {
    listener: String,
    reason: &'static str,
}

/// Label set of a read request: the output and the answer's status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    output: String,
    status: u16,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Creates and registers every counter.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vivo");
        let published = Family::<StreamLabel, Counter>::default();
        let published_bytes = Family::<StreamLabel, Counter>::default();
        let evicted = Family::<StreamLabel, Counter>::default();
        let deleted = Family::<StreamLabel, Counter>::default();
        let held = Family::<StreamLabel, Gauge>::default();
        let held_bytes = Family::<StreamLabel, Gauge>::default();
        let stream_families = StreamFamilies {
            published: published.clone(),
            published_bytes: published_bytes.clone(),
            evicted: evicted.clone(),
            deleted: deleted.clone(),
            held: held.clone(),
            held_bytes: held_bytes.clone(),
        };
        registry.register(
            "stream_published_entries",
            "Entries appended to a stream",
            published,
        );
        registry.register(
            "stream_published_bytes",
            "Rendered bytes appended to a stream",
            published_bytes,
        );
        registry.register(
            "stream_evicted_entries",
            "Entries evicted to stay within stream_queue_size",
            evicted,
        );
        registry.register(
            "stream_deleted_entries",
            "Entries deleted by empty_stream_on_read",
            deleted,
        );
        registry.register("stream_entries", "Entries held in a stream", held);
        registry.register(
            "stream_bytes",
            "Rendered bytes held in a stream",
            held_bytes,
        );
        let accepted_batches = Family::default();
        let accepted_records = Family::default();
        let rejected = Family::default();
        let tolerated = Family::default();
        let dropped_entries = Family::default();
        let connections = Family::default();
        let open_connections = Family::default();
        let refused_connections = Family::default();
        let read_requests = Family::default();
        // From 100 µs to about 1.6 s: a publish is one snapshot swap per stream.
        let publish_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 15));
        registry.register(
            "input_accepted_batches",
            "Batches accepted from an input",
            accepted_batches.clone(),
        );
        registry.register(
            "input_accepted_records",
            "Records or contexts accepted from an input",
            accepted_records.clone(),
        );
        registry.register(
            "input_rejected",
            "Messages or connections rejected by an input, by reason",
            rejected.clone(),
        );
        registry.register(
            "input_tolerated",
            "Messages accepted despite a deviation from the protocol, by kind",
            tolerated.clone(),
        );
        registry.register(
            "input_dropped_entries",
            "Malformed entries dropped from messages whose other entries were stored, by reason",
            dropped_entries.clone(),
        );
        registry.register(
            "input_connections",
            "Connections accepted by an input",
            connections.clone(),
        );
        registry.register(
            "listener_open_connections",
            "Connections open now, per listener",
            open_connections.clone(),
        );
        registry.register(
            "listener_refused_connections",
            "Connections an HTTP or gRPC listener closed before serving them, by reason",
            refused_connections.clone(),
        );
        registry.register(
            "read_requests",
            "Read API requests answered, by output and status code",
            read_requests.clone(),
        );
        registry.register(
            "publish_seconds",
            "Time from a batch's submission to its publication",
            publish_seconds.clone(),
        );
        Telemetry {
            registry,
            open_connections,
            refused_connections,
            read_requests,
            publish_seconds,
            stream_families,
            accepted_batches,
            accepted_records,
            rejected,
            tolerated,
            dropped_entries,
            connections,
        }
    }

    /// The counters of one output's stream, as handles its publisher keeps.
    pub fn stream_counters(&self, output: &str, signal: Signal) -> StreamCounters {
        let label = StreamLabel {
            output: output.to_string(),
            stream: signal.name(),
        };
        let f = &self.stream_families;
        StreamCounters {
            published_entries: f.published.get_or_create(&label).clone(),
            published_bytes: f.published_bytes.get_or_create(&label).clone(),
            evicted_entries: f.evicted.get_or_create(&label).clone(),
            deleted_entries: f.deleted.get_or_create(&label).clone(),
            held_entries: f.held.get_or_create(&label).clone(),
            held_bytes: f.held_bytes.get_or_create(&label).clone(),
        }
    }

    /// Counts a batch accepted from `input` holding `records` records (or contexts).
    pub fn accepted(&self, input: &str, records: u64) {
        let label = InputLabel {
            input: input.to_string(),
        };
        self.accepted_batches.get_or_create(&label).inc();
        self.accepted_records.get_or_create(&label).inc_by(records);
    }

    /// Counts something `input` refused, with a short machine-friendly reason.
    pub fn rejected(&self, input: &str, reason: &str) {
        let label = InputReasonLabel {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        self.rejected.get_or_create(&label).inc();
    }

    /// Counts a message `input` accepted although it deviates from the protocol in a way real
    /// producers do (`reason`: `size_mismatch`, `embedded_message`, `extra_elements`,
    /// `ignored_option`).
    pub fn tolerated(&self, input: &str, reason: &str) {
        let label = InputReasonLabel {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        self.tolerated.get_or_create(&label).inc();
    }

    /// Counts `count` malformed entries `input` dropped from a message it otherwise stored.
    pub fn dropped_entries(&self, input: &str, reason: &str, count: u64) {
        let label = InputReasonLabel {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        self.dropped_entries.get_or_create(&label).inc_by(count);
    }

    /// Counts a connection accepted by `input`.
    pub fn connection(&self, input: &str) {
        let label = InputLabel {
            input: input.to_string(),
        };
        self.connections.get_or_create(&label).inc();
    }

    /// The gauge of connections open now on `listener`, for its accept loop to move.
    pub fn open_connections(&self, listener: &str) -> Gauge {
        let label = ListenerLabel {
            listener: listener.to_string(),
        };
        self.open_connections.get_or_create(&label).clone()
    }

    /// Counts a connection `listener` closed before serving it (`connection_limit`,
    /// `tls_handshake`, `tls_timeout`).
    pub fn refused_connection(&self, listener: &str, reason: &'static str) {
        let label = ListenerReasonLabel {
            listener: listener.to_string(),
            reason,
        };
        self.refused_connections.get_or_create(&label).inc();
    }

    /// The counter of read requests of `output` answered with `status`, for a handler to keep.
    pub fn read_requests(&self, output: &str, status: u16) -> Counter {
        let label = StatusLabel {
            output: output.to_string(),
            status,
        };
        self.read_requests.get_or_create(&label).clone()
    }

    /// Records how long a batch took from submission to publication.
    pub fn published_after(&self, elapsed: std::time::Duration) {
        self.publish_seconds.observe(elapsed.as_secs_f64());
    }

    /// Every counter in `format`, families in registration order and the samples of each
    /// counter or gauge sorted by their labels, so two scrapes line up.
    pub fn render(&self, format: Format) -> String {
        exposition::encode(&self.registry, format)
    }
}

/// One open connection on a listener's gauge, for as long as the guard lives.
pub struct OpenConnection(Gauge);

impl OpenConnection {
    /// Counts one more open connection on `gauge`.
    pub fn new(gauge: Gauge) -> Self {
        gauge.inc();
        OpenConnection(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_their_labels() {
        let telemetry = Telemetry::new();
        telemetry.accepted("forward.0", 1000);
        telemetry.accepted("forward.0", 24);
        telemetry.rejected("forward.0", "shape");
        telemetry.rejected("forward.0", "shape");
        telemetry.rejected("forward.1", "too_large");
        telemetry.tolerated("forward.0", "size_mismatch");
        telemetry.dropped_entries("forward.0", "timestamp", 3);
        telemetry.connection("forward.0");
        let stream = telemetry.stream_counters("vivo_exporter.0", Signal::Traces);
        stream.published_entries.inc_by(5);
        stream.held_bytes.set(1234);
        let text = telemetry.render(Format::Prometheus);
        for line in [
            "vivo_input_accepted_batches_total{input=\"forward.0\"} 2",
            "vivo_input_accepted_records_total{input=\"forward.0\"} 1024",
            "vivo_input_rejected_total{input=\"forward.0\",reason=\"shape\"} 2",
            "vivo_input_rejected_total{input=\"forward.1\",reason=\"too_large\"} 1",
            "vivo_input_tolerated_total{input=\"forward.0\",reason=\"size_mismatch\"} 1",
            "vivo_input_dropped_entries_total{input=\"forward.0\",reason=\"timestamp\"} 3",
            "vivo_input_connections_total{input=\"forward.0\"} 1",
            "vivo_stream_published_entries_total{output=\"vivo_exporter.0\",stream=\"traces\"} 5",
            "vivo_stream_bytes{output=\"vivo_exporter.0\",stream=\"traces\"} 1234",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing in:\n{text}"
            );
        }
        // Two renders of the same counters are the same text (sorted series).
        assert_eq!(text, telemetry.render(Format::Prometheus));
    }
}
