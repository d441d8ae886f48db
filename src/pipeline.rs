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
use crate::render::{RenderLimits, RenderOptions, Renderer};
use crate::signal::Signal;
use crate::telemetry::Telemetry;
use crossbeam_channel::{Receiver, Sender};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
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

    /// For inputs whose records can carry their own tags (`tag_key`): whether this batch may
    /// become several entries, one per tag. Such a batch is rendered with
    /// [`Batch::render_parts`] even when no output takes [`Batch::tag`].
    fn may_retag(&self) -> bool {
        false
    }

    /// Renders like [`Batch::render`], and records in `parts`, in order, where each tag's entry
    /// ends in `out` (a byte offset) and its tag. Left empty, the batch is one entry with
    /// [`Batch::tag`].
    fn render_parts(
        &self,
        renderer: &mut Renderer,
        out: &mut Vec<u8>,
        parts: &mut Vec<(usize, String)>,
    ) -> Result<u64, Rejection> {
        let _ = parts;
        self.render(renderer, out)
    }
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
    /// Rendering the batch panicked (a bug): the batch is refused, the pipeline goes on.
    pub fn panicked(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic");
        log::error!("[pipeline] rendering a batch panicked: {what}");
        Rejection {
            reason: "panic",
            detail: format!("rendering failed ({what})"),
        }
    }

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
    /// What one batch may render to (`max_entry_size`, `max_entry_records`).
    pub limits: RenderLimits,
    /// Bytes of submitted but unpublished batches allowed at once; submitters wait beyond it.
    pub inflight_bytes: usize,
}

struct Job {
    seq: u64,
    submitted: std::time::Instant,
    input: Arc<str>,
    batch: Box<dyn Batch>,
    done: Option<oneshot::Sender<Outcome>>,
    permit: OwnedSemaphorePermit,
}

struct Rendered {
    seq: u64,
    submitted: std::time::Instant,
    input: Arc<str>,
    signal: Signal,
    result: Result<RenderedText, Rejection>,
    done: Option<oneshot::Sender<Outcome>>,
    _permit: OwnedSemaphorePermit,
}

/// A rendered batch: its text, cut into entries, each routed to the outputs that take its tag.
struct RenderedText {
    text: Vec<u8>,
    /// The entries, one after the other in `text`.
    entries: Vec<RoutedEntry>,
    records: u64,
}

/// One entry of a rendered batch, made ready on the render worker so the publisher only
/// appends.
struct RoutedEntry {
    /// Where the entry ends in the batch's text (it starts where the previous one ends).
    end: usize,
    /// For logs, the entry's era-B/C envelope ([`crate::output::envelope`]); empty otherwise.
    envelope: Vec<u8>,
    /// The outputs that take the entry's tag.
    targets: Vec<usize>,
}

/// A cloneable handle inputs submit batches through. The pipeline stops once every handle is
/// dropped and the work in flight is published.
#[derive(Clone)]
pub struct PipelineHandle {
    workers: Arc<RenderPool>,
    next_seq: Arc<AtomicU64>,
    inflight: Arc<Semaphore>,
    inflight_limit: usize,
}

/// The `workers` pool and what its jobs need: where rendered batches go, the outputs they are
/// routed to, and the rendering options.
struct RenderPool {
    pool: rayon::ThreadPool,
    rendered: Sender<Rendered>,
    outputs: Arc<[VivoOutput]>,
    opts: RenderOptions,
    limits: RenderLimits,
}

/// The publisher thread, to wait for after the last handle is dropped.
pub struct PipelineThreads {
    publisher: JoinHandle<()>,
}

/// Starts the `settings.workers` render pool and the publisher thread.
pub fn start(
    outputs: Arc<[VivoOutput]>,
    settings: PipelineSettings,
    telemetry: Arc<Telemetry>,
) -> std::io::Result<(PipelineHandle, PipelineThreads)> {
    let (rendered_tx, rendered_rx) = crossbeam_channel::unbounded::<Rendered>();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.workers.max(1))
        .thread_name(|n| format!("render-{n}"))
        .build()
        .map_err(std::io::Error::other)?;
    let publisher = {
        let outputs = outputs.clone();
        std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || publish_loop(&rendered_rx, &outputs, &telemetry))?
    };
    let limit = settings.inflight_bytes.clamp(1, Semaphore::MAX_PERMITS);
    Ok((
        PipelineHandle {
            workers: Arc::new(RenderPool {
                pool,
                rendered: rendered_tx,
                outputs,
                opts: settings.render,
                limits: settings.limits,
            }),
            next_seq: Arc::new(AtomicU64::new(0)),
            inflight: Arc::new(Semaphore::new(limit)),
            inflight_limit: limit,
        },
        PipelineThreads { publisher },
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
        let weight = size.clamp(1, self.inflight_limit) as u32;
        let permit = self.inflight.clone().acquire_many_owned(weight).await.ok();
        self.queue(input, batch, permit)
    }

    /// [`PipelineHandle::submit`] for inputs that can tell their clients to come back later
    /// (HTTP): waits at most `wait` for room; `None` when the workers are that far behind.
    pub async fn submit_within(
        &self,
        input: Arc<str>,
        batch: Box<dyn Batch>,
        size: usize,
        wait: std::time::Duration,
    ) -> Option<oneshot::Receiver<Outcome>> {
        let weight = size.clamp(1, self.inflight_limit) as u32;
        let permit = tokio::time::timeout(wait, self.inflight.clone().acquire_many_owned(weight))
            .await
            .ok()?
            .ok();
        Some(self.queue(input, batch, permit))
    }

    /// Hands a batch holding `permit` to the pool (or refuses it: no permit means stopping).
    fn queue(
        &self,
        input: Arc<str>,
        batch: Box<dyn Batch>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> oneshot::Receiver<Outcome> {
        let (done_tx, done_rx) = oneshot::channel();
        let Some(permit) = permit else {
            let _ = done_tx.send(Outcome::Rejected(Rejection::stopping()));
            return done_rx;
        };
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            seq,
            submitted: std::time::Instant::now(),
            input,
            batch,
            done: Some(done_tx),
            permit,
        };
        let workers = self.workers.clone();
        self.workers.pool.spawn(move || workers.render(job));
        done_rx
    }
}

impl PipelineThreads {
    /// Waits until every submitted batch is published and the publisher has ended.
    pub fn join(self) {
        if self.publisher.join().is_err() {
            log::error!("the publisher thread panicked");
        }
    }
}

thread_local! {
    /// Each render thread's renderer and output buffer, reused from batch to batch; made on the
    /// thread's first batch, with its pool's options (a thread belongs to one pool).
    static SCRATCH: RefCell<Option<(Renderer, Vec<u8>)>> = const { RefCell::new(None) };
}

impl RenderPool {
    /// Renders one batch on the current pool thread and hands it to the publisher. A panic
    /// while rendering refuses that batch alone: the publisher still gets its sequence number,
    /// so the batches after it are published.
    fn render(&self, job: Job) {
        let batch = &job.batch;
        let result = if !batch.may_retag() && self.targets(batch.tag()).is_empty() {
            // Routed nowhere, as Fluent Bit drops a chunk no output matches: no need to render.
            Ok(RenderedText {
                text: Vec::new(),
                entries: Vec::new(),
                records: 0,
            })
        } else {
            SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let (renderer, out) = scratch.get_or_insert_with(|| {
                    (
                        Renderer::with_limits(self.opts, self.limits),
                        Vec::with_capacity(64 << 10),
                    )
                });
                out.clear();
                let mut parts = Vec::new();
                let rendered = catch_unwind(AssertUnwindSafe(|| {
                    batch.render_parts(renderer, out, &mut parts)
                }));
                match rendered {
                    // Hand the buffer over (the publisher copies it into the stream) and start
                    // the next batch in a fresh one of the same size: no copy here. Nothing to
                    // store (an empty message, only group markers): accepted, and no ID is used.
                    // Every input checks the limits as it renders; this catches what an input
                    // renders in one go (a metrics context) past them.
                    Ok(Ok(_)) if out.len() > self.limits.max_entry_bytes => Err(Rejection {
                        reason: "entry_too_large",
                        detail: format!(
                            "the batch renders to more than {} bytes of JSON (max_entry_size)",
                            self.limits.max_entry_bytes
                        ),
                    }),
                    Ok(Ok(records)) => {
                        let fresh = Vec::with_capacity(out.capacity().min(8 * 1024 * 1024));
                        let text = std::mem::replace(out, fresh);
                        let logs_input = (batch.signal() == Signal::Logs).then_some(&*job.input);
                        Ok(self.route(batch.tag(), logs_input, text, parts, records))
                    }
                    Ok(Err(rejection)) => Err(rejection),
                    Err(panic) => {
                        // Whatever state the panic left behind is dropped with it.
                        *scratch = None;
                        Err(Rejection::panicked(&*panic))
                    }
                }
            })
        };
        let message = Rendered {
            seq: job.seq,
            submitted: job.submitted,
            input: job.input,
            signal: job.batch.signal(),
            result,
            done: job.done,
            _permit: job.permit,
        };
        // The publisher ends only after every handle and every job is gone.
        let _ = self.rendered.send(message);
    }

    /// The outputs that take `tag`.
    fn targets(&self, tag: &str) -> Vec<usize> {
        self.outputs
            .iter()
            .enumerate()
            .filter(|(_, output)| output.matcher.matches(tag))
            .map(|(index, _)| index)
            .collect()
    }

    /// Cuts `text` into its entries (one, with `tag`, unless the batch recorded `parts`) and
    /// routes each; empty entries are dropped. `logs_input` names the input of a logs batch,
    /// whose entries get their era-B/C envelopes here.
    fn route(
        &self,
        tag: &str,
        logs_input: Option<&str>,
        text: Vec<u8>,
        parts: Vec<(usize, String)>,
        records: u64,
    ) -> RenderedText {
        let mut entries = Vec::new();
        let mut start = 0;
        let whole = [(text.len(), tag.to_string())];
        let parts: &[(usize, String)] = if parts.is_empty() { &whole } else { &parts };
        for (end, tag) in parts {
            let end = (*end).clamp(start, text.len());
            if end > start {
                entries.push(RoutedEntry {
                    end,
                    envelope: logs_input
                        .map_or_else(Vec::new, |input| crate::output::envelope(input, tag)),
                    targets: self.targets(tag),
                });
            }
            start = end;
        }
        RenderedText {
            text,
            entries,
            records,
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

/// What one publish appends to one stream: the entries' bytes and, for logs, each entry's
/// era-B/C envelope.
struct StreamBatch<'a> {
    key: StreamKey,
    entries: Vec<&'a [u8]>,
    envelopes: Vec<Vec<u8>>,
}

/// Appends a run of consecutive results to their streams (one swap per stream), then answers
/// each submitter.
fn publish_ready(ready: Vec<Rendered>, outputs: &[VivoOutput], telemetry: &Telemetry) {
    // Per stream: the entries, and for logs each entry's era-B/C envelope.
    let mut groups: Vec<StreamBatch> = Vec::new();
    for item in &ready {
        let Ok(rendered) = &item.result else { continue };
        let mut start = 0;
        for entry in &rendered.entries {
            let bytes = &rendered.text[start..entry.end];
            start = entry.end;
            for &target in &entry.targets {
                let key = (target, item.signal);
                let index = match groups.iter().position(|group| group.key == key) {
                    Some(index) => index,
                    None => {
                        groups.push(StreamBatch {
                            key,
                            entries: Vec::new(),
                            envelopes: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                let group = &mut groups[index];
                group.entries.push(bytes);
                if item.signal == Signal::Logs {
                    group.envelopes.push(entry.envelope.clone());
                }
            }
        }
    }
    for StreamBatch {
        key: (target, signal),
        entries,
        envelopes,
    } in groups
    {
        outputs[target].publish(signal, entries, envelopes);
    }
    for item in ready {
        let outcome = match item.result {
            Ok(RenderedText { records, .. }) => {
                telemetry.accepted(&item.input, records);
                telemetry.published_after(item.submitted.elapsed());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ReadSettings;
    use crate::tag_match::TagMatcher;

    /// A batch whose render is scripted: some lines, nothing, an error, or a panic.
    struct Scripted {
        tag: &'static str,
        lines: &'static [&'static str],
        fail: Option<&'static str>,
        panic: bool,
    }

    impl Scripted {
        fn lines(tag: &'static str, lines: &'static [&'static str]) -> Box<dyn Batch> {
            Box::new(Scripted {
                tag,
                lines,
                fail: None,
                panic: false,
            })
        }
    }

    impl Batch for Scripted {
        fn signal(&self) -> Signal {
            Signal::Logs
        }
        fn tag(&self) -> &str {
            self.tag
        }
        fn render(&self, _: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
            assert!(!self.panic, "scripted panic");
            if let Some(reason) = self.fail {
                return Err(Rejection {
                    reason,
                    detail: "scripted".into(),
                });
            }
            for line in self.lines {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            Ok(self.lines.len() as u64)
        }
    }

    /// Submits `batches` in order to a pipeline with `workers` workers and one output matching
    /// `app*`; returns the outcomes and the stream's text.
    fn run(workers: usize, batches: Vec<Box<dyn Batch>>) -> (Vec<Outcome>, String) {
        let telemetry = Arc::new(Telemetry::new());
        let output = VivoOutput::new(
            "vivo_exporter.0".into(),
            TagMatcher::Wildcard("app*".into()),
            1 << 20,
            ReadSettings::default(),
            &telemetry,
        );
        let outputs: Arc<[VivoOutput]> = vec![output].into();
        let settings = PipelineSettings {
            workers,
            render: RenderOptions::default(),
            limits: RenderLimits {
                max_entry_bytes: 100,
                max_records: 10,
            },
            inflight_bytes: 1 << 20,
        };
        let (handle, threads) = start(outputs.clone(), settings, telemetry).expect("starts");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let outcomes = runtime.block_on(async {
            let mut pending = Vec::new();
            for batch in batches {
                pending.push(handle.submit("test.0".into(), batch, 10).await);
            }
            let mut outcomes = Vec::new();
            for receiver in pending {
                outcomes.push(receiver.await.expect("an outcome"));
            }
            outcomes
        });
        drop(handle);
        threads.join();
        let snapshot = outputs[0].stream(Signal::Logs).snapshot();
        let text = (snapshot.oldest_id()..snapshot.next_id())
            .map(|id| String::from_utf8_lossy(snapshot.get(id).expect("held")).into_owned())
            .collect();
        (outcomes, text)
    }

    #[test]
    fn a_panicking_batch_is_refused_and_the_pipeline_goes_on() {
        let panicking = Box::new(Scripted {
            tag: "app",
            lines: &[],
            fail: None,
            panic: true,
        });
        let (outcomes, text) = run(
            2,
            vec![
                Scripted::lines("app", &["a"]),
                panicking,
                Scripted::lines("app", &["b", "c"]),
            ],
        );
        assert_eq!(outcomes[0], Outcome::Accepted { records: 1 });
        assert!(matches!(&outcomes[1], Outcome::Rejected(r) if r.reason == "panic"));
        assert_eq!(outcomes[2], Outcome::Accepted { records: 2 });
        assert_eq!(text, "a\nb\nc\n");
    }

    #[test]
    fn refused_empty_and_unrouted_batches_use_no_id() {
        let failing = Box::new(Scripted {
            tag: "app",
            lines: &["never"],
            fail: Some("malformed"),
            panic: false,
        });
        let (outcomes, text) = run(
            1,
            vec![
                failing,
                Scripted::lines("app", &[]),
                Scripted::lines("other", &["unrouted"]),
                Scripted::lines("app", &["kept"]),
            ],
        );
        assert!(matches!(&outcomes[0], Outcome::Rejected(r) if r.reason == "malformed"));
        assert_eq!(outcomes[1], Outcome::Accepted { records: 0 });
        assert_eq!(outcomes[2], Outcome::Accepted { records: 0 });
        assert_eq!(outcomes[3], Outcome::Accepted { records: 1 });
        // Only the last batch became an entry, and it is entry 0.
        assert_eq!(text, "kept\n");
    }

    #[test]
    fn a_batch_that_renders_past_max_entry_size_is_refused() {
        const LONG: &str = "0123456789012345678901234567890123456789012345678901234567890123456789";
        let (outcomes, text) = run(
            1,
            vec![
                Scripted::lines("app", &[LONG, LONG]),
                Scripted::lines("app", &["fits"]),
            ],
        );
        assert!(matches!(&outcomes[0], Outcome::Rejected(r) if r.reason == "entry_too_large"));
        assert_eq!(outcomes[1], Outcome::Accepted { records: 1 });
        assert_eq!(text, "fits\n");
    }

    #[test]
    fn ids_follow_submission_order_with_many_workers() {
        const LINES: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
        let batches = (0..400)
            .map(|n| Scripted::lines("app", std::slice::from_ref(&LINES[n % 8])))
            .collect();
        let (outcomes, text) = run(4, batches);
        assert!(outcomes
            .iter()
            .all(|o| *o == Outcome::Accepted { records: 1 }));
        let expected: String = (0..400).map(|n| format!("{}\n", n % 8)).collect();
        assert_eq!(text, expected);
    }
}
