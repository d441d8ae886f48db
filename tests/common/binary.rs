//! Running the real `vivo-exporter` binary: start it, learn every output's port from its log
//! lines, signal it, wait for it to end, and run it to completion with a time bound.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a start (bind and log the listening lines) may take on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `vivo-exporter` process, killed when dropped.
pub struct Running {
    pub child: Child,
    /// The read API of the first output (`outputs[0]`).
    pub http: SocketAddr,
    /// The first read-API address of every `vivo_exporter` output, in configuration order
    /// (`vivo_exporter.0`, `vivo_exporter.1`, …), from the `listening iface=… tcp_port=…` lines.
    pub outputs: Vec<SocketAddr>,
    /// Every stderr line so far.
    pub log: Arc<Mutex<Vec<String>>>,
    /// The thread copying stderr into `log`; joined by [`Running::wait_exit`] so that the log
    /// is complete once the process has ended.
    reader: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Sends `signal` (a name `kill` knows: `TERM`, `INT`) to the process, once it catches
    /// SIGINT and SIGTERM (on Linux; see [`wait_signal_handlers`]).
    pub fn signal(&self, signal: &str) {
        #[cfg(target_os = "linux")]
        wait_signal_handlers(self.child.id());
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed: {status:?}");
    }

    /// Waits (polling) for the process to end, at most `timeout`, then for its stderr to be
    /// read to the end, so that [`Running::log_text`] holds every line it wrote.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for vivo-exporter") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "vivo-exporter did not exit within {timeout:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stderr reader thread");
        }
        status
    }

    /// Waits until a stderr line contains `needle` (at most [`START_TIMEOUT`]); returns the
    /// whole log then.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = self.log_text();
            if log.lines().any(|line| line.contains(needle)) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} within {START_TIMEOUT:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The stderr lines so far, joined by newlines.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }
}

/// Waits until process `pid` catches SIGINT and SIGTERM (`SigCgt` in `/proc/PID/status`).
/// The binary logs its listening lines before it installs its signal handlers, so a signal
/// sent right after them can still find the default action and kill the process outright.
#[cfg(target_os = "linux")]
pub fn wait_signal_handlers(pid: u32) {
    const SIGINT_AND_SIGTERM: u64 = (1 << (2 - 1)) | (1 << (15 - 1));
    let caught = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
        u64::from_str_radix(mask.trim(), 16).ok()
    };
    super::wait_for(START_TIMEOUT, || {
        caught().filter(|mask| mask & SIGINT_AND_SIGTERM == SIGINT_AND_SIGTERM)
    });
}

/// Writes `text` to a fresh file `name` under the temp folder, for `-c`.
pub fn temp_config(name: &str, text: &str) -> std::path::PathBuf {
    let path = temp_dir().join(name);
    std::fs::write(&path, text).expect("write the temp config");
    path
}

/// This test process's own folder under the temp folder (created if needed).
pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vivo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the temp folder");
    dir
}

/// A loopback port that was free a moment ago (bound on port 0, then closed), for tests that
/// must name a port in advance.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

/// The binary under test.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vivo-exporter"))
}

/// Runs the binary with `args` to completion, killing it (and failing) if it is still running
/// after `timeout`: for runs that must end by themselves (--dry-run, refusals, failed starts).
pub fn run(args: &[&str], timeout: Duration) -> Output {
    let mut child = binary()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vivo-exporter");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for vivo-exporter") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vivo-exporter {args:?} was still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// How many `vivo_exporter` outputs the configuration given by `args` has, from the summary
/// `--dry-run` prints ("… is valid: N input(s), M output(s)").
pub fn output_count(args: &[&str]) -> usize {
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let output = run(&dry, START_TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "--dry-run {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .trim_end()
        .strip_suffix(" output(s)")
        .and_then(|rest| rest.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no output count in the --dry-run summary {stdout:?}"))
}

/// Starts the binary with `args` and returns without waiting for anything; the listening
/// lines it logs are sent on the returned channel as (output index, address).
fn launch(args: &[&str]) -> (Running, Receiver<(usize, SocketAddr)>) {
    let mut child = binary()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vivo-exporter");
    let stderr = child.stderr.take().expect("piped stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let log_writer = log.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(found) = listening_line(&line) {
                let _ = addr_tx.send(found);
            }
            log_writer.lock().expect("log lock").push(line);
        }
    });
    let unbound: SocketAddr = ([0, 0, 0, 0], 0).into();
    let running = Running {
        child,
        http: unbound,
        outputs: Vec::new(),
        log,
        reader: Some(reader),
    };
    (running, addr_rx)
}

/// Parses `[output:vivo_exporter:vivo_exporter.N] listening iface=IP tcp_port=PORT`.
fn listening_line(line: &str) -> Option<(usize, SocketAddr)> {
    let (head, rest) = line.split_once("] listening iface=")?;
    let index = head
        .rsplit_once("[output:vivo_exporter:vivo_exporter.")?
        .1
        .parse()
        .ok()?;
    let (ip, port) = rest.split_once(" tcp_port=")?;
    let ip: IpAddr = ip.parse().ok()?;
    let port: u16 = port.trim().parse().ok()?;
    Some((index, SocketAddr::new(ip, port)))
}

/// Starts the binary with `args` and waits for the `listening iface=… tcp_port=…` line of
/// every output (their number learnt from a `--dry-run` of the same arguments).
pub fn spawn(args: &[&str]) -> Running {
    let expected = output_count(args);
    let (mut running, addrs) = launch(args);
    let deadline = Instant::now() + START_TIMEOUT;
    let mut outputs: Vec<Option<SocketAddr>> = vec![None; expected];
    while outputs.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        match addrs.recv_timeout(left) {
            Ok((index, addr)) => {
                let slot = outputs
                    .get_mut(index)
                    .unwrap_or_else(|| panic!("listening line of output {index} of {expected}"));
                slot.get_or_insert(addr);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                "not every output logged its listening line ({outputs:?}); log:\n{}",
                running.log_text()
            ),
        }
    }
    running.outputs = outputs.into_iter().flatten().collect();
    running.http = running.outputs[0];
    running
}

/// Starts the binary with `args` (whose log level hides the listening lines) and waits until
/// its read API accepts connections at `http`, a port the arguments name (see [`free_port`]).
pub fn spawn_unlogged(args: &[&str], http: SocketAddr) -> Running {
    let (mut running, _) = launch(args);
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect_timeout(&http, Duration::from_secs(1)).is_err() {
        if let Some(status) = running.child.try_wait().expect("wait for vivo-exporter") {
            panic!(
                "vivo-exporter exited ({status}) before listening on {http}; log:\n{}",
                running.log_text()
            );
        }
        assert!(
            Instant::now() < deadline,
            "vivo-exporter did not listen on {http} within {START_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.http = http;
    running.outputs = vec![http];
    running
}

// What a running service (binary or in-process) holds, read over its API.

/// The next ID `/logs` will assign: `Vivo-Stream-Next-ID` of a read that serves nothing.
pub fn next_id(http: SocketAddr) -> u64 {
    let response = super::request(http, "HEAD", "/logs?from=9223372036854775807", &[]);
    assert_eq!(response.status, 200);
    response
        .header("Vivo-Stream-Next-ID")
        .and_then(|id| id.parse().ok())
        .expect("a numeric Vivo-Stream-Next-ID header")
}

/// The value of one series of `/internal/metrics`, written exactly as it appears there
/// (`name{label="…",…}`); 0 when the series is absent.
pub fn metric(http: SocketAddr, series: &str) -> u64 {
    let response = super::get(http, "/internal/metrics");
    assert_eq!(response.status, 200);
    let text = response.text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |value| {
            value
                .trim()
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{series} has a non-numeric value {value:?}"))
                as u64
        })
}

/// How many threads of process `pid` have a name starting with `prefix` (Linux: from
/// `/proc/PID/task/*/comm`, names cut to 15 bytes).
#[cfg(target_os = "linux")]
pub fn threads_named(pid: u32, prefix: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("read /proc/PID/task")
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}
