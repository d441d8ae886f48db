//! The three kinds of telemetry the service keeps apart.

/// Which stream a batch belongs to: each signal has its own stream, IDs and byte budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Log records, served at `/logs` as one era-A line per record.
    Logs,
    /// cmetrics contexts, served at `/metrics` as one line per context.
    Metrics,
    /// ctraces contexts, served at `/traces` as one line per context.
    Traces,
}

impl Signal {
    /// Every signal, in the order streams are laid out.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

    /// The stream's name as used in its URL path (`/logs`) and in log lines.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        }
    }

    /// Position of this signal in [`Signal::ALL`], for per-signal arrays.
    pub fn index(self) -> usize {
        match self {
            Signal::Logs => 0,
            Signal::Metrics => 1,
            Signal::Traces => 2,
        }
    }
}
