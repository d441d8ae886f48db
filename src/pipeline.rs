//! The worker pool between ingest and streams: render each batch once, in parallel, then
//! publish in submission order.
//!
//! ```text
//! inputs ──submit──► jobs ──► workers (render JSON) ──► publisher (reorder by sequence,
//!                                                       route by tag, append to streams, ack)
//! ```
//! Every submission gets a sequence number; the single publisher thread appends results strictly
//! in that order, so stream IDs follow submission order whatever the number of workers, and
//! batches from one connection keep their order. The publisher is the only stream writer besides
//! `empty_stream_on_read` deletions.

use crate::output::VivoOutput;
use crate::render::{RenderOptions, Renderer};
use crate::signal::Signal;
use crate::telemetry::Telemetry;
use crossbeam_channel::{Receiver, Sender};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Something an input hands to the pipeline: one batch of one signal with one tag, which
/// becomes one stream entry (spec §13.7). Rendering happens on a worker thread.
pub trait Batch: Send + 'static {
    /// The stream the batch goes to.
    fn signal(&self) -> Signal;
    /// The tag outputs match on, and the era-A `_tag` of its log lines.
    fn tag(&self) -> &str;
    /// Appends the batch's JSON lines to `out` with the worker's renderer (whose scratch space
    /// is reused across batches); returns how many records (or contexts) it held. An error
    /// rejects the whole batch: it uses no ID and nothing of it is stored. A batch that
    /// renders nothing is accepted and stores nothing.
    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection>;
}

/// Why a batch was not stored: a short label for the counters (`reason`) and a sentence for
/// the log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Rejection {
    /// Machine-friendly cause (`malformed`, `decompress`, `stopping`, …).
    pub reason: &'static str,
    /// What was wrong, for people.
    pub detail: String,
}

impl Rejection {
    /// The pipeline is shutting down and takes no more work.
    pub fn stopping() -> Self {
        Rejection {
            reason: "stopping",
            detail: "the pipeline stopped".into(),
        }
    }
}

/// What became of a submitted batch, sent once it is published (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored in every matching output (possibly none). Safe to acknowledge.
    Accepted {
        /// Records (or contexts) it held.
        records: u64,
    },
    /// Not stored, with the reason.
    Rejected(Rejection),
}

/// Pipeline tuning, from the configuration.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// Render threads (`workers`).
    pub workers: usize,
    /// JSON rendering options (`json.escape_unicode`).
    pub render: RenderOptions,
    /// Bytes of submitted but unpublished batches allowed at once; submitters wait beyond it.
    pub inflight_bytes: usize,
}

struct Job {
    seq: u64,
    input: Arc<str>,
    batch: Box<dyn Batch>,
    done: Option<oneshot::Sender<Outcome>>,
    permit: OwnedSemaphorePermit,
}

struct Rendered {
    seq: u64,
    input: Arc<str>,
    signal: Signal,
    targets: Vec<usize>,
    result: Result<(Vec<u8>, u64), Rejection>,
    done: Option<oneshot::Sender<Outcome>>,
    _permit: OwnedSemaphorePermit,
}

/// A cloneable handle inputs submit batches through. The pipeline stops once every handle is
/// dropped and the work in flight is published.
#[derive(Clone)]
pub struct PipelineHandle {
    jobs: Sender<Job>,
    next_seq: Arc<AtomicU64>,
    inflight: Arc<Semaphore>,
    inflight_limit: usize,
}

/// The pipeline's threads, to wait for after the last handle is dropped.
pub struct PipelineThreads {
    threads: Vec<JoinHandle<()>>,
}

/// Starts `settings.workers` render threads and the publisher thread.
pub fn start(
    outputs: Arc<[VivoOutput]>,
    settings: PipelineSettings,
    telemetry: Arc<Telemetry>,
) -> std::io::Result<(PipelineHandle, PipelineThreads)> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
    let (rendered_tx, rendered_rx) = crossbeam_channel::unbounded::<Rendered>();
    let mut threads = Vec::new();
    for n in 0..settings.workers.max(1) {
        let jobs = jobs_rx.clone();
        let rendered = rendered_tx.clone();
        let outputs = outputs.clone();
        let opts = settings.render;
        threads.push(
            std::thread::Builder::new()
                .name(format!("render-{n}"))
                .spawn(move || render_loop(&jobs, &rendered, &outputs, opts))?,
        );
    }
    drop(rendered_tx);
    threads.push(
        std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || publish_loop(&rendered_rx, &outputs, &telemetry))?,
    );
    let limit = settings.inflight_bytes.clamp(1, Semaphore::MAX_PERMITS);
    Ok((
        PipelineHandle {
            jobs: jobs_tx,
            next_seq: Arc::new(AtomicU64::new(0)),
            inflight: Arc::new(Semaphore::new(limit)),
            inflight_limit: limit,
        },
        PipelineThreads { threads },
    ))
}

impl PipelineHandle {
    /// Queues a batch of about `size` bytes from input `input`, waiting while too much is in
    /// flight. The returned receiver yields the outcome once the batch is published or refused.
    /// Batches submitted one after another by the same caller are published in that order.
    pub async fn submit(
        &self,
        input: Arc<str>,
        batch: Box<dyn Batch>,
        size: usize,
    ) -> oneshot::Receiver<Outcome> {
        let (done_tx, done_rx) = oneshot::channel();
        let weight = size.clamp(1, self.inflight_limit) as u32;
        let Ok(permit) = self.inflight.clone().acquire_many_owned(weight).await else {
            let _ = done_tx.send(Outcome::Rejected(Rejection::stopping()));
            return done_rx;
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            seq,
            input,
            batch,
            done: Some(done_tx),
            permit,
        };
        if let Err(crossbeam_channel::SendError(job)) = self.jobs.send(job) {
            if let Some(done) = job.done {
                let _ = done.send(Outcome::Rejected(Rejection::stopping()));
            }
        }
        done_rx
    }
}

impl PipelineThreads {
    /// Waits until every submitted batch is published and the threads have ended.
    pub fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                log::error!("a pipeline thread panicked");
            }
        }
    }
}

fn render_loop(
    jobs: &Receiver<Job>,
    rendered: &Sender<Rendered>,
    outputs: &[VivoOutput],
    opts: RenderOptions,
) {
    let mut scratch = Vec::with_capacity(64 * 1024);
    let mut renderer = Renderer::new(opts);
    for job in jobs {
        let tag = job.batch.tag();
        let targets: Vec<usize> = outputs
            .iter()
            .enumerate()
            .filter(|(_, output)| output.matcher.matches(tag))
            .map(|(index, _)| index)
            .collect();
        let result = if targets.is_empty() {
            // Routed nowhere, as Fluent Bit drops a chunk no output matches: no need to render.
            Ok((Vec::new(), 0))
        } else {
            scratch.clear();
            match job.batch.render(&mut renderer, &mut scratch) {
                // Nothing to store (an empty message, only group markers): accepted, and no
                // ID is used, as an empty text is never stored.
                Ok(records) if scratch.is_empty() => Ok((Vec::new(), records)),
                // Hand the buffer over (the publisher copies it into the stream) and start the
                // next batch in a fresh one of the same size: no copy here.
                Ok(records) => {
                    let fresh = Vec::with_capacity(scratch.capacity().min(8 * 1024 * 1024));
                    Ok((std::mem::replace(&mut scratch, fresh), records))
                }
                Err(reason) => Err(reason),
            }
        };
        let message = Rendered {
            seq: job.seq,
            input: job.input,
            signal: job.batch.signal(),
            targets,
            result,
            done: job.done,
            _permit: job.permit,
        };
        if rendered.send(message).is_err() {
            return;
        }
    }
}

fn publish_loop(rendered: &Receiver<Rendered>, outputs: &[VivoOutput], telemetry: &Telemetry) {
    let mut pending: BTreeMap<u64, Rendered> = BTreeMap::new();
    let mut next_seq = 0u64;
    while let Ok(first) = rendered.recv() {
        pending.insert(first.seq, first);
        // Take whatever else is ready, so one snapshot swap can publish many entries.
        for more in rendered.try_iter().take(4096) {
            pending.insert(more.seq, more);
        }
        let mut ready = Vec::new();
        while let Some(item) = pending.remove(&next_seq) {
            next_seq += 1;
            ready.push(item);
        }
        publish_ready(ready, outputs, telemetry);
    }
}

/// One stream of one output: (output index, signal).
type StreamKey = (usize, Signal);

/// Appends a run of consecutive results to their streams (one swap per stream), then answers
/// each submitter.
fn publish_ready(ready: Vec<Rendered>, outputs: &[VivoOutput], telemetry: &Telemetry) {
    let mut groups: Vec<(StreamKey, Vec<&[u8]>)> = Vec::new();
    for item in &ready {
        if let Ok((bytes, _)) = &item.result {
            if bytes.is_empty() {
                continue;
            }
            for &target in &item.targets {
                let key = (target, item.signal);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, entries)) => entries.push(bytes),
                    None => groups.push((key, vec![bytes])),
                }
            }
        }
    }
    for ((target, signal), entries) in groups {
        outputs[target].publish(signal, entries);
    }
    for item in ready {
        let outcome = match item.result {
            Ok((_, records)) => {
                telemetry.accepted(&item.input, records);
                Outcome::Accepted { records }
            }
            Err(reason) => {
                // The submitter logs and counts it, naming its peer.
                log::debug!("[{}] batch rejected: {reason}", item.input);
                Outcome::Rejected(reason)
            }
        };
        if let Some(done) = item.done {
            let _ = done.send(outcome);
        }
    }
}
