//! Hostile clients against the real binary over loopback: each case is bounded in time, and
//! after each the service still serves, its memory stays bounded (the kernel's high-water mark
//! of its resident set, `VmHWM`, so a spike that came and went is seen), and what was
//! acknowledged before is still readable.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::binary::{free_port, spawn, temp_config, Running};
use common::forward::{ack, arr, bin, gzip, map, read_reply, s, uint};
use common::get;

/// The binary with one forward input on a fixed free port and the read API on port 0.
fn start(extra_service: &str, extra_forward: &str) -> (Running, SocketAddr) {
    let port = free_port();
    let config = temp_config(
        &format!("abuse-{port}.conf"),
        &format!(
            "[SERVICE]\n    flush 0.05\n{extra_service}\n[INPUT]\n    name forward\n    \
             listen 127.0.0.1\n    port {port}\n{extra_forward}\n[OUTPUT]\n    name vivo_exporter\n    \
             match *\n    host 127.0.0.1\n    port 0\n"
        ),
    );
    let running = spawn(&["-c", config.to_str().expect("UTF-8 path")]);
    (running, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The process's resident-set high-water mark, in MB.
fn peak_rss_mb(running: &Running) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.child.id()))
        .expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// A message that is acknowledged; its line is then readable.
fn good(n: u64) -> Vec<u8> {
    arr(&[
        s("app.good"),
        uint(1_700_000_000 + n),
        map(&[("n", uint(n))]),
        map(&[("chunk", s(&format!("good-{n}")))]),
    ])
}

/// Reads until the server closes the connection; panics on any byte (no ack may come).
fn expect_closed_unacked(stream: &mut TcpStream) {
    let mut byte = [0u8; 64];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Ok(n) => panic!("the server replied {:02x?}", &byte[..n]),
        Err(e) => assert!(
            matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
            "neither closed nor reset: {e}"
        ),
    }
}

/// `[tag, bin(records), {chunk}]`: `count` empty records `[1,{}]` under a `tag_len`-byte tag.
fn amplifying_message(tag_len: usize, count: usize, compressed: bool) -> Vec<u8> {
    let payload = [0x92u8, 0x01, 0x80].repeat(count);
    let (payload, mut options) = if compressed {
        (gzip(&payload), vec![("compressed", s("gzip"))])
    } else {
        (payload, Vec::new())
    };
    options.push(("chunk", s("amplified")));
    arr(&[s(&"t".repeat(tag_len)), bin(&payload), map(&options)])
}

#[test]
fn a_6_mb_message_that_would_render_to_6_gb_is_refused_within_100_mb() {
    let (running, fwd) = start("", "    buffer_max_size 8M");
    let mut before = connect(fwd);
    before.write_all(&good(1)).expect("send");
    assert_eq!(read_reply(&mut before), ack("good-1"));
    for compressed in [false, true] {
        let message = amplifying_message(3000, 1_990_000, compressed);
        let mut stream = connect(fwd);
        stream.write_all(&message).expect("send the message");
        expect_closed_unacked(&mut stream);
    }
    // The service goes on: the connection from before still works, a new one too.
    before.write_all(&good(2)).expect("send");
    assert_eq!(read_reply(&mut before), ack("good-2"));
    let lines = get(running.http, "/logs").lines();
    assert_eq!(lines.len(), 2, "only the good messages: {lines:?}");
    let metrics = get(running.http, "/internal/metrics").text();
    assert!(
        metrics.contains(
            "vivo_input_rejected_total{input=\"forward.0\",reason=\"entry_too_large\"} 2"
        ),
        "{metrics}"
    );
    let peak = peak_rss_mb(&running);
    assert!(peak < 100.0, "peak RSS {peak:.0} MB");
}

/// Whether the server closed `stream` (reads 0 or resets) within `wait`.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed_on_time() {
    let (running, fwd) = start("", "    idle_timeout 1\n    frame_timeout 1");
    let mut idle = connect(fwd);
    let mut trickle = connect(fwd);
    // The first bytes of a frame, then nothing.
    trickle.write_all(&good(3)[..5]).expect("send");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "idle closed"
    );
    assert!(
        closed_within(&mut trickle, Duration::from_secs(5)),
        "half frame closed"
    );
    // A connection that keeps sending whole frames stays.
    let mut busy = connect(fwd);
    for n in 0..4 {
        busy.write_all(&good(n)).expect("send");
        assert_eq!(read_reply(&mut busy), ack(&format!("good-{n}")));
        std::thread::sleep(Duration::from_millis(400));
    }
    let metrics = get(running.http, "/internal/metrics").text();
    for reason in ["idle_timeout", "frame_timeout"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"}} 1")),
            "{reason} counted once:\n{metrics}"
        );
    }
}

#[test]
fn a_flood_past_max_connections_is_refused_while_the_read_api_serves() {
    let (running, fwd) = start("", "    max_connections 20");
    let held: Vec<TcpStream> = (0..20).map(|_| connect(fwd)).collect();
    // Let the server take all twenty before the flood.
    std::thread::sleep(Duration::from_millis(300));
    let mut flood: Vec<TcpStream> = (0..200).map(|_| connect(fwd)).collect();
    for stream in flood.iter_mut().take(10) {
        assert!(
            closed_within(stream, Duration::from_secs(5)),
            "closed past the limit"
        );
    }
    assert_eq!(
        get(running.http, "/").status,
        200,
        "the read API serves meanwhile"
    );
    drop(flood);
    drop(held);
    // Once they are gone, producers are served again.
    common::wait_for(Duration::from_secs(10), || {
        let mut stream = connect(fwd);
        stream.write_all(&good(9)).ok()?;
        (read_reply_opt(&mut stream)? == ack("good-9")).then_some(())
    });
    let metrics = get(running.http, "/internal/metrics").text();
    assert!(metrics.contains("reason=\"connection_limit\""), "{metrics}");
}

/// One reply, or `None` if the connection closes first.
fn read_reply_opt(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        if let Some(len) = common::forward::object_len(&buf) {
            return Some(buf[..len].to_vec());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn slow_senders_holding_large_frames_share_mem_buf_limit() {
    let (running, fwd) = start("", "    buffer_max_size 8M\n    mem_buf_limit 4M");
    // Each declares a 6 MB frame and sends 1 MB of it: past the 4 MB budget, connections go.
    let header = {
        let mut h = vec![0x93, 0xa3, b'a', b'p', b'p', 0xc6];
        h.extend_from_slice(&(6_000_000u32).to_be_bytes());
        h
    };
    let mut senders: Vec<TcpStream> = Vec::new();
    for _ in 0..12 {
        let mut stream = connect(fwd);
        stream.write_all(&header).expect("send");
        let _ = stream.write_all(&vec![0u8; 1_000_000]);
        senders.push(stream);
    }
    let mut closed = 0;
    for stream in senders.iter_mut() {
        if closed_within(stream, Duration::from_millis(1500)) {
            closed += 1;
        }
    }
    assert!(
        closed >= 8,
        "{closed} of 12 closed: only about four 1 MB frames fit in 4 MB"
    );
    let metrics = get(running.http, "/internal/metrics").text();
    assert!(metrics.contains("reason=\"memory_budget\""), "{metrics}");
    drop(senders);
    let mut stream = connect(fwd);
    stream.write_all(&good(5)).expect("send");
    assert_eq!(read_reply(&mut stream), ack("good-5"));
    let peak = peak_rss_mb(&running);
    assert!(peak < 100.0, "peak RSS {peak:.0} MB");
}
