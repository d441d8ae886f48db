//! `vivo-loadgen followers`: the fan-out load test of the read API (issue 13, item 4).
//!
//! It opens `--followers` connections to a loopback read API, part of them Server-Sent Events
//! follows (`Accept: text/event-stream`) and the rest long-poll loops
//! (`GET /logs?from=<next>&wait=30` on one keep-alive connection, `from` taken from each
//! answer's `Vivo-Stream-Next-ID`), one task per connection. Once every follower is connected
//! and idle it reads the server's RSS (`--server-pid`), then publishes `--rate` entries/s for
//! `--publish-for` through the HTTP JSON input, one small record per entry carrying its number
//! and its send time in ns (`{"seq":K,"sent_ns":T}`). Every follower notes, for every entry, the
//! time it read it minus the send time. The report gives the RSS growth per idle follower,
//! percentiles of those delays over every (follower, entry) pair, and percentiles over the
//! entries of the delay until the last follower had it.
//!
//! ```text
//! vivo-loadgen followers --read-api 127.0.0.1:2025 --publish 127.0.0.1:9880 \
//!              --followers 10000 --rate 100 --publish-for 20s --server-pid 1234
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify, Semaphore};

use crate::target::{self, ReadApi};

/// Settings of a fan-out run.
#[derive(Args, Debug)]
pub struct FollowersArgs {
    /// Read API address (loopback only).
    #[arg(long, default_value = "127.0.0.1:2025", value_name = "HOST:PORT")]
    pub read_api: String,

    /// The stream followed.
    #[arg(long, default_value = "/logs", value_name = "PATH")]
    pub path: String,

    /// Followers in all.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub followers: usize,

    /// Percentage of the followers that use Server-Sent Events; the others long-poll.
    #[arg(long, default_value_t = 50, value_name = "PERCENT")]
    pub sse_percent: u8,

    /// The `wait` of each long-poll request, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub wait: u64,

    /// The HTTP JSON input the entries are published through (loopback only).
    #[arg(long, default_value = "127.0.0.1:9880", value_name = "HOST:PORT")]
    pub publish: String,

    /// The tag (URL path) of the published records.
    #[arg(long, default_value = "fanout")]
    pub tag: String,

    /// Entries published per second (one record, one request each).
    #[arg(long, default_value_t = 100, value_name = "ENTRIES_PER_SEC")]
    pub rate: u64,

    /// How long to publish.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub publish_for: Duration,

    /// How long the connected followers stay idle before the server's RSS is read.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub settle: Duration,

    /// How long after the last publish the followers may still receive.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub drain: Duration,

    /// Give up when the followers are not all connected within this long.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,

    /// Connections being opened at once.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub connect_concurrency: usize,

    /// The server's process ID: its RSS (`/proc/PID/status`) and CPU time are reported.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// Runtime threads (default: one per CPU this process may run on).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// How a follower reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sse,
    LongPoll,
}

/// What one follower got: per entry received, its number and the delay in µs.
struct Outcome {
    kind: Kind,
    samples: Vec<(u32, u32)>,
    requests: u64,
    gaps: u64,
    error: Option<String>,
}

/// Counts followers that are connected and waiting, and wakes the run when all are.
struct Ready {
    count: AtomicUsize,
    failed: AtomicUsize,
    changed: Notify,
}

impl Ready {
    fn mark(&self, failed: bool) {
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        self.changed.notify_one();
    }
}

/// Where a follower connects.
struct Endpoint {
    addr: SocketAddr,
    host: String,
    path: String,
    wait: u64,
}

/// Raises this process's open-files soft limit to its hard limit; returns the soft limit.
fn raise_nofile() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `VmRSS` and `RssAnon` of `pid`, in KiB.
fn rss_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
    };
    Some((field("VmRSS:")?, field("RssAnon:").unwrap_or(0)))
}

/// User + system CPU seconds of `pid` (`self` for this process).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) / if tick > 0 { tick as f64 } else { 100.0 })
}

/// CPU seconds the whole machine was busy (user, nice, system, irq, softirq) and stolen by the
/// hypervisor, from `/proc/stat`.
fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // SAFETY: sysconf reads a constant of the system.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let tick = if tick > 0 { tick as f64 } else { 100.0 };
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    Some(((at(0) + at(1) + at(2) + at(5) + at(6)) / tick, at(7) / tick))
}

/// Finds the end of an HTTP response head in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The value of header `name` in a response head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Finds `"key":<digits>` in `line` and returns the number.
fn number_after(line: &[u8], key: &[u8]) -> Option<u64> {
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// Splits received bytes into lines and notes, for each entry line, its number and delay.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    gaps: u64,
}

impl Lines {
    fn feed(&mut self, mut data: &[u8], received_ns: u64, samples: &mut Vec<(u32, u32)>) {
        while let Some(newline) = data.iter().position(|&b| b == b'\n') {
            let line: &[u8] = if self.partial.is_empty() {
                &data[..newline]
            } else {
                self.partial.extend_from_slice(&data[..newline]);
                &self.partial
            };
            if line.starts_with(b"event: gap") || line.starts_with(b"{\"vivo_gap\"") {
                self.gaps += 1;
            } else if let (Some(seq), Some(sent)) = (
                number_after(line, b"\"seq\":"),
                number_after(line, b"\"sent_ns\":"),
            ) {
                let delay_us = received_ns.saturating_sub(sent) / 1000;
                samples.push((seq as u32, delay_us.min(u64::from(u32::MAX)) as u32));
            }
            self.partial.clear();
            data = &data[newline + 1..];
        }
        self.partial.extend_from_slice(data);
    }
}

/// Decodes a chunked body as it arrives.
#[derive(Default)]
struct Dechunk {
    /// Data bytes left in the current chunk.
    left: usize,
    /// Bytes of CRLF after a chunk's data still to skip.
    crlf: usize,
    /// A chunk-size line being read.
    size_line: Vec<u8>,
    /// The last (zero) chunk was seen.
    ended: bool,
}

impl Dechunk {
    fn feed(&mut self, mut data: &[u8], mut out: impl FnMut(&[u8])) -> Result<(), String> {
        while !data.is_empty() && !self.ended {
            if self.crlf > 0 {
                let skip = self.crlf.min(data.len());
                self.crlf -= skip;
                data = &data[skip..];
            } else if self.left > 0 {
                let take = self.left.min(data.len());
                out(&data[..take]);
                self.left -= take;
                data = &data[take..];
                if self.left == 0 {
                    self.crlf = 2;
                }
            } else {
                match data.iter().position(|&b| b == b'\n') {
                    Some(newline) => {
                        self.size_line.extend_from_slice(&data[..newline]);
                        data = &data[newline + 1..];
                        let text = String::from_utf8_lossy(&self.size_line);
                        let hex = text.trim().split(';').next().unwrap_or_default();
                        let size = usize::from_str_radix(hex, 16)
                            .map_err(|_| format!("bad chunk size line {text:?}"))?;
                        self.size_line.clear();
                        if size == 0 {
                            self.ended = true;
                        }
                        self.left = size;
                    }
                    None => {
                        self.size_line.extend_from_slice(data);
                        data = &[];
                    }
                }
            }
        }
        Ok(())
    }
}

/// One follower's connection until `stop` is set.
async fn follower(
    kind: Kind,
    endpoint: Arc<Endpoint>,
    from: u64,
    expected: usize,
    connect: Arc<Semaphore>,
    ready: Arc<Ready>,
    stop: watch::Receiver<bool>,
) -> Outcome {
    let mut outcome = Outcome {
        kind,
        samples: Vec::with_capacity(expected),
        requests: 0,
        gaps: 0,
        error: None,
    };
    let connected = {
        let _permit = connect.acquire().await;
        TcpStream::connect(endpoint.addr).await
    };
    let result = match connected {
        Ok(stream) => {
            let _ = stream.set_nodelay(true);
            match kind {
                Kind::Sse => sse(stream, &endpoint, from, &ready, stop, &mut outcome).await,
                Kind::LongPoll => {
                    long_poll(stream, &endpoint, from, &ready, stop, &mut outcome).await
                }
            }
        }
        Err(e) => {
            ready.mark(true);
            Err(format!("connect: {e}"))
        }
    };
    if let Err(e) = result {
        outcome.error = Some(e);
    }
    outcome
}

/// Reads into `buf` unless `stop` is set first; `Ok(None)` when stopped.
async fn read_or_stop(
    stream: &mut TcpStream,
    buf: &mut [u8],
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<usize>, String> {
    if *stop.borrow() {
        return Ok(None);
    }
    tokio::select! {
        _ = stop.changed() => Ok(None),
        read = stream.read(buf) => match read {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => Ok(Some(n)),
            Err(e) => Err(format!("read: {e}")),
        },
    }
}

async fn sse(
    mut stream: TcpStream,
    endpoint: &Endpoint,
    from: u64,
    ready: &Ready,
    mut stop: watch::Receiver<bool>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let request = format!(
        "GET {}?from={from} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        endpoint.path, endpoint.host
    );
    outcome.requests = 1;
    if let Err(e) = stream.write_all(request.as_bytes()).await {
        ready.mark(true);
        return Err(format!("write: {e}"));
    }
    let mut buf = vec![0u8; 8192];
    let mut head = Vec::new();
    let body_start = loop {
        match read_or_stop(&mut stream, &mut buf, &mut stop).await {
            Ok(Some(n)) => head.extend_from_slice(&buf[..n]),
            Ok(None) => {
                ready.mark(true);
                return Ok(());
            }
            Err(e) => {
                ready.mark(true);
                return Err(e);
            }
        }
        if let Some(end) = head_end(&head) {
            break end;
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).into_owned();
    if !text.starts_with("HTTP/1.1 200") {
        ready.mark(true);
        return Err(format!("SSE answer: {}", text.lines().next().unwrap_or("")));
    }
    if !header(&text, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        ready.mark(true);
        return Err("the SSE answer is not chunked".into());
    }
    ready.mark(false);
    let mut dechunk = Dechunk::default();
    let mut lines = Lines::default();
    let samples = &mut outcome.samples;
    let mut feed = |data: &[u8], dechunk: &mut Dechunk, lines: &mut Lines| {
        let received = now_ns();
        dechunk.feed(data, |piece| {
            lines.feed(piece, received, samples);
        })
    };
    let rest = head[body_start..].to_vec();
    feed(&rest, &mut dechunk, &mut lines)?;
    let result = loop {
        match read_or_stop(&mut stream, &mut buf, &mut stop).await {
            Ok(Some(n)) => feed(&buf[..n], &mut dechunk, &mut lines)?,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
        if dechunk.ended {
            break Err("the SSE answer ended".into());
        }
    };
    outcome.gaps = lines.gaps;
    result
}

async fn long_poll(
    mut stream: TcpStream,
    endpoint: &Endpoint,
    from: u64,
    ready: &Ready,
    mut stop: watch::Receiver<bool>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    let mut next = from;
    let mut buf = vec![0u8; 8192];
    let mut received: Vec<u8> = Vec::new();
    let mut lines = Lines::default();
    let mut first = true;
    loop {
        let request = format!(
            "GET {}?from={next}&wait={} HTTP/1.1\r\nHost: {}\r\n\r\n",
            endpoint.path, endpoint.wait, endpoint.host
        );
        if let Err(e) = stream.write_all(request.as_bytes()).await {
            if first {
                ready.mark(true);
            }
            return Err(format!("write: {e}"));
        }
        outcome.requests += 1;
        if first {
            // The request is out: from here the follower waits, as an idle one does.
            ready.mark(false);
            first = false;
        }
        // The head, then the body, each line timed by the read that completed it.
        let (body_len, next_id) = loop {
            if let Some(end) = head_end(&received) {
                let text = String::from_utf8_lossy(&received[..end]).into_owned();
                if !text.starts_with("HTTP/1.1 200") {
                    return Err(format!(
                        "long-poll answer: {}",
                        text.lines().next().unwrap_or("")
                    ));
                }
                let length: usize = header(&text, "content-length")
                    .and_then(|v| v.parse().ok())
                    .ok_or("a long-poll answer without Content-Length")?;
                let next_id: u64 = header(&text, "vivo-stream-next-id")
                    .and_then(|v| v.parse().ok())
                    .ok_or("a long-poll answer without Vivo-Stream-Next-ID")?;
                received.drain(..end);
                break (length, next_id);
            }
            match read_or_stop(&mut stream, &mut buf, &mut stop).await? {
                Some(n) => received.extend_from_slice(&buf[..n]),
                None => return Ok(()),
            }
        };
        let mut left = body_len;
        let take = left.min(received.len());
        lines.feed(&received[..take], now_ns(), &mut outcome.samples);
        received.drain(..take);
        left -= take;
        while left > 0 {
            let Some(n) = read_or_stop(&mut stream, &mut buf, &mut stop).await? else {
                return Ok(());
            };
            let take = left.min(n);
            lines.feed(&buf[..take], now_ns(), &mut outcome.samples);
            received.extend_from_slice(&buf[take..n]);
            left -= take;
        }
        outcome.gaps = lines.gaps;
        next = next_id;
    }
}

/// Publishes one entry per request through the HTTP JSON input, paced at `rate`, and returns
/// the send → response delays.
async fn publish(
    addr: SocketAddr,
    host: &str,
    tag: &str,
    first_seq: u64,
    count: u64,
    rate: u64,
) -> Result<Vec<Duration>, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("publish: cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = tokio::time::Instant::now();
    let mut acks = Vec::with_capacity(count as usize);
    let mut received = Vec::with_capacity(1024);
    let mut buf = vec![0u8; 4096];
    for i in 0..count {
        tokio::time::sleep_until(start + interval.mul_f64(i as f64)).await;
        let sent = Instant::now();
        let body = format!("[{{\"seq\":{},\"sent_ns\":{}}}]", first_seq + i, now_ns());
        let request = format!(
            "POST /{tag} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("publish: {e}"))?;
        let consumed = loop {
            if let Some(end) = head_end(&received) {
                let text = String::from_utf8_lossy(&received[..end]).into_owned();
                let length: usize = header(&text, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if received.len() >= end + length {
                    if !text.starts_with("HTTP/1.1 2") {
                        return Err(format!(
                            "publish: {}",
                            text.lines().next().unwrap_or("no status")
                        ));
                    }
                    break end + length;
                }
            }
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
                .await
                .map_err(|_| "publish: no answer within 10 s".to_string())?
                .map_err(|e| format!("publish: {e}"))?;
            if n == 0 {
                return Err("publish: the input closed the connection".into());
            }
            received.extend_from_slice(&buf[..n]);
        };
        received.drain(..consumed);
        acks.push(sent.elapsed());
    }
    Ok(acks)
}

/// The `vivo_listener_open_connections` gauge of the read API listener.
async fn open_connections(addr: SocketAddr, host: &str) -> Option<u64> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request =
        format!("GET /internal/metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&answer)
        .lines()
        .find(|l| l.starts_with("vivo_listener_open_connections") && l.contains("\"vivo_exporter."))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
}

/// The `p`-quantile (0..=1) of sorted `values`.
fn quantile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Milliseconds of a µs quantile, for the report.
fn ms(us: Option<u32>) -> serde_json::Value {
    us.map_or(serde_json::Value::Null, |us| {
        serde_json::json!((f64::from(us) / 10.0).round() / 100.0)
    })
}

fn percentiles(values: &mut [u32]) -> serde_json::Value {
    values.sort_unstable();
    serde_json::json!({
        "count": values.len(),
        "p50_ms": ms(quantile(values, 0.50)),
        "p90_ms": ms(quantile(values, 0.90)),
        "p99_ms": ms(quantile(values, 0.99)),
        "p999_ms": ms(quantile(values, 0.999)),
        "max_ms": ms(quantile(values, 1.0)),
    })
}

/// Runs the fan-out test and returns its report as JSON.
pub async fn run(args: &FollowersArgs) -> Result<serde_json::Value, String> {
    if args.followers == 0 {
        return Err("--followers must be at least 1".into());
    }
    if args.rate == 0 {
        return Err("--rate must be at least 1".into());
    }
    if args.sse_percent > 100 {
        return Err("--sse-percent is at most 100".into());
    }
    let nofile = raise_nofile();
    if (nofile as usize) < args.followers + 64 {
        return Err(format!(
            "the open-files limit is {nofile}, too low for {} followers (raise ulimit -Hn)",
            args.followers
        ));
    }
    let read_api = ReadApi::parse(&format!("http://{}{}", args.read_api, args.path)).await?;
    let read_addr = target::loopback(&args.read_api).await?;
    let publish_addr = target::loopback(&args.publish).await?;
    let count = (args.rate as f64 * args.publish_for.as_secs_f64())
        .round()
        .max(1.0) as u64;

    // Warm the server up (connections, the input, a first publish) before the baseline.
    publish(publish_addr, &args.publish, &args.tag, 1 << 30, 10, 100).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = read_api.next_id().await?;
    let open_before = open_connections(read_addr, &args.read_api).await;
    let rss_before = args.server_pid.and_then(rss_kb);

    let endpoint = Arc::new(Endpoint {
        addr: read_addr,
        host: args.read_api.clone(),
        path: args.path.clone(),
        wait: args.wait,
    });
    let ready = Arc::new(Ready {
        count: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        changed: Notify::new(),
    });
    let connect = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let sse_count = args.followers * usize::from(args.sse_percent) / 100;
    let connect_start = Instant::now();
    let tasks: Vec<_> = (0..args.followers)
        .map(|i| {
            // Interleaved, so both kinds connect at the same pace.
            let kind = if (i + 1) * sse_count / args.followers > i * sse_count / args.followers {
                Kind::Sse
            } else {
                Kind::LongPoll
            };
            tokio::spawn(follower(
                kind,
                endpoint.clone(),
                from,
                count as usize,
                connect.clone(),
                ready.clone(),
                stop_rx.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + args.connect_timeout;
    loop {
        let changed = ready.changed.notified();
        let done = ready.count.load(Ordering::Relaxed) + ready.failed.load(Ordering::Relaxed);
        if done >= args.followers {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = tokio::time::timeout(left.min(Duration::from_secs(1)), changed).await;
    }
    let connect_time = connect_start.elapsed();
    let connected = ready.count.load(Ordering::Relaxed);
    let failed_to_connect = ready.failed.load(Ordering::Relaxed);
    tokio::time::sleep(args.settle).await;
    let open_idle = open_connections(read_addr, &args.read_api).await;
    let rss_idle = args.server_pid.and_then(rss_kb);

    let server_cpu_start = args.server_pid.and_then(|p| cpu_seconds(&p.to_string()));
    let own_cpu_start = cpu_seconds("self");
    let machine_start = machine_cpu();
    let phase_start = Instant::now();
    let acks = if connected > 0 {
        publish(publish_addr, &args.publish, &args.tag, 0, count, args.rate).await
    } else {
        Err("no follower connected".into())
    };
    tokio::time::sleep(args.drain).await;
    let phase = phase_start.elapsed().as_secs_f64();
    let server_cpu = server_cpu_start
        .zip(args.server_pid.and_then(|p| cpu_seconds(&p.to_string())))
        .map(|(a, b)| b - a);
    let own_cpu = own_cpu_start.zip(cpu_seconds("self")).map(|(a, b)| b - a);
    let machine = machine_start
        .zip(machine_cpu())
        .map(|(a, b)| (b.0 - a.0, b.1 - a.1));
    // What other processes took meanwhile (the machine is shared), and what the hypervisor stole.
    let other_cpu = machine
        .map(|(busy, _)| (busy - server_cpu.unwrap_or(0.0) - own_cpu.unwrap_or(0.0)).max(0.0));
    let rss_active = args.server_pid.and_then(rss_kb);
    let open_active = open_connections(read_addr, &args.read_api).await;
    let _ = stop_tx.send(true);
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(outcome) => outcomes.push(outcome),
            Err(e) => return Err(format!("follower task: {e}")),
        }
    }
    let acks = acks?;

    // Per (follower, entry) delays, by kind, and per entry the delay of the last follower.
    let mut all = Vec::new();
    let mut by_kind = [Vec::new(), Vec::new()];
    let mut last = vec![0u32; count as usize];
    let mut first = vec![u32::MAX; count as usize];
    let mut got = vec![0u32; count as usize];
    let mut errors: Vec<String> = Vec::new();
    let (mut gaps, mut requests) = (0, 0);
    let mut followers_complete = 0usize;
    for outcome in &outcomes {
        let slot = usize::from(outcome.kind == Kind::LongPoll);
        let mut distinct = 0usize;
        for &(seq, delay) in &outcome.samples {
            let Some(seen) = got.get_mut(seq as usize) else {
                continue;
            };
            *seen += 1;
            distinct += 1;
            last[seq as usize] = last[seq as usize].max(delay);
            first[seq as usize] = first[seq as usize].min(delay);
            all.push(delay);
            by_kind[slot].push(delay);
        }
        if distinct >= count as usize {
            followers_complete += 1;
        }
        gaps += outcome.gaps;
        requests += outcome.requests;
        if let Some(e) = &outcome.error {
            if errors.len() < 5 {
                errors.push(e.clone());
            }
        }
    }
    let errored = outcomes.iter().filter(|o| o.error.is_some()).count();
    let followed = connected as u64;
    let entries_reached_all = got.iter().filter(|&&n| n as u64 >= followed).count();
    let mut last_complete: Vec<u32> = last
        .iter()
        .zip(&got)
        .filter(|(_, &n)| n > 0)
        .map(|(&l, _)| l)
        .collect();
    // The fan-out alone: from the first follower's receipt of an entry to the last one's.
    let mut spread: Vec<u32> = last
        .iter()
        .zip(&first)
        .zip(&got)
        .filter(|(_, &n)| n > 0)
        .map(|((&l, &f), _)| l.saturating_sub(f))
        .collect();
    let mut first_complete: Vec<u32> = first
        .iter()
        .zip(&got)
        .filter(|(_, &n)| n > 0)
        .map(|(&f, _)| f)
        .collect();
    let mut ack_us: Vec<u32> = acks
        .iter()
        .map(|d| d.as_micros().min(u128::from(u32::MAX)) as u32)
        .collect();
    let per_follower = |rss: Option<(u64, u64)>| {
        rss_before.zip(rss).map(|(before, after)| {
            let n = connected.max(1) as f64;
            serde_json::json!({
                "vm_rss_bytes": ((after.0 as f64 - before.0 as f64) * 1024.0 / n).round(),
                "rss_anon_bytes": ((after.1 as f64 - before.1 as f64) * 1024.0 / n).round(),
            })
        })
    };
    let kb = |rss: Option<(u64, u64)>| {
        rss.map(|(vm, anon)| serde_json::json!({"vm_rss_kb": vm, "rss_anon_kb": anon}))
    };
    Ok(serde_json::json!({
        "followers": args.followers,
        "sse": outcomes.iter().filter(|o| o.kind == Kind::Sse).count(),
        "long_poll": outcomes.iter().filter(|o| o.kind == Kind::LongPoll).count(),
        "connected": connected,
        "failed_to_connect": failed_to_connect,
        "connect_s": (connect_time.as_secs_f64() * 100.0).round() / 100.0,
        "open_connections": {"before": open_before, "idle": open_idle, "active": open_active},
        "rss": {"before": kb(rss_before), "idle": kb(rss_idle), "after_publish": kb(rss_active)},
        "rss_per_idle_follower": per_follower(rss_idle),
        "rss_per_active_follower": per_follower(rss_active),
        "published": count,
        "rate": args.rate,
        "publish_ack": percentiles(&mut ack_us),
        "deliveries_expected": count * followed,
        "deliveries": all.len(),
        "followers_complete": followers_complete,
        "entries_reached_every_follower": entries_reached_all,
        "delivery": percentiles(&mut all),
        "delivery_sse": percentiles(&mut by_kind[0]),
        "delivery_long_poll": percentiles(&mut by_kind[1]),
        "last_follower": percentiles(&mut last_complete),
        "first_follower": percentiles(&mut first_complete),
        "first_to_last": percentiles(&mut spread),
        "long_poll_requests": requests - outcomes.iter().filter(|o| o.kind == Kind::Sse).count() as u64,
        "gaps": gaps,
        "errors": errored,
        "error_examples": errors,
        "phase_s": (phase * 100.0).round() / 100.0,
        "server_cpu_busy": server_cpu.map(|c| (c / phase * 1000.0).round() / 1000.0),
        "generator_cpu_busy": own_cpu.map(|c| (c / phase * 1000.0).round() / 1000.0),
        "other_cpu_busy": other_cpu.map(|c| (c / phase * 1000.0).round() / 1000.0),
        "steal_cpu": machine.map(|(_, steal)| (steal / phase * 1000.0).round() / 1000.0),
    }))
}

/// The report as a few lines of text.
pub fn text(report: &serde_json::Value) -> String {
    let get = |path: &[&str]| {
        let mut value = report;
        for key in path {
            value = &value[*key];
        }
        value.to_string()
    };
    format!(
        "followers            {} ({} SSE, {} long-poll), {} connected in {} s, {} failed\n\
         open connections     before {}, idle {}, during {}\n\
         server RSS (KiB)     before {}, idle {}, after publishing {}\n\
         RSS per follower     idle {} B, active {} B (VmRSS)\n\
         published            {} entries at {}/s, send→201 p50 {} ms p99 {} ms\n\
         deliveries           {} of {} ({} followers got every entry)\n\
         publish→receipt      p50 {} ms, p99 {} ms, max {} ms (all pairs)\n\
           SSE                p50 {} ms, p99 {} ms\n\
           long-poll          p50 {} ms, p99 {} ms ({} requests)\n\
         until last follower  p50 {} ms, p99 {} ms, max {} ms (per entry)\n\
         until first follower p50 {} ms, p99 {} ms; first→last p50 {} ms, p99 {} ms\n\
         CPU busy             server {}, generator {}, other processes {}, stolen {}\n\
         errors               {} followers, {} gaps {}\n",
        get(&["followers"]),
        get(&["sse"]),
        get(&["long_poll"]),
        get(&["connected"]),
        get(&["connect_s"]),
        get(&["failed_to_connect"]),
        get(&["open_connections", "before"]),
        get(&["open_connections", "idle"]),
        get(&["open_connections", "active"]),
        get(&["rss", "before", "vm_rss_kb"]),
        get(&["rss", "idle", "vm_rss_kb"]),
        get(&["rss", "after_publish", "vm_rss_kb"]),
        get(&["rss_per_idle_follower", "vm_rss_bytes"]),
        get(&["rss_per_active_follower", "vm_rss_bytes"]),
        get(&["published"]),
        get(&["rate"]),
        get(&["publish_ack", "p50_ms"]),
        get(&["publish_ack", "p99_ms"]),
        get(&["deliveries"]),
        get(&["deliveries_expected"]),
        get(&["followers_complete"]),
        get(&["delivery", "p50_ms"]),
        get(&["delivery", "p99_ms"]),
        get(&["delivery", "max_ms"]),
        get(&["delivery_sse", "p50_ms"]),
        get(&["delivery_sse", "p99_ms"]),
        get(&["delivery_long_poll", "p50_ms"]),
        get(&["delivery_long_poll", "p99_ms"]),
        get(&["long_poll_requests"]),
        get(&["last_follower", "p50_ms"]),
        get(&["last_follower", "p99_ms"]),
        get(&["last_follower", "max_ms"]),
        get(&["first_follower", "p50_ms"]),
        get(&["first_follower", "p99_ms"]),
        get(&["first_to_last", "p50_ms"]),
        get(&["first_to_last", "p99_ms"]),
        get(&["server_cpu_busy"]),
        get(&["generator_cpu_busy"]),
        get(&["other_cpu_busy"]),
        get(&["steal_cpu"]),
        get(&["errors"]),
        get(&["gaps"]),
        get(&["error_examples"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_decoded_across_reads() {
        let mut dechunk = Dechunk::default();
        let mut out = Vec::new();
        let wire = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        for piece in wire.chunks(3) {
            dechunk
                .feed(piece, |d| out.extend_from_slice(d))
                .expect("valid chunks");
        }
        assert_eq!(out, b"hello world");
        assert!(dechunk.ended);
    }

    #[test]
    fn lines_give_sequence_and_delay() {
        let mut lines = Lines::default();
        let mut samples = Vec::new();
        let line = b"data: [[1,{\"_tag\":\"fanout\"}],{\"seq\":7,\"sent_ns\":1000000}]\n";
        let (a, b) = line.split_at(20);
        lines.feed(a, 3_000_000, &mut samples);
        lines.feed(b, 3_000_000, &mut samples);
        lines.feed(b"event: gap\n", 0, &mut samples);
        assert_eq!(samples, vec![(7, 2000)]);
        assert_eq!(lines.gaps, 1);
    }

    #[test]
    fn quantiles_are_ranks() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), Some(50));
        assert_eq!(quantile(&values, 0.99), Some(99));
        assert_eq!(quantile(&values, 1.0), Some(100));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
