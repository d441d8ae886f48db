//! Readers beyond polling, over real sockets: long-polls woken by a publish and timing out,
//! NDJSON follow and Server-Sent Events receiving entries published after they connected, in
//! order, resuming from `Last-Event-ID`, gap notices after evictions, a slow follower cut off,
//! and the validators (`ETag`/`If-None-Match`, the generation, `Vivo-Stream-Oldest-ID`,
//! `http_cache_max_age`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::binary::next_id;
use common::forward::forward_service as service;
use common::forward::{ack, arr, map, read_reply, s, uint};
use common::{get, request};

/// Sends one message with the record `{"n":n}` (padded with `pad` bytes) and waits for its ack.
fn publish(fwd: SocketAddr, n: u64, pad: usize) {
    let mut stream = common::forward::connect(fwd);
    let chunk = format!("c{n}");
    let record = map(&[("n", uint(n)), ("pad", s(&"x".repeat(pad)))]);
    let message = arr(&[
        s("live"),
        arr(&[arr(&[uint(1_700_000_000), record])]),
        map(&[("chunk", s(&chunk))]),
    ]);
    stream.write_all(&message).unwrap();
    assert_eq!(read_reply(&mut stream), ack(&chunk));
}

/// The line the stream holds for record `n` (no padding).
fn line(n: u64) -> String {
    format!("[[1700000000000000000,{{\"_tag\":\"live\"}}],{{\"n\":{n},\"pad\":\"\"}}]")
}

/// A streamed (chunked) response read as it arrives.
struct Live {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: Vec<(String, String)>,
    /// Decoded body bytes not yet handed out.
    buffered: Vec<u8>,
    ended: bool,
}

impl Live {
    /// Sends `GET target` with `headers` and reads the response head.
    fn open(addr: SocketAddr, target: &str, headers: &[&str]) -> Live {
        Self::open_on(
            TcpStream::connect(addr).expect("connect"),
            addr,
            target,
            headers,
        )
    }

    fn open_on(stream: TcpStream, addr: SocketAddr, target: &str, headers: &[&str]) -> Live {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        (&stream).write_all(head.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        Live {
            reader,
            status,
            headers,
            buffered: Vec::new(),
            ended: false,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads one more chunk into the buffer; false at the end of the body.
    fn read_chunk(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let mut size_line = String::new();
        if self.reader.read_line(&mut size_line).unwrap_or(0) == 0 {
            self.ended = true;
            return false;
        }
        let size = usize::from_str_radix(size_line.trim(), 16).expect("a chunk size");
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).expect("a whole chunk");
        if size == 0 {
            self.ended = true;
            return false;
        }
        self.buffered.extend_from_slice(&data[..size]);
        true
    }

    /// The next `separator`-terminated record of the body, without the separator.
    fn next_record(&mut self, separator: &[u8]) -> Option<String> {
        loop {
            if let Some(at) = self
                .buffered
                .windows(separator.len())
                .position(|w| w == separator)
            {
                let record: Vec<u8> = self.buffered.drain(..at + separator.len()).collect();
                return Some(String::from_utf8_lossy(&record[..at]).into_owned());
            }
            if !self.read_chunk() {
                return None;
            }
        }
    }

    fn next_line(&mut self) -> Option<String> {
        self.next_record(b"\n")
    }

    /// The next Server-Sent Event (the lines of one event), comments included.
    fn next_event(&mut self) -> Option<String> {
        self.next_record(b"\n\n")
    }
}

#[test]
fn a_long_poll_is_answered_by_the_publish_it_waits_for() {
    let (_service, fwd, http) = service("");
    publish(fwd, 0, 0);
    let next = next_id(http);
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let answer = get(http, &format!("/logs?from={next}&wait=10"));
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    publish(fwd, 1, 0);
    let (answer, waited) = waiter.join().unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.lines(), [line(1)]);
    assert_eq!(answer.header("Vivo-Stream-Start-ID"), Some("1"));
    assert_eq!(answer.header("Vivo-Stream-Next-ID"), Some("2"));
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(8),
        "answered after {waited:?}: by the publish, not before, not at the time-out"
    );
    // Something is already held: no wait at all.
    let started = Instant::now();
    assert_eq!(get(http, "/logs?from=0&wait=10").lines().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_long_poll_times_out_with_an_empty_answer_and_is_capped_by_http_max_wait() {
    let (_service, _fwd, http) = service("    http_max_wait 1");
    let started = Instant::now();
    let answer = get(http, "/logs?from=5&wait=400ms");
    let waited = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("Vivo-Stream-Next-ID"), Some("0"));
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    let started = Instant::now();
    let answer = get(http, "/logs?from=5&wait=30s");
    let waited = started.elapsed();
    assert_eq!(answer.status, 200);
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "wait=30s is capped at http_max_wait 1: {waited:?}"
    );
    assert_eq!(get(http, "/logs?wait=soon").status, 400);
}

#[test]
fn an_ndjson_follow_gets_the_held_entries_then_each_new_one_in_order() {
    let (_service, fwd, http) = service("");
    publish(fwd, 0, 0);
    publish(fwd, 1, 0);
    let mut follow = Live::open(http, "/logs?from=1&follow=true", &[]);
    assert_eq!(follow.status, 200);
    assert_eq!(follow.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(follow.header("transfer-encoding"), Some("chunked"));
    assert_eq!(follow.next_line(), Some(line(1)));
    for n in 2..6 {
        publish(fwd, n, 0);
    }
    for n in 2..6 {
        assert_eq!(follow.next_line(), Some(line(n)));
    }
    // With `to`, the follow ends after that entry.
    let mut bounded = Live::open(http, "/logs?from=4&to=6&follow=1", &[]);
    assert_eq!(bounded.next_line(), Some(line(4)));
    assert_eq!(bounded.next_line(), Some(line(5)));
    publish(fwd, 6, 0);
    publish(fwd, 7, 0);
    assert_eq!(bounded.next_line(), Some(line(6)));
    assert_eq!(bounded.next_line(), None, "ends after to=6");
}

#[test]
fn server_sent_events_resume_from_last_event_id_and_name_gaps() {
    // Room for about four padded entries: older ones are evicted as new ones come.
    let (_service, fwd, http) = service("    stream_queue_size 4000");
    publish(fwd, 0, 0);
    let sse = ["Accept: text/event-stream"];
    let mut events = Live::open(http, "/logs", &sse);
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    assert_eq!(events.header("cache-control"), Some("no-store"));
    assert_eq!(
        events.next_event(),
        Some(format!("id: 0\ndata: {}", line(0)))
    );
    publish(fwd, 1, 0);
    assert_eq!(
        events.next_event(),
        Some(format!("id: 1\ndata: {}", line(1)))
    );
    drop(events);
    // A browser reconnects with the last ID it saw.
    publish(fwd, 2, 0);
    let mut resumed = Live::open(
        http,
        "/logs",
        &["Accept: text/event-stream", "Last-Event-ID: 1"],
    );
    assert_eq!(
        resumed.next_event(),
        Some(format!("id: 2\ndata: {}", line(2)))
    );
    drop(resumed);
    // While it was away, entries 3.. were published and the oldest evicted.
    for n in 3..12 {
        publish(fwd, n, 900);
    }
    let oldest: u64 = get(http, "/logs")
        .header("Vivo-Stream-Oldest-ID")
        .and_then(|v| v.parse().ok())
        .expect("Vivo-Stream-Oldest-ID");
    assert!(oldest > 3, "the test must evict: oldest is {oldest}");
    let mut late = Live::open(
        http,
        "/logs",
        &["Accept: text/event-stream", "Last-Event-ID: 2"],
    );
    assert_eq!(
        late.next_event(),
        Some(format!(
            "event: gap\ndata: {{\"from\":3,\"to\":{}}}",
            oldest - 1
        ))
    );
    let first = late.next_event().expect("the oldest held entry");
    assert!(first.starts_with(&format!("id: {oldest}\n")), "{first}");
    // The NDJSON equivalent.
    let mut ndjson = Live::open(http, "/logs?from=1&follow=true", &[]);
    assert_eq!(
        ndjson.next_line(),
        Some(format!(
            "{{\"vivo_gap\":{{\"from\":1,\"to\":{}}}}}",
            oldest - 1
        ))
    );
}

#[test]
fn a_follower_too_slow_to_keep_up_is_cut_off_with_a_final_gap() {
    let (_service, fwd, http) = service("    stream_queue_size 200000");
    publish(fwd, 0, 0);
    // A follower with a tiny receive window that reads nothing for a while.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&http.into()).unwrap();
    let mut slow = Live::open_on(socket.into(), http, "/logs?follow=true", &[]);
    assert_eq!(slow.next_line(), Some(line(0)));
    // 6 MB through a 200 KB stream: what the follower has not taken is evicted long before
    // it reads again.
    for n in 1..=300 {
        publish(fwd, n, 20_000);
    }
    let mut last = String::new();
    let mut entries = 0;
    while let Some(line) = slow.next_line() {
        if line.starts_with("{\"vivo_gap\"") {
            last = line;
            break;
        }
        entries += 1;
    }
    assert!(
        last.starts_with("{\"vivo_gap\":{\"from\":"),
        "ends with a gap notice: {last}"
    );
    assert_eq!(slow.next_line(), None, "and the follow ends there");
    assert!(
        entries < 300,
        "it could not have got everything ({entries})"
    );
    // The service goes on serving.
    assert_eq!(get(http, "/").status, 200);
}

#[test]
fn validators_say_what_changed_and_which_start_it_is() {
    let (first_start, fwd, http) = service("    http_cache_max_age 60");
    publish(fwd, 0, 0);
    publish(fwd, 1, 0);
    let first = get(http, "/logs");
    let etag = first.header("ETag").expect("an ETag").to_string();
    assert!(
        etag.starts_with("W/\"") && etag.ends_with("-0-1\""),
        "a weak tag naming the range served: {etag}"
    );
    let generation = first
        .header("Vivo-Stream-Generation")
        .expect("a generation")
        .to_string();
    assert_eq!(first.header("Vivo-Stream-Oldest-ID"), Some("0"));
    assert_eq!(
        first.header("Cache-Control"),
        Some("no-store"),
        "an open range"
    );
    let again = request(http, "GET", "/logs", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    assert_eq!(again.header("Vivo-Stream-Next-ID"), Some("2"));
    let strong = etag.trim_start_matches("W/");
    let gzip = request(
        http,
        "GET",
        "/logs",
        &[&format!("If-None-Match: {strong}"), "Accept-Encoding: gzip"],
    );
    assert_eq!(gzip.status, 304, "weak comparison, whatever the coding");
    publish(fwd, 2, 0);
    let changed = request(http, "GET", "/logs", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(changed.status, 200, "a new entry changes the answer");
    assert_eq!(changed.lines().len(), 3);
    assert_ne!(changed.header("ETag"), Some(etag.as_str()));
    // A closed range may be cached.
    let closed = get(http, "/logs?from=0&to=1");
    assert_eq!(closed.header("Cache-Control"), Some("public, max-age=60"));
    drop(first_start);
    // A new start: IDs begin again, under a new generation.
    let (_service, fwd, http) = service("");
    publish(fwd, 0, 0);
    let restarted = get(http, "/logs");
    assert_ne!(
        restarted.header("Vivo-Stream-Generation"),
        Some(generation.as_str())
    );
    assert_ne!(restarted.header("ETag"), Some(etag.as_str()));
    let unchanged = request(http, "GET", "/logs", &[&format!("If-None-Match: {etag}")]);
    assert_eq!(
        unchanged.status, 200,
        "an ETag of the last start never matches"
    );
}
