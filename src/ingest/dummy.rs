//! The `dummy` input, as in Fluent Bit: a fixed record generated at a rate, for trying the
//! service out (the seed's Getting Started) and for tests.

use crate::config::DummyInput;
use crate::pipeline::{Batch, PipelineHandle, Rejection};
use crate::render::Renderer;
use crate::signal::Signal;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A dummy input ready to run: its record and metadata already encoded as MessagePack once.
pub struct Dummy {
    instance: Arc<str>,
    tag: Arc<str>,
    record: Arc<[u8]>,
    metadata: Arc<[u8]>,
    settings: DummyInput,
}

/// One flush interval's worth of dummy events: one stream entry.
struct DummyBatch {
    tag: Arc<str>,
    record: Arc<[u8]>,
    metadata: Arc<[u8]>,
    timestamps: Vec<i64>,
}

impl Batch for DummyBatch {
    fn signal(&self) -> Signal {
        Signal::Logs
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        for &ts in &self.timestamps {
            renderer
                .write_log_record(out, &self.tag, ts, Some(&self.metadata), &self.record)
                .map_err(|e| Rejection {
                    reason: e.reason(),
                    detail: e.to_string(),
                })?;
        }
        Ok(self.timestamps.len() as u64)
    }
}

impl Dummy {
    /// Prepares the input; fails if `dummy` or `metadata` is not a JSON object.
    pub fn new(instance: &str, settings: DummyInput) -> Result<Self, String> {
        Ok(Dummy {
            instance: Arc::from(instance),
            tag: Arc::from(settings.tag.as_str()),
            record: json_object_to_msgpack("dummy", &settings.dummy)?.into(),
            metadata: json_object_to_msgpack("metadata", &settings.metadata)?.into(),
            settings,
        })
    }

    /// Generates events until `samples` are done (or forever), handing one batch to the
    /// pipeline per `flush` interval, as Fluent Bit does with its chunks.
    pub async fn run(self, pipeline: PipelineHandle, flush: Duration) {
        let s = &self.settings;
        let interval = if s.interval_sec > 0 || s.interval_nsec > 0 {
            Duration::from_secs(s.interval_sec) + Duration::from_nanos(s.interval_nsec)
        } else {
            Duration::from_secs(1) / s.rate.max(1)
        };
        let clock = EventClock::new(s.start_time_sec, s.start_time_nsec, s.fixed_timestamp);
        let samples = s.samples.filter(|&n| n > 0);
        let copies = s.copies.max(1) as usize;
        let mut generated = 0u64;
        let mut tick = tokio::time::interval(interval);
        let mut flush_tick = tokio::time::interval(flush);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Both intervals tick at once first; as in Fluent Bit, the first event comes one
        // interval after start, unless `flush_on_startup` makes one and flushes it at once.
        tick.tick().await;
        flush_tick.tick().await;
        if s.flush_on_startup && samples != Some(0) {
            generated += 1;
            self.submit(&pipeline, vec![clock.now(); copies]).await;
        }
        let mut pending: Vec<i64> = Vec::new();
        loop {
            let done = samples.is_some_and(|n| generated >= n);
            tokio::select! {
                // An event due at the same instant as a flush goes into that flush.
                biased;
                _ = tick.tick(), if !done => {
                    pending.extend(std::iter::repeat_n(clock.now(), copies));
                    generated += 1;
                }
                _ = flush_tick.tick() => {
                    if !pending.is_empty() {
                        self.submit(&pipeline, std::mem::take(&mut pending)).await;
                    } else if done {
                        return;
                    }
                }
            }
        }
    }

    async fn submit(&self, pipeline: &PipelineHandle, timestamps: Vec<i64>) {
        let size = timestamps.len() * (self.record.len() + self.metadata.len() + 32);
        let batch = DummyBatch {
            tag: self.tag.clone(),
            record: self.record.clone(),
            metadata: self.metadata.clone(),
            timestamps,
        };
        // The outcome needs no answer: a dummy has nobody to acknowledge.
        drop(
            pipeline
                .submit(self.instance.clone(), Box::new(batch), size)
                .await,
        );
    }
}

/// The timestamps of dummy events, as Fluent Bit's `in_dummy` gives them: the time of the event,
/// or the start time plus the time since start when `start_time_*` is set; with
/// `fixed_timestamp`, the first of these for every event.
struct EventClock {
    /// `start_time_sec`/`start_time_nsec`, in nanoseconds, when set.
    base: Option<i64>,
    fixed: bool,
    started: std::time::Instant,
    started_ns: i64,
}

impl EventClock {
    fn new(sec: Option<i64>, nsec: Option<i64>, fixed: bool) -> Self {
        let base = match (sec, nsec) {
            (None, None) => None,
            (sec, nsec) => Some(
                sec.unwrap_or(0)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(nsec.unwrap_or(0)),
            ),
        };
        EventClock {
            base,
            fixed,
            started: std::time::Instant::now(),
            started_ns: now_ns(),
        }
    }

    fn now(&self) -> i64 {
        let elapsed = || i64::try_from(self.started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        match (self.base, self.fixed) {
            (Some(base), true) => base,
            (Some(base), false) => base.saturating_add(elapsed()),
            (None, true) => self.started_ns,
            (None, false) => now_ns(),
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Encodes a JSON object (key order kept) as MessagePack, the form records travel in.
fn json_object_to_msgpack(key: &str, text: &str) -> Result<Vec<u8>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("'{key}' is not valid JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("'{key}' must be a JSON object"));
    }
    rmp_serde::to_vec(&value).map_err(|e| format!("'{key}' cannot be encoded: {e}"))
}
