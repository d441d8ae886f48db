//! The door of one listener: how many connections it holds at once (`max_connections`), so a
//! flood on one port cannot take the file descriptors every other listener needs. A connection
//! past the limit is closed as it arrives; each refusal is counted by reason and logged at a
//! limited rate. The gauge of open connections moves with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;

use crate::log_limit::LogLimit;
use crate::telemetry::Telemetry;

/// The connection limit and counters of one listener, shared by all its workers.
pub struct ConnectionGate {
    name: String,
    open: AtomicUsize,
    max: usize,
    gauge: Gauge,
    telemetry: Arc<Telemetry>,
    log_limit: LogLimit,
}

impl std::fmt::Debug for ConnectionGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionGate")
            .field("name", &self.name)
            .field("open", &self.open)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

/// One admitted connection; it leaves the gate when dropped.
#[derive(Debug)]
pub struct Admitted(Arc<ConnectionGate>);

impl ConnectionGate {
    /// The gate of listener `name` (`vivo_exporter.0`, `opentelemetry.0`, …), `max` at once.
    pub fn new(name: &str, max: usize, telemetry: Arc<Telemetry>) -> Arc<Self> {
        Arc::new(ConnectionGate {
            name: name.to_string(),
            open: AtomicUsize::new(0),
            max: max.max(1),
            gauge: telemetry.open_connections(name),
            telemetry,
            log_limit: LogLimit::default(),
        })
    }

    /// The listener's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lets a new connection in, or refuses it (counted and logged) when `max` are open.
    pub fn admit(self: &Arc<Self>, peer: impl std::fmt::Display) -> Option<Admitted> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        if before >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.refuse("connection_limit", || {
                format!(
                    "{peer}: closed, {} connections already open (max_connections)",
                    self.max
                )
            });
            return None;
        }
        self.gauge.inc();
        Some(Admitted(self.clone()))
    }

    /// Counts a connection this listener gave up on for `reason`, and logs `detail` at a
    /// limited rate.
    pub fn refuse(&self, reason: &'static str, detail: impl FnOnce() -> String) {
        self.telemetry.refused_connection(&self.name, reason);
        self.log_limit.log(log::Level::Warn, reason, || {
            format!("[{}] {}", self.name, detail())
        });
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_max_and_again_after_one_leaves() {
        let telemetry = Arc::new(Telemetry::new());
        let gate = ConnectionGate::new("test.0", 2, telemetry.clone());
        let first = gate.admit("a").expect("first");
        let _second = gate.admit("b").expect("second");
        assert!(gate.admit("c").is_none());
        drop(first);
        assert!(gate.admit("d").is_some());
        let text = telemetry.render(crate::telemetry::exposition::Format::Prometheus);
        assert!(
            text.contains(
                "vivo_listener_refused_connections_total{listener=\"test.0\",reason=\"connection_limit\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("vivo_listener_open_connections{listener=\"test.0\"} 1"),
            "{text}"
        );
    }
}
