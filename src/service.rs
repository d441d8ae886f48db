//! The whole service: outputs with their streams and HTTP servers, the pipeline, the inputs;
//! started from a [`Config`] and stopped gracefully.

use crate::api;
use crate::config::HttpListener;
use crate::config::{Config, InputConfig};
use crate::http::body::BodyLimits;
use crate::http::{BoundServer, ConnectionGate, HttpSettings, RunningServer};
use crate::ingest::budget::FrameBudget;
use crate::ingest::dummy::Dummy;
use crate::ingest::forward::listener::ForwardListener;
use crate::ingest::http_json::{self, HttpJsonState};
use crate::ingest::otlp::listener::OtlpListener;
use crate::output::{ReadSettings, VivoOutput};
use crate::pipeline::{self, PipelineHandle, PipelineSettings, PipelineThreads};
use crate::render::{RenderLimits, RenderOptions};
use crate::tag_match::TagMatcher;
use crate::telemetry::Telemetry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind its address.
    #[error("{what}: cannot listen on {addr}: {source}")]
    Bind {
        /// Which component (`vivo_exporter.0`, `forward.0`).
        what: String,
        /// The address asked for.
        addr: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A setting that passed parsing cannot be used (an invalid regex, bad dummy JSON…).
    #[error("{what}: {message}")]
    Invalid {
        /// Which component.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// Threads or the runtime could not be created.
    #[error("cannot start: {0}")]
    Runtime(#[from] std::io::Error),
}

/// A running service. Dropping it without [`Service::stop`] ends it abruptly.
pub struct Service {
    outputs: Arc<[VivoOutput]>,
    telemetry: Arc<Telemetry>,
    api_servers: Vec<RunningServer>,
    runtime: tokio::runtime::Runtime,
    inputs: Vec<tokio::task::JoinHandle<()>>,
    input_servers: Vec<RunningServer>,
    forward_addrs: Vec<SocketAddr>,
    otlp_addrs: Vec<OtlpAddrs>,
    http_json_addrs: Vec<SocketAddr>,
    /// SIGTERM and SIGINT, caught from before the first listener is announced.
    signals: Option<StopSignals>,
    pipeline: PipelineHandle,
    pipeline_threads: PipelineThreads,
    grace: Duration,
}

/// An input that is ready to run: bound (Forward, OpenTelemetry, HTTP) or built (dummy).
enum ReadyInput {
    Dummy(Dummy),
    Forward(ForwardListener),
    OpenTelemetry(OtlpListener),
    Http(BoundServer),
}

/// Where an `opentelemetry` input listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OtlpAddrs {
    /// OTLP/HTTP.
    pub http: SocketAddr,
    /// OTLP/gRPC, when `grpc` is on.
    pub grpc: Option<SocketAddr>,
}

impl Service {
    /// Builds every component of `config`, binds every listener, and only then says where it
    /// listens and starts serving, so a failed start logs nothing but the failure. Returns once
    /// every listener is bound, so the addresses are final.
    pub fn start(config: &Config) -> Result<Service, StartError> {
        let telemetry = Arc::new(Telemetry::new());
        let outputs = build_outputs(config, &telemetry)?;
        let workers = config.outputs.iter().map(|o| o.workers).max().unwrap_or(1);
        let limits = render_limits(config);
        let (pipeline, pipeline_threads) = pipeline::start(
            outputs.clone(),
            PipelineSettings {
                workers,
                render: RenderOptions {
                    escape_unicode: config.service.json_escape_unicode,
                },
                limits,
                // Enough to keep every worker busy; beyond it, back-pressure goes to the senders
                // through TCP instead of into memory.
                inflight_bytes: 16 * 1024 * 1024,
            },
            telemetry.clone(),
        )?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ingest")
            .enable_all()
            .build()?;
        // From here on SIGTERM and SIGINT stop the service cleanly: a supervisor that signals as
        // soon as it reads "listening" must not kill it half-started.
        let signals = {
            let _inside = runtime.enter();
            StopSignals::catch()
        };
        let read_apis = bind_read_apis(config, &outputs, &telemetry)?;
        let inputs = runtime.block_on(bind_inputs(config, &pipeline, &telemetry, limits))?;
        for (o, server) in config.outputs.iter().zip(&read_apis) {
            for addr in server.addrs() {
                log::info!(
                    "[output:vivo_exporter:{}] listening iface={} tcp_port={}",
                    o.instance,
                    addr.ip(),
                    addr.port()
                );
            }
        }
        let mut forward_addrs = Vec::new();
        let mut otlp_addrs = Vec::new();
        let mut http_json_addrs = Vec::new();
        for (instance, input) in &inputs {
            match input {
                ReadyInput::Forward(listener) => {
                    forward_addrs.push(listener.local_addr()?);
                    log::info!(
                        "[input:forward:{instance}] listening on {}",
                        listener.describe()?
                    );
                }
                ReadyInput::OpenTelemetry(listener) => {
                    if let Some(http) = listener.http_addr() {
                        otlp_addrs.push(OtlpAddrs {
                            http,
                            grpc: listener.grpc_addr(),
                        });
                    }
                    log::info!(
                        "[input:opentelemetry:{instance}] listening: {}",
                        listener.describe()
                    );
                }
                ReadyInput::Http(server) => {
                    http_json_addrs.extend(server.addrs().first().copied());
                    for addr in server.addrs() {
                        log::info!("[input:http:{instance}] listening on {addr}");
                    }
                }
                ReadyInput::Dummy(_) => {}
            }
        }
        let api_servers = read_apis
            .into_iter()
            .map(|server| server.start(runtime.handle()))
            .collect();
        let mut input_tasks = Vec::new();
        let mut input_servers = Vec::new();
        for (_, input) in inputs {
            match input {
                ReadyInput::Dummy(dummy) => input_tasks
                    .push(runtime.spawn(dummy.run(pipeline.clone(), config.service.flush))),
                ReadyInput::Forward(listener) => input_tasks.push(runtime.spawn(listener.run())),
                ReadyInput::OpenTelemetry(listener) => {
                    input_servers.extend(listener.start(runtime.handle()).servers);
                }
                ReadyInput::Http(server) => input_servers.push(server.start(runtime.handle())),
            }
        }
        Ok(Service {
            outputs,
            telemetry,
            api_servers,
            runtime,
            inputs: input_tasks,
            input_servers,
            forward_addrs,
            otlp_addrs,
            http_json_addrs,
            signals,
            pipeline,
            pipeline_threads,
            grace: config.service.grace,
        })
    }

    /// The addresses the read API of output `index` listens on.
    pub fn http_addrs(&self, index: usize) -> &[SocketAddr] {
        self.api_servers
            .get(index)
            .map_or(&[], |server| server.addrs())
    }

    /// Where the `opentelemetry` inputs listen, in configuration order.
    pub fn otlp_addrs(&self) -> &[OtlpAddrs] {
        &self.otlp_addrs
    }

    /// Where the `http` inputs listen, in configuration order.
    pub fn http_json_addrs(&self) -> &[SocketAddr] {
        &self.http_json_addrs
    }

    /// The TCP addresses the Forward inputs listen on, in configuration order.
    pub fn forward_addrs(&self) -> Vec<SocketAddr> {
        self.forward_addrs.clone()
    }

    /// The outputs, for in-process callers (tests, benchmarks).
    pub fn outputs(&self) -> &Arc<[VivoOutput]> {
        &self.outputs
    }

    /// The service's counters.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// A handle to submit batches directly, for in-process producers.
    pub fn pipeline(&self) -> &PipelineHandle {
        &self.pipeline
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub fn run_until_signal(mut self) {
        let signals = self.signals.take();
        let (signalled, signals) = self.runtime.block_on(async {
            match signals {
                Some(mut signals) => (Ok(signals.wait().await), Some(signals)),
                None => (tokio::signal::ctrl_c().await.map(|_| "SIGINT"), None),
            }
        });
        match signalled {
            Ok(name) => log::info!("[engine] caught signal ({name}), shutting down"),
            Err(err) => log::error!("[engine] cannot wait for signals ({err}), shutting down"),
        }
        // A second signal during the stop ends the process at once.
        if let Some(mut signals) = signals {
            self.runtime.spawn(async move {
                let name = signals.wait().await;
                log::warn!("[engine] caught a second signal ({name}), exiting at once");
                std::process::exit(1);
            });
        }
        self.stop();
    }

    /// Stops the inputs (the HTTP ones answer their requests in flight first), publishes what
    /// is already in the pipeline (within `grace`), then stops the read APIs.
    pub fn stop(self) {
        for input in &self.inputs {
            input.abort();
        }
        // An HTTP input holds a pipeline handle until its server has stopped.
        self.runtime.block_on(async {
            for server in self.input_servers {
                server.stop().await;
            }
        });
        drop(self.pipeline);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let threads = self.pipeline_threads;
        std::thread::spawn(move || {
            threads.join();
            let _ = done_tx.send(());
        });
        if done_rx.recv_timeout(self.grace).is_err() {
            log::warn!("[engine] pipeline did not drain within the grace period");
        }
        self.runtime.block_on(async {
            for server in self.api_servers {
                server.stop().await;
            }
        });
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// The stop signals, caught once [`StopSignals::catch`] has run (SIGTERM and SIGINT on Unix).
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers now; `None` where the platform refuses (then Ctrl-C alone stops).
    fn catch() -> Option<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Some(StopSignals {
                term: signal(SignalKind::terminate()).ok()?,
                int: signal(SignalKind::interrupt()).ok()?,
            })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Waits for the next signal; returns its name.
    async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self;
            "SIGINT"
        }
    }
}

/// What one batch may render to. Batches are rendered once for every output, so the largest
/// caps of the outputs apply.
fn render_limits(config: &Config) -> RenderLimits {
    RenderLimits {
        max_entry_bytes: config
            .outputs
            .iter()
            .map(|o| usize::try_from(o.entry_limit()).unwrap_or(usize::MAX))
            .max()
            .unwrap_or(usize::MAX),
        max_records: config
            .outputs
            .iter()
            .map(|o| o.max_entry_records)
            .max()
            .unwrap_or(u64::MAX),
    }
}

/// Every output with its streams and tag matcher.
fn build_outputs(config: &Config, telemetry: &Telemetry) -> Result<Arc<[VivoOutput]>, StartError> {
    let outputs = config
        .outputs
        .iter()
        .map(|o| {
            let matcher = match (&o.match_regex, &o.match_pattern) {
                (Some(re), _) => {
                    TagMatcher::Regex(regex::Regex::new(re).map_err(|e| StartError::Invalid {
                        what: o.instance.clone(),
                        message: format!("invalid match_regex: {e}"),
                    })?)
                }
                (None, Some(pattern)) => TagMatcher::Wildcard(pattern.clone()),
                (None, None) => TagMatcher::Nothing,
            };
            let settings = ReadSettings {
                empty_stream_on_read: o.empty_stream_on_read,
                cors_allow_origin: o.http_cors_allow_origin.clone(),
                max_wait: o.http_max_wait,
                max_entries: o.http_max_entries,
                cache_control: (o.http_cache_max_age > 0)
                    .then(|| {
                        let value = format!("public, max-age={}", o.http_cache_max_age);
                        actix_web::http::header::HeaderValue::from_str(&value).ok()
                    })
                    .flatten(),
            };
            Ok(VivoOutput::new(
                o.instance.clone(),
                matcher,
                o.stream_queue_size,
                settings,
                telemetry,
            ))
        })
        .collect::<Result<Vec<_>, StartError>>()?;
    Ok(outputs.into())
}

/// Binds the read API of every output, in configuration order.
fn bind_read_apis(
    config: &Config,
    outputs: &Arc<[VivoOutput]>,
    telemetry: &Arc<Telemetry>,
) -> Result<Vec<BoundServer>, StartError> {
    config
        .outputs
        .iter()
        .enumerate()
        .map(|(index, o)| {
            let workers = match o.http_workers {
                0 => default_http_workers(),
                n => n,
            };
            let settings = HttpSettings {
                compress: o.http_compression,
                ..http_settings(&o.instance, workers, &o.listener, config, telemetry)
            };
            api::bind(
                outputs.clone(),
                index,
                telemetry.clone(),
                (&o.host, o.port),
                &settings,
                o.listener.auth_token.clone(),
            )
            .map_err(|source| StartError::Bind {
                what: o.instance.clone(),
                addr: format!("{}:{}", o.host, o.port),
                source,
            })
        })
        .collect()
}

/// Builds every input and binds the listening ones (inside the ingest runtime), with their
/// instance names (`dummy.0`, `forward.0`).
async fn bind_inputs(
    config: &Config,
    pipeline: &PipelineHandle,
    telemetry: &Arc<Telemetry>,
    limits: RenderLimits,
) -> Result<Vec<(String, ReadyInput)>, StartError> {
    let mut inputs = Vec::new();
    let (mut dummies, mut forwards, mut otlps, mut https) = (0, 0, 0, 0);
    for input in &config.inputs {
        match input {
            InputConfig::Dummy(settings) => {
                let instance = format!("dummy.{dummies}");
                dummies += 1;
                let dummy = Dummy::new(&instance, settings.clone()).map_err(|message| {
                    StartError::Invalid {
                        what: instance.clone(),
                        message,
                    }
                })?;
                inputs.push((instance, ReadyInput::Dummy(dummy)));
            }
            InputConfig::Forward(settings) => {
                let instance = format!("forward.{forwards}");
                forwards += 1;
                let listener = ForwardListener::bind(
                    &instance,
                    settings,
                    pipeline.clone(),
                    telemetry.clone(),
                    limits.max_entry_bytes,
                )
                .await
                .map_err(|source| StartError::Bind {
                    what: instance.clone(),
                    addr: format!("{}:{}", settings.listen, settings.port),
                    source,
                })?;
                inputs.push((instance, ReadyInput::Forward(listener)));
            }
            InputConfig::OpenTelemetry(settings) => {
                let instance = format!("opentelemetry.{otlps}");
                otlps += 1;
                let workers = default_http_workers();
                let http = http_settings(&instance, workers, &settings.listener, config, telemetry);
                let grpc_name = format!("{instance}.grpc");
                let grpc =
                    http_settings(&grpc_name, workers, &settings.listener, config, telemetry);
                let listener = OtlpListener::bind(
                    &instance,
                    settings,
                    pipeline.clone(),
                    telemetry.clone(),
                    (http, grpc),
                )
                .map_err(|source| StartError::Bind {
                    what: instance.clone(),
                    addr: format!("{}:{}", settings.listen, settings.port),
                    source,
                })?;
                inputs.push((instance, ReadyInput::OpenTelemetry(listener)));
            }
            InputConfig::Http(settings) => {
                let instance = format!("http.{https}");
                https += 1;
                let state = Arc::new(HttpJsonState {
                    instance: Arc::from(instance.as_str()),
                    pipeline: pipeline.clone(),
                    telemetry: telemetry.clone(),
                    settings: settings.clone(),
                    bodies: BodyLimits {
                        max: settings.buffer_max_size,
                        first_allocation: settings.buffer_chunk_size,
                        budget: FrameBudget::new(settings.mem_buf_limit),
                    },
                });
                let server = http_json::bind(
                    state,
                    http_settings(
                        &instance,
                        default_http_workers(),
                        &settings.listener,
                        config,
                        telemetry,
                    ),
                )
                .map_err(|source| StartError::Bind {
                    what: instance.clone(),
                    addr: format!("{}:{}", settings.listen, settings.port),
                    source,
                })?;
                inputs.push((instance, ReadyInput::Http(server)));
            }
        }
    }
    Ok(inputs)
}

/// The settings of an HTTP listener named `name` with the limits, timeouts and TLS of
/// `listener`: a stop waits for requests in flight at most the service's `grace`.
fn http_settings(
    name: &str,
    workers: usize,
    listener: &HttpListener,
    config: &Config,
    telemetry: &Arc<Telemetry>,
) -> HttpSettings {
    let gate = ConnectionGate::new(name, listener.max_connections, telemetry.clone());
    HttpSettings {
        shutdown_timeout: config.service.grace,
        keep_alive: listener.idle_timeout,
        client_request_timeout: listener.request_timeout,
        send_timeout: listener.send_timeout,
        tls: listener.tls.clone(),
        ..HttpSettings::new(gate, workers)
    }
}

/// One HTTP worker per core: reads share nothing, so they scale with cores.
fn default_http_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFormat;

    fn config(text: &str) -> Config {
        Config::parse(text, ConfigFormat::Classic, "test").expect("parses")
    }

    const TWO_OUTPUTS: &str = "[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n\
        [OUTPUT]\n    name vivo_exporter\n    match a.*\n    host 127.0.0.1\n    port 0\n\
        [OUTPUT]\n    name vivo_exporter\n    match b.*\n    host 127.0.0.1\n    port 0\n";

    #[test]
    fn every_listener_is_bound_when_start_returns_and_stop_releases_them() {
        let service = Service::start(&config(TWO_OUTPUTS)).expect("starts");
        let apis: Vec<SocketAddr> = (0..2).map(|i| service.http_addrs(i)[0]).collect();
        assert!(service.http_addrs(2).is_empty());
        assert_ne!(apis[0], apis[1]);
        let forward = service.forward_addrs()[0];
        for addr in apis.iter().chain([&forward]) {
            assert_ne!(addr.port(), 0, "the real port");
            std::net::TcpStream::connect(addr).expect("listening");
        }
        assert_eq!(service.outputs().len(), 2);
        service.stop();
        for addr in apis.iter().chain([&forward]) {
            std::net::TcpListener::bind(addr).expect("released at stop");
        }
    }

    #[test]
    fn a_taken_address_names_the_component_and_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let text = format!(
            "[INPUT]\n    name forward\n    listen 127.0.0.1\n    port {port}\n\
             [OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n"
        );
        match Service::start(&config(&text)) {
            Err(StartError::Bind { what, addr, .. }) => {
                assert_eq!(what, "forward.0");
                assert_eq!(addr, format!("127.0.0.1:{port}"));
            }
            Err(other) => panic!("expected a bind error, got {other}"),
            Ok(service) => {
                service.stop();
                panic!("started on a taken port");
            }
        }
    }

    #[test]
    fn an_invalid_regex_in_a_hand_built_config_is_refused() {
        let mut config = config(TWO_OUTPUTS);
        config.outputs[1].match_pattern = None;
        config.outputs[1].match_regex = Some("(".into());
        match Service::start(&config) {
            Err(StartError::Invalid { what, message }) => {
                assert_eq!(what, "vivo_exporter.1");
                assert!(message.contains("invalid match_regex"), "{message}");
            }
            Err(other) => panic!("expected an invalid setting, got {other}"),
            Ok(service) => {
                service.stop();
                panic!("started with an invalid regex");
            }
        }
    }
}
