//! What a run measured, as human text or JSON.

use serde_json::json;
use std::fmt;
use std::time::Duration;

/// Acknowledgement latency percentiles, from message written to ack read.
pub struct AckLatency {
    /// Acknowledgements received.
    pub count: usize,
    /// Percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl AckLatency {
    /// Percentiles of `latencies` (sorted in place); `None` when there are none.
    pub fn from_samples(latencies: &mut [Duration]) -> Option<AckLatency> {
        latencies.sort_unstable();
        let at = |p: f64| {
            let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
            latencies[rank - 1].as_secs_f64() * 1e3
        };
        (!latencies.is_empty()).then(|| AckLatency {
            count: latencies.len(),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        })
    }
}

/// The outcome of one run.
pub struct Report {
    /// Protocol name.
    pub protocol: &'static str,
    /// Where it sent.
    pub target: String,
    /// Connections used.
    pub connections: usize,
    /// Events per message.
    pub events_per_frame: u64,
    /// Requested events/s (0: as fast as possible).
    pub rate: u64,
    /// Messages sent.
    pub frames: u64,
    /// Events sent.
    pub events: u64,
    /// Bytes written to the connections.
    pub wire_bytes: u64,
    /// From the first write to the last write (or ack) of the run.
    pub send_time: Duration,
    /// From the first write until everything sent was readable (`--wait-readable`).
    pub readable_after: Option<Duration>,
    /// Acknowledgement latencies (`--ack`).
    pub ack: Option<AckLatency>,
}

impl Report {
    fn per_second(&self, count: u64, over: Duration) -> f64 {
        count as f64 / over.as_secs_f64().max(1e-9)
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "protocol": self.protocol,
            "target": self.target,
            "connections": self.connections,
            "events_per_frame": self.events_per_frame,
            "rate": self.rate,
            "frames": self.frames,
            "events": self.events,
            "wire_bytes": self.wire_bytes,
            "send_seconds": self.send_time.as_secs_f64(),
            "events_per_sec": self.per_second(self.events, self.send_time),
            "frames_per_sec": self.per_second(self.frames, self.send_time),
            "wire_mb_per_sec": self.per_second(self.wire_bytes, self.send_time) / 1e6,
            "readable_seconds": self.readable_after.map(|d| d.as_secs_f64()),
            "events_per_sec_until_readable":
                self.readable_after.map(|d| self.per_second(self.events, d)),
            "ack_latency_ms": self.ack.as_ref().map(|a| json!({
                "count": a.count,
                "p50": a.p50_ms,
                "p90": a.p90_ms,
                "p99": a.p99_ms,
                "max": a.max_ms,
            })),
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = match self.rate {
            0 => "max rate".to_string(),
            rate => format!("{rate} events/s asked"),
        };
        writeln!(
            f,
            "{} to {}: {} connection(s), {} events/frame, {rate}",
            self.protocol, self.target, self.connections, self.events_per_frame
        )?;
        writeln!(
            f,
            "sent      {} events in {} frames, {:.1} MB on the wire, in {:.3} s",
            self.events,
            self.frames,
            self.wire_bytes as f64 / 1e6,
            self.send_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "rate      {:.0} events/s, {:.0} frames/s, {:.1} MB/s",
            self.per_second(self.events, self.send_time),
            self.per_second(self.frames, self.send_time),
            self.per_second(self.wire_bytes, self.send_time) / 1e6
        )?;
        if let Some(readable) = self.readable_after {
            writeln!(
                f,
                "readable  all of it after {:.3} s: {:.0} events/s end to end",
                readable.as_secs_f64(),
                self.per_second(self.events, readable)
            )?;
        }
        if let Some(ack) = &self.ack {
            writeln!(
                f,
                "acks      {}: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
                ack.count, ack.p50_ms, ack.p90_ms, ack.p99_ms, ack.max_ms
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let ack = AckLatency::from_samples(&mut samples).unwrap();
        assert_eq!(ack.count, 100);
        assert_eq!((ack.p50_ms, ack.p99_ms, ack.max_ms), (50.0, 99.0, 100.0));
        assert!(AckLatency::from_samples(&mut []).is_none());
    }
}
