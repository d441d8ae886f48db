//! The real binary at run time, for the behaviours only a whole process shows: how it stops
//! (SIGINT like SIGTERM, and promptly with a short `grace`; during a stop, a read made after
//! the signal has every event acknowledged before it and a read in flight is answered whole,
//! then the exit is 0; a second signal exits at once with 1), the Forward input's Unix socket
//! (`unix_path` with `unix_perm`, removed at stop), several outputs each on its own port,
//! `match_regex` routing, whether `log_level` in the file silences every line (the load-time
//! ones included), exit code 1 with nothing announced when a listen fails, and
//! `json.escape_unicode` end to end. The Forward message over the Unix socket is written as raw
//! MessagePack bytes, so no client library is involved.

mod common;

use common::binary::{
    free_port, metric, run, spawn, spawn_unlogged, temp_config, temp_dir, Running,
};
use common::*;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long any wait for the service to do something may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// How long a run that must end by itself (a failed start, a dry run) may take.
const QUICK: Duration = Duration::from_secs(10);

/// The path as the `-c` argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Starts the binary on config text `config` (saved as `name`), read API on an ephemeral
/// loopback port.
fn start(name: &str, config: &str) -> Running {
    let path = temp_config(name, config);
    spawn(&["-c", arg(&path), "--host", "127.0.0.1", "--port", "0"])
}

/// Waits until `GET /logs` of `http` has at least `n` lines; returns them.
fn wait_lines(http: SocketAddr, n: usize) -> Vec<String> {
    wait_for(PATIENCE, || {
        let lines = get(http, "/logs").lines();
        (lines.len() >= n).then_some(lines)
    })
}

/// Signals `running` with `signal` and checks it exits 0 within 10 s, logging the signal.
fn stops_cleanly_on(mut running: Running, signal: &str) {
    // An idle client connection must not hold the stop up.
    let _idle = TcpStream::connect(running.http).expect("connect to the read API");
    let started = Instant::now();
    running.signal(signal);
    let status = running.wait_exit(Duration::from_secs(15));
    let took = started.elapsed();
    assert!(status.success(), "exit status {status:?} after SIG{signal}");
    assert!(took < Duration::from_secs(10), "the stop took {took:?}");
    let log = running.log_text();
    assert!(
        log.contains(&format!("caught signal (SIG{signal})")),
        "{log}"
    );
}

#[test]
fn sigint_stops_the_service_cleanly() {
    let running = start(
        "sigint.conf",
        "[INPUT]\n    name dummy\n    rate 50\n[OUTPUT]\n    name vivo_exporter\n    match *\n",
    );
    wait_lines(running.http, 1);
    stops_cleanly_on(running, "INT");
}

#[test]
fn a_stop_with_grace_1_under_load_ends_promptly() {
    // 5,000 records of ~1 KB a second keep the render worker busy when the signal comes.
    let big = "x".repeat(1000);
    let running = start(
        "grace.conf",
        &format!(
            "[SERVICE]\n    flush 0.05\n    grace 1\n[INPUT]\n    name dummy\n    rate 100\n    copies 50\n    dummy {{\"message\":\"{big}\"}}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    workers 1\n"
        ),
    );
    wait_for(PATIENCE, || {
        (common::binary::next_id(running.http) >= 5).then_some(())
    });
    stops_cleanly_on(running, "TERM");
}

#[cfg(unix)]
#[test]
fn the_unix_socket_has_unix_perm_carries_messages_and_is_removed_at_stop() {
    use std::io::Write;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    let socket = temp_dir().join("unix-perm.sock");
    let _ = std::fs::remove_file(&socket);
    let mut running = start(
        "unix.conf",
        &format!(
            "[SERVICE]\n    flush 0.05\n[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n    unix_path {}\n    unix_perm 0600\n[OUTPUT]\n    name vivo_exporter\n    match *\n",
            socket.display()
        ),
    );
    // The forward input's listening line comes after the outputs' and names the socket.
    let log = running.wait_log("[input:forward:forward.0] listening on 127.0.0.1:");
    assert!(log.contains(&format!(" and {}", socket.display())), "{log}");
    let meta = std::fs::symlink_metadata(&socket).expect("the socket file exists");
    assert!(meta.file_type().is_socket(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);

    // ["app", 1700000000, {"k":"v"}]: Message mode, integer time.
    let message = [
        0x93, 0xa3, b'a', b'p', b'p', 0xce, 0x65, 0x53, 0xf1, 0x00, 0x81, 0xa1, b'k', 0xa1, b'v',
    ];
    let mut stream =
        std::os::unix::net::UnixStream::connect(&socket).expect("connect to the Unix socket");
    stream
        .write_all(&message)
        .expect("send over the Unix socket");
    let lines = wait_lines(running.http, 1);
    assert_eq!(
        lines,
        ["[[1700000000000000000,{\"_tag\":\"app\"}],{\"k\":\"v\"}]"]
    );
    drop(stream);

    running.signal("TERM");
    assert!(running.wait_exit(PATIENCE).success());
    assert!(
        std::fs::symlink_metadata(&socket).is_err(),
        "{} is left behind after the stop",
        socket.display()
    );
}

#[test]
fn several_outputs_serve_on_their_own_ports() {
    let path = temp_config(
        "two-outputs.conf",
        "[SERVICE]\n    flush 0.05\n[INPUT]\n    name dummy\n    tag a.one\n    rate 20\n[INPUT]\n    name dummy\n    tag b.two\n    rate 20\n\
         [OUTPUT]\n    name vivo_exporter\n    match a.*\n    host 127.0.0.1\n    port 0\n\
         [OUTPUT]\n    name vivo_exporter\n    match b.*\n    host 127.0.0.1\n    port 0\n",
    );
    let running = spawn(&["-c", arg(&path)]);
    assert_eq!(running.outputs.len(), 2, "{:?}", running.outputs);
    assert_ne!(running.outputs[0].port(), running.outputs[1].port());
    assert_eq!(running.http, running.outputs[0]);
    for (addr, tag) in running.outputs.iter().zip(["a.one", "b.two"]) {
        assert_eq!(get(*addr, "/").text(), "Fluent Bit Vivo Exporter\n");
        let lines = wait_lines(*addr, 5);
        for line in &lines {
            assert!(line.starts_with("[["), "{line}");
            assert!(
                line.contains(&format!(",{{\"_tag\":\"{tag}\"}}]")),
                "output on {addr} should only hold {tag}: {line}"
            );
        }
    }
}

#[test]
fn match_regex_selects_the_tags_an_output_takes() {
    let running = start(
        "regex.conf",
        "[SERVICE]\n    flush 0.05\n[INPUT]\n    name dummy\n    tag keep.me\n    rate 20\n[INPUT]\n    name dummy\n    tag drop.me\n    rate 20\n\
         [OUTPUT]\n    name vivo_exporter\n    match_regex ^keep\\.\n",
    );
    // Both inputs generate: drop.me's batches are accepted, then routed nowhere.
    wait_for(PATIENCE, || {
        let dropped = metric(
            running.http,
            "vivo_input_accepted_batches_total{input=\"dummy.1\"}",
        );
        (dropped >= 5).then_some(())
    });
    let lines = wait_lines(running.http, 10);
    for line in &lines {
        assert!(
            line.contains("{\"_tag\":\"keep.me\"}"),
            "only keep.me may arrive: {line}"
        );
    }
}

/// The stderr of the binary started on `config` (saved as `name`) with its read API on a
/// fixed free port (the listening line may be hidden), after a read and a SIGTERM.
fn stderr_of_a_run(name: &str, config: &str) -> String {
    let port = free_port();
    let http = SocketAddr::from(([127, 0, 0, 1], port));
    let path = temp_config(name, &config.replace("PORT", &port.to_string()));
    let mut running = spawn_unlogged(&["-c", arg(&path)], http);
    assert_eq!(get(http, "/").status, 200);
    running.signal("TERM");
    assert!(running.wait_exit(PATIENCE).success());
    running.log_text()
}

/// The stderr of `--dry-run` on `config` (saved as `name`, `PORT` made 0), which must succeed.
fn stderr_of_a_dry_run(name: &str, config: &str) -> String {
    let path = temp_config(name, &config.replace("PORT", "0"));
    let output = run(&["--dry-run", "-c", arg(&path)], QUICK);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stderr).expect("UTF-8 stderr")
}

#[test]
fn log_level_error_in_the_file_hides_info_lines_even_at_load() {
    // `http_server` is logged at info as ignored while loading; no input is a load-time warning.
    let config = |level: &str| {
        format!(
            "[SERVICE]\n    log_level {level}\n    http_server on\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port PORT\n"
        )
    };
    // The same file at info logs at load: the lines exist to be hidden.
    let loud = stderr_of_a_dry_run("level-info.conf", &config("info"));
    assert!(
        loud.contains("[ info]") && loud.contains("key 'http_server' has no effect"),
        "{loud}"
    );
    assert!(loud.contains("[ warn]"), "{loud}");

    let log = stderr_of_a_run("level-error.conf", &config("error"));
    for hidden in [
        "[ info]",
        "[ warn]",
        "http_server",
        "listening",
        "caught signal",
    ] {
        assert!(!log.contains(hidden), "{hidden:?} in the log:\n{log}");
    }
}

#[test]
fn log_level_off_in_the_file_silences_everything() {
    // An output without match and no input: two load-time warnings.
    let config = |level: &str| {
        format!(
            "[SERVICE]\n    log_level {level}\n[OUTPUT]\n    name vivo_exporter\n    host 127.0.0.1\n    port PORT\n"
        )
    };
    let loud = stderr_of_a_dry_run("level-warn.conf", &config("warn"));
    assert!(loud.contains("has no 'match' or 'match_regex'"), "{loud}");

    assert_eq!(
        stderr_of_a_dry_run("level-off-dry.conf", &config("off")),
        ""
    );
    assert_eq!(stderr_of_a_run("level-off.conf", &config("off")), "");

    // Even a failed start says nothing: its error is a log line too (unlike `log_level error`).
    let held = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = held.local_addr().expect("held address").port().to_string();
    let path = temp_config("level-off-busy.conf", &config("off").replace("PORT", &port));
    let output = run(&["-c", arg(&path)], QUICK);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_failed_listen_exits_1_and_announces_nothing() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = held.local_addr().expect("held address").port();
    for (name, config, failing) in [
        (
            "busy-output.conf",
            format!("[INPUT]\n    name dummy\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port {port}\n"),
            "vivo_exporter.0",
        ),
        (
            // The read API binds first and succeeds; it must not be announced either.
            "busy-forward.conf",
            format!("[INPUT]\n    name forward\n    listen 127.0.0.1\n    port {port}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n"),
            "forward.0",
        ),
    ] {
        let path = temp_config(name, &config);
        let output = run(&["-c", arg(&path)], QUICK);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{name}: the start line and the failure only: {stderr}");
        assert!(lines[0].contains("[ info] [engine] vivo-exporter"), "{name}: {stderr}");
        assert!(lines[0].contains("starting with"), "{name}: {stderr}");
        let failure = format!("[error] [engine] {failing}: cannot listen on 127.0.0.1:{port}:");
        assert!(lines[1].contains(&failure), "{name}: want {failure:?} in {stderr}");
        assert!(!stderr.contains("listening"), "{name}: {stderr}");
    }
    drop(held);
}

#[test]
fn json_escape_unicode_off_writes_raw_utf8_and_on_escapes() {
    let config = |escape: &str| {
        format!(
            "[SERVICE]\n    flush 0.05\n{escape}[INPUT]\n    name dummy\n    rate 20\n    dummy {{\"text\":\"héllo 日本 🚀\"}}\n[OUTPUT]\n    name vivo_exporter\n    match *\n"
        )
    };
    let raw = start("escape-off.conf", &config("    json.escape_unicode off\n"));
    let escaped = start("escape-default.conf", &config(""));
    for line in wait_lines(raw.http, 2) {
        assert!(
            line.ends_with("],{\"text\":\"héllo 日本 🚀\"}]"),
            "raw UTF-8 with escape_unicode off: {line}"
        );
        assert!(!line.contains("\\u"), "{line}");
    }
    for line in wait_lines(escaped.http, 2) {
        assert!(
            line.ends_with("],{\"text\":\"h\\u00e9llo \\u65e5\\u672c \\ud83d\\ude80\"}]"),
            "\\u escapes by default: {line}"
        );
    }
}

/// The address a `[input:KIND:NAME] listening on ADDR…` line names (the ports asked were 0).
fn input_addr(running: &Running, prefix: &str) -> SocketAddr {
    let log = running.wait_log(prefix);
    let line = log
        .lines()
        .find(|line| line.contains(prefix))
        .expect("the listening line");
    let rest = &line[line.find(prefix).expect("prefix") + prefix.len()..];
    rest.split_whitespace()
        .next()
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// The binary with a Forward and an HTTP JSON input, both on ephemeral ports, and `grace`;
/// with the two inputs' addresses.
fn start_for_stop(name: &str, grace: u32) -> (Running, SocketAddr, SocketAddr) {
    let running = start(
        name,
        &format!(
            "[SERVICE]\n    flush 0.05\n    grace {grace}\n\
             [INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n\
             [INPUT]\n    name http\n    listen 127.0.0.1\n    port 0\n\
             [OUTPUT]\n    name vivo_exporter\n    match *\n    stream_queue_size 64M\n"
        ),
    );
    let forward = input_addr(&running, "[input:forward:forward.0] listening on ");
    let json = input_addr(&running, "[input:http:http.0] listening on ");
    (running, forward, json)
}

/// A request to the HTTP JSON input whose body never comes whole: while it is in flight, a
/// stop waits for it (up to `grace`) before it goes on, and the read API still serves.
fn hold_a_request(json: SocketAddr) -> TcpStream {
    use std::io::Write;
    let mut stream = TcpStream::connect(json).expect("connect to the HTTP input");
    stream
        .write_all(
            b"POST /held HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"held\":",
        )
        .expect("send part of a request");
    // Let the server take it up.
    std::thread::sleep(Duration::from_millis(300));
    stream
}

/// A Forward message of one record `{"msg": text}` asking for the ack `chunk`.
fn acked_message(chunk: &str, text: &str) -> Vec<u8> {
    use common::forward::{arr, map, s, uint};
    arr(&[
        s("stop.test"),
        arr(&[arr(&[uint(1_700_000_000), map(&[("msg", s(text))])])]),
        map(&[("chunk", s(chunk))]),
    ])
}

#[test]
fn events_acknowledged_before_sigterm_are_read_after_it_and_the_exit_is_0() {
    use common::forward::{ack, read_reply};
    use std::io::{Read, Write};

    let (mut running, forward, json) = start_for_stop("stop-reads.conf", 10);
    let http = running.http;
    // About 8 MB in 1 MB entries, so that a whole read of them is still being sent when the
    // signal comes.
    let mut producer = TcpStream::connect(forward).expect("connect to the forward input");
    producer
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    let big = "x".repeat(1_000_000);
    for n in 0..8 {
        let chunk = format!("fill-{n}");
        producer
            .write_all(&acked_message(&chunk, &big))
            .expect("send");
        assert_eq!(read_reply(&mut producer), ack(&chunk));
    }
    // A read in flight: its head and the first bytes of its body.
    let mut in_flight = TcpStream::connect(http).expect("connect to the read API");
    in_flight
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    in_flight
        .write_all(b"GET /logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send the read");
    let mut first = vec![0u8; 65536];
    in_flight.read_exact(&mut first).expect("the first bytes");
    let held = hold_a_request(json);
    // Twenty events acknowledged, the last just before the signal.
    let acked: Vec<String> = (0..20).map(|n| format!("acked-{n}")).collect();
    for text in &acked {
        producer
            .write_all(&acked_message(text, text))
            .expect("send");
        assert_eq!(read_reply(&mut producer), ack(text));
    }
    running.signal("TERM");
    running.wait_log("caught signal (SIGTERM)");
    // The stop has begun: the inputs take nothing more...
    wait_for(PATIENCE, || {
        TcpStream::connect(forward).is_err().then_some(())
    });
    // ...and a read made now has every event acknowledged before the signal.
    let body = get(http, "/logs?from=8").text();
    for text in &acked {
        assert!(body.contains(&format!("\"{text}\"")), "{text} is missing");
    }
    // The read in flight is answered whole.
    let mut rest = Vec::new();
    in_flight
        .read_to_end(&mut rest)
        .expect("the rest of the answer");
    let answer = [first, rest].concat();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the head");
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Content-Length");
    assert!(length > 8_000_000, "{length} bytes");
    assert_eq!(answer.len() - split - 4, length, "the whole body");
    // Once the held request goes, the stop goes on and ends well.
    drop(held);
    let status = running.wait_exit(PATIENCE);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_second_sigterm_during_a_long_grace_exits_at_once_with_code_1() {
    let (mut running, _forward, json) = start_for_stop("stop-twice.conf", 30);
    let _held = hold_a_request(json);
    running.signal("TERM");
    running.wait_log("caught signal (SIGTERM)");
    // The first stop waits for the held request (up to 30 s)...
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        running.child.try_wait().expect("wait").is_none(),
        "the first stop did not wait for the request in flight"
    );
    // ...a second signal does not.
    let second = Instant::now();
    running.signal("TERM");
    let status = running.wait_exit(PATIENCE);
    let took = second.elapsed();
    assert_eq!(status.code(), Some(1), "{status:?}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after the second signal"
    );
    assert!(
        running
            .log_text()
            .contains("caught a second signal (SIGTERM), exiting at once"),
        "{}",
        running.log_text()
    );
}
