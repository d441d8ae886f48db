//! `vivo-loadgen`: an ingest load generator for vivo-exporter (or anything that speaks Fluent
//! Forward on this machine).
//!
//! It opens `--connections` connections to a loopback target and sends batches of events there,
//! at `--rate` events/s or as fast as the server takes them, for `--duration` or until
//! `--events` have been sent, then reports events/s, MB/s on the wire, frames and, with
//! `--ack`, acknowledgement latency percentiles. With `--wait-readable URL` it also polls the
//! read API until everything sent is readable and reports that time.
//!
//! ```text
//! vivo-loadgen --connections 4 --events-per-frame 1000 --events 2000000 \
//!              --wait-readable http://127.0.0.1:2025/logs
//! vivo-loadgen --rate 20000 --events-per-frame 10 --duration 30s --ack --json
//! ```
//!
//! The protocol sits behind the [`protocol::Protocol`] trait: Forward, OTLP/HTTP (protobuf
//! logs) and the HTTP JSON input.
//!
//! `vivo-loadgen followers …` is the other direction: thousands of SSE and long-poll followers
//! of the read API, and the delay from publish to each follower's receipt (see [`followers`]).

mod driver;
mod followers;
mod forward;
mod http;
mod protocol;
mod report;
mod target;

use clap::{Parser, ValueEnum};
use driver::{ConnectionStats, Plan};
use forward::{Forward, ForwardSettings};
use http::{Body, HttpProtocol, HttpSettings};
use protocol::Protocol;
use report::{AckLatency, Report};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use target::ReadApi;

/// Sends events to a loopback ingest port as fast as asked and reports what got through.
///
/// Only loopback targets are accepted (127.0.0.0/8, ::1, localhost).
#[derive(Parser, Debug)]
#[command(name = "vivo-loadgen", version, args_conflicts_with_subcommands = true)]
struct Cli {
    /// Another kind of run than ingest.
    #[command(subcommand)]
    command: Option<Command>,

    /// Wire protocol.
    #[arg(long, value_enum, default_value_t = ProtocolName::Forward)]
    protocol: ProtocolName,

    /// Ingest address (loopback only).
    #[arg(long, default_value = "127.0.0.1:24224", value_name = "HOST:PORT")]
    target: String,

    /// Concurrent connections.
    #[arg(long, default_value_t = 4, value_name = "N")]
    connections: usize,

    /// Events per message (Forward: records in one PackedForward frame).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    events_per_frame: u32,

    /// Approximate size of one event on the wire before compression, in bytes.
    #[arg(long, default_value_t = 100, value_name = "BYTES")]
    record_bytes: usize,

    /// Compress payloads (Forward: CompressedPackedForward, gzip).
    #[arg(long)]
    gzip: bool,

    /// Ask for an acknowledgement of every message and wait for it before sending the next one
    /// on that connection (Forward: the `chunk` option); reports ack latency percentiles.
    #[arg(long)]
    ack: bool,

    /// Events per second over all connections; 0 sends as fast as the server takes them.
    #[arg(long, default_value_t = 0, value_name = "EVENTS_PER_SEC")]
    rate: u64,

    /// With --rate: the least time between two wakes of a connection (e.g. 10ms); the messages
    /// that fall due meanwhile go out together in one write. 0 wakes for every message, which
    /// costs the generator a wakeup and a write per message.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    tick: Duration,

    /// How long to send (e.g. 10s, 2m). The default is 10s unless --events is given.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    duration: Option<Duration>,

    /// Events to send in total (rounded up to whole messages); the run ends at whichever of
    /// --events and --duration comes first.
    #[arg(long, value_name = "N")]
    events: Option<u64>,

    /// Message tag.
    #[arg(long, default_value = "loadgen")]
    tag: String,

    /// After sending, poll this read-API stream (e.g. http://127.0.0.1:2025/logs) until every
    /// message sent is readable (one message = one entry), and report the time it took.
    #[arg(long, value_name = "URL")]
    wait_readable: Option<String>,

    /// Give up waiting for --wait-readable after this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    readable_timeout: Duration,

    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,

    /// Runtime threads (default: one per CPU this process may run on).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// The runs other than ingest.
#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Fan-out: many SSE and long-poll followers of the read API, entries published at a
    /// steady rate, and the delay from publish to each follower's receipt.
    Followers(followers::FollowersArgs),
}

/// The protocols `--protocol` accepts.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ProtocolName {
    /// Fluent Forward: PackedForward frames, optionally gzip and `chunk` acks.
    Forward,
    /// OTLP/HTTP: protobuf `POST /v1/logs` requests, optionally gzip; one in flight per
    /// connection (--ack is implied).
    OtlpHttp,
    /// The `http` input: JSON arrays posted to `/<tag>`, optionally gzip; one in flight per
    /// connection.
    HttpJson,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Followers(args)) = &cli.command {
        return run_followers(args);
    }
    if let Err(message) = validate(&cli) {
        eprintln!("vivo-loadgen: {message}");
        return ExitCode::from(2);
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("vivo-loadgen: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&cli)) {
        Ok(report) if cli.json => {
            println!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("vivo-loadgen: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `vivo-loadgen followers`: its own runtime and report.
fn run_followers(args: &followers::FollowersArgs) -> ExitCode {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("vivo-loadgen: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(followers::run(args)) {
        Ok(report) if args.json => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            print!("{}", followers::text(&report));
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("vivo-loadgen followers: {message}");
            ExitCode::FAILURE
        }
    }
}

fn validate(cli: &Cli) -> Result<(), String> {
    if cli.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if cli.events_per_frame == 0 {
        return Err("--events-per-frame must be at least 1".into());
    }
    if cli.events == Some(0) {
        return Err("--events must be at least 1".into());
    }
    if cli.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    Ok(())
}

async fn run(cli: &Cli) -> Result<Report, String> {
    let target = target::loopback(&cli.target).await?;
    let read_api = match &cli.wait_readable {
        Some(url) => Some(ReadApi::parse(url).await?),
        None => None,
    };
    let protocol: Arc<dyn Protocol> = match cli.protocol {
        ProtocolName::Forward => Arc::new(Forward::new(ForwardSettings {
            tag: cli.tag.clone(),
            events_per_frame: cli.events_per_frame,
            record_bytes: cli.record_bytes,
            gzip: cli.gzip,
            ack: cli.ack,
        })),
        ProtocolName::OtlpHttp | ProtocolName::HttpJson => {
            Arc::new(HttpProtocol::new(HttpSettings {
                body: match cli.protocol {
                    ProtocolName::OtlpHttp => Body::OtlpLogs,
                    _ => Body::JsonRecords,
                },
                host: cli.target.clone(),
                tag: cli.tag.clone(),
                events_per_request: cli.events_per_frame,
                record_bytes: cli.record_bytes,
                gzip: cli.gzip,
            }))
        }
    };
    let per_message = protocol.events_per_message();
    let first_entry = match &read_api {
        Some(api) => Some(api.next_id().await?),
        None => None,
    };
    let mut connections = Vec::with_capacity(cli.connections);
    for _ in 0..cli.connections {
        let connection = tokio::net::TcpStream::connect(target)
            .await
            .map_err(|e| format!("cannot connect to {target}: {e}"))?;
        connection
            .set_nodelay(true)
            .map_err(|e| format!("{target}: {e}"))?;
        connections.push(connection);
    }
    let duration = match (cli.duration, cli.events) {
        (None, None) => Some(Duration::from_secs(10)),
        (duration, _) => duration,
    };
    let plan = Arc::new(Plan::new(
        cli.events.map(|events| events.div_ceil(per_message)),
        duration,
        (cli.rate > 0).then(|| cli.rate as f64 / per_message as f64),
        cli.tick,
    ));
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|connection| {
            let (protocol, plan) = (protocol.clone(), plan.clone());
            tokio::spawn(async move { driver::run_connection(connection, &*protocol, &plan).await })
        })
        .collect();
    let mut all = Vec::with_capacity(tasks.len());
    for task in tasks {
        all.push(task.await.map_err(|e| format!("connection task: {e}"))??);
    }
    let frames: u64 = all.iter().map(|s| s.messages).sum();
    let finished = all.iter().filter_map(|s| s.finished).max();
    let send_time = finished.map_or(Duration::ZERO, |f| f - plan.start());
    let readable_after = match (&read_api, first_entry) {
        (Some(api), Some(first)) => {
            api.wait_for(first + frames, cli.readable_timeout).await?;
            Some(plan.start().elapsed())
        }
        _ => None,
    };
    let mut latencies: Vec<Duration> = all
        .iter_mut()
        .flat_map(|s: &mut ConnectionStats| s.ack_latencies.drain(..))
        .collect();
    Ok(Report {
        protocol: protocol.name(),
        target: target.to_string(),
        connections: cli.connections,
        events_per_frame: per_message,
        rate: cli.rate,
        frames,
        events: frames * per_message,
        wire_bytes: all.iter().map(|s| s.bytes).sum(),
        send_time,
        readable_after,
        ack: AckLatency::from_samples(&mut latencies),
    })
}
