//! The read API over real HTTP: spec §5.4's worked table, headers, CORS, methods, errors,
//! eviction and `empty_stream_on_read`.

mod common;

use bytes::Bytes;
use common::*;
use vivo_exporter::signal::Signal;

/// An era-A-looking line that names its entry, so a test can tell which entry a line came from.
fn line(entry: u64, record: u64) -> String {
    format!(
        "[[1700000000{entry:09},{{\"_tag\":\"t\"}}],{{\"entry\":{entry},\"record\":{record}}}]\n"
    )
}

/// An entry of `records` lines.
fn entry(id: u64, records: u64) -> Bytes {
    Bytes::from((0..records).map(|r| line(id, r)).collect::<String>())
}

/// Publishes `count` entries of two records each, directly into output 0's stream.
fn publish(service: &vivo_exporter::service::Service, signal: Signal, first: u64, count: u64) {
    service.outputs()[0].publish(
        signal,
        (first..first + count).map(|i| entry(i, 2)).collect(),
        envelopes(signal, count),
    );
}

/// The era-B/C envelopes a logs publish of `count` entries carries (none for the others).
fn envelopes(signal: Signal, count: u64) -> Vec<Vec<u8>> {
    let count = if signal == Signal::Logs { count } else { 0 };
    (0..count)
        .map(|_| vivo_exporter::output::envelope("test.0", "t"))
        .collect()
}

/// The entry IDs named by the lines of a body.
fn served_ids(response: &Response) -> Vec<u64> {
    let mut ids: Vec<u64> = response
        .lines()
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("line is JSON");
            v[1]["entry"].as_u64().expect("entry number")
        })
        .collect();
    ids.dedup();
    ids
}

fn start_end(response: &Response) -> Option<(u64, u64)> {
    match (
        response.header("Vivo-Stream-Start-ID"),
        response.header("Vivo-Stream-End-ID"),
    ) {
        (Some(s), Some(e)) => Some((s.parse().unwrap(), e.parse().unwrap())),
        (None, None) => None,
        other => panic!("only one of Start/End present: {other:?}"),
    }
}

/// A service whose logs stream holds IDs 5–9, as in spec §5.4's table.
fn stream_5_to_9() -> vivo_exporter::service::Service {
    let service = start(&output_only(""));
    publish(&service, Signal::Logs, 0, 10);
    service.outputs()[0].delete_through(Signal::Logs, 4);
    service
}

#[test]
fn worked_table_of_spec_5_4() {
    let service = stream_5_to_9();
    let addr = http_addr(&service);
    let rows: &[(&str, Option<(u64, u64)>)] = &[
        ("/logs", Some((5, 9))),
        ("/logs?from=0", Some((5, 9))),
        ("/logs?from=-3", Some((5, 9))),
        ("/logs?limit=0", Some((5, 9))),
        ("/logs?to=0", Some((5, 9))),
        ("/logs?from=7", Some((7, 9))),
        ("/logs?to=6", Some((5, 6))),
        ("/logs?from=6&to=8&limit=2", Some((6, 7))),
        ("/logs?limit=1", Some((5, 5))),
        ("/logs?from=12", None),
        ("/logs?to=3", None),
        ("/logs?from=8&to=6", None),
        // §13.2: every negative `to` means no upper bound (the original returned nothing for -2).
        ("/logs?to=-2", Some((5, 9))),
        ("/logs?to=-1", Some((5, 9))),
    ];
    for (target, expected) in rows {
        let response = get(addr, target);
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(start_end(&response), *expected, "{target}");
        let expected_ids: Vec<u64> = expected.map_or(vec![], |(s, e)| (s..=e).collect());
        assert_eq!(served_ids(&response), expected_ids, "{target}");
        assert_eq!(
            response.lines().len(),
            expected_ids.len() * 2,
            "{target}: whole entries"
        );
        let next = expected.map_or(10, |(_, e)| e + 1);
        assert_eq!(
            response.header("Vivo-Stream-Next-ID"),
            Some(next.to_string().as_str()),
            "{target}"
        );
    }
    service.stop();
}

#[test]
fn from_abc_is_a_400_with_a_json_body() {
    // §13.2: the original read `from=abc` as 0; we answer 400 and say why.
    let service = stream_5_to_9();
    let addr = http_addr(&service);
    for (target, name) in [
        ("/logs?from=abc", "from"),
        ("/logs?to=7x", "to"),
        ("/metrics?limit=", "limit"),
    ] {
        let response = get(addr, target);
        assert_eq!(response.status, 400, "{target}");
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON body");
        assert_eq!(body["error"], "bad_request");
        assert!(body["message"].as_str().unwrap().contains(name), "{body}");
    }
    service.stop();
}

#[test]
fn query_is_percent_decoded_and_names_are_exact() {
    let service = stream_5_to_9();
    let addr = http_addr(&service);
    let response = get(addr, "/logs?%66rom=%37&photo=2&climit=1");
    assert_eq!(start_end(&response), Some((7, 9)));
    let response = get(addr, "/logs?from=6&from=9&limit=1");
    assert_eq!(start_end(&response), Some((6, 6)), "first occurrence wins");
    service.stop();
}

#[test]
fn stream_headers_and_body_framing() {
    let service = stream_5_to_9();
    let addr = http_addr(&service);
    let response = get(addr, "/logs?from=9");
    assert_eq!(response.reason, "OK");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        response.header("Content-Length"),
        Some(entry(9, 2).len().to_string().as_str())
    );
    assert_eq!(
        response.body,
        entry(9, 2).to_vec(),
        "stored bytes, untouched"
    );
    assert!(
        response.header("Access-Control-Allow-Origin").is_none(),
        "no CORS unless configured"
    );
    // Nothing to serve: 200, empty body, no Start/End, Next-ID says where to resume.
    let response = get(addr, "/logs?from=10");
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_eq!(start_end(&response), None);
    assert_eq!(response.header("Vivo-Stream-Next-ID"), Some("10"));
    assert_eq!(response.header("Content-Length"), Some("0"));
    service.stop();
}

#[test]
fn streams_are_independent() {
    let service = start(&output_only(""));
    publish(&service, Signal::Logs, 0, 3);
    publish(&service, Signal::Traces, 100, 1);
    let addr = http_addr(&service);
    assert_eq!(start_end(&get(addr, "/logs")), Some((0, 2)));
    assert_eq!(start_end(&get(addr, "/metrics")), None);
    let traces = get(addr, "/traces");
    assert_eq!(start_end(&traces), Some((0, 0)));
    assert_eq!(served_ids(&traces), vec![100]);
    service.stop();
}

#[test]
fn cors_headers_when_configured() {
    let service = start(&output_only("    http_cors_allow_origin *"));
    publish(&service, Signal::Logs, 0, 2);
    let addr = http_addr(&service);
    let response = get(addr, "/logs");
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        response.header("Access-Control-Allow-Headers"),
        Some("Origin, X-Requested-With, Content-Type, Accept")
    );
    // The era-A three first (what the Vivo UI reads), then the validators and restart headers.
    assert_eq!(
        response.header("Access-Control-Expose-Headers"),
        Some(
            "vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id, \
             vivo-stream-oldest-id, vivo-stream-generation, etag"
        )
    );
    let preflight = request(
        addr,
        "OPTIONS",
        "/logs",
        &[
            "Origin: http://ui.example",
            "Access-Control-Request-Method: GET",
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        preflight.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert!(preflight.body.is_empty());
    service.stop();
}

#[test]
fn options_without_cors_is_204_with_allow() {
    let service = start(&output_only(""));
    let response = request(http_addr(&service), "OPTIONS", "/metrics", &[]);
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Allow"), Some("GET, HEAD, OPTIONS"));
    assert!(response.header("Access-Control-Allow-Methods").is_none());
    service.stop();
}

#[test]
fn head_has_the_headers_and_no_body_and_does_not_drain() {
    let service = start(&output_only("    empty_stream_on_read on"));
    publish(&service, Signal::Logs, 0, 3);
    let addr = http_addr(&service);
    let head = request(addr, "HEAD", "/logs?limit=2", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(start_end(&head), Some((0, 1)));
    assert_eq!(head.header("Content-Type"), Some("application/json"));
    let expected_len = entry(0, 2).len() + entry(1, 2).len();
    assert_eq!(
        head.header("Content-Length"),
        Some(expected_len.to_string().as_str())
    );
    // HEAD did not drain: a GET still sees everything.
    let response = get(addr, "/logs");
    assert_eq!(start_end(&response), Some((0, 2)));
    service.stop();
}

/// Every header of a response but `Date`, lowercased names, sorted.
fn headers_but_date(response: &Response) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("date"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    headers.sort();
    headers
}

#[test]
fn head_carries_exactly_the_headers_of_get() {
    // With CORS, so its headers are compared too; on every endpoint, empty and full streams.
    let service = start(&output_only("    http_cors_allow_origin *"));
    let addr = http_addr(&service);
    let targets = [
        "/logs",
        "/logs?from=0&to=0",
        "/metrics",
        "/",
        "/internal/metrics",
        "/nowhere",
    ];
    let compare = |when: &str| {
        for target in targets {
            let head = request(addr, "HEAD", target, &[]);
            let get = get(addr, target);
            assert_eq!(head.status, get.status, "{when} {target}");
            assert_eq!(
                headers_but_date(&head),
                headers_but_date(&get),
                "{when} {target}"
            );
            assert!(
                get.header("Content-Length").is_some(),
                "{when} {target}: GET has a Content-Length"
            );
        }
    };
    compare("empty");
    publish(&service, Signal::Logs, 0, 5);
    compare("full");
    service.stop();
}

#[test]
fn other_methods_are_405_with_allow() {
    let service = start(&output_only("    empty_stream_on_read on"));
    publish(&service, Signal::Logs, 0, 2);
    let addr = http_addr(&service);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let response = request(addr, method, "/logs", &["Content-Length: 0"]);
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD, OPTIONS"));
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"], "method_not_allowed");
    }
    let response = request(addr, "POST", "/", &["Content-Length: 0"]);
    assert_eq!(response.status, 405);
    // None of those drained the stream.
    assert_eq!(start_end(&get(addr, "/logs")), Some((0, 1)));
    service.stop();
}

#[test]
fn http_max_entries_caps_every_answer_and_readers_page_on_with_next_id() {
    let service = start(&output_only("    http_max_entries 3"));
    publish(&service, Signal::Logs, 0, 8);
    let addr = http_addr(&service);
    let mut pages = Vec::new();
    let mut from = 0;
    while from < 8 {
        let page = get(addr, &format!("/logs?from={from}"));
        assert_eq!(page.status, 200);
        let (start, end) = start_end(&page).expect("entries served");
        assert!(end - start < 3, "at most 3 entries: {start}..={end}");
        pages.push(served_ids(&page));
        from = page.header("Vivo-Stream-Next-ID").unwrap().parse().unwrap();
    }
    assert_eq!(pages, [vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]);
    assert_eq!(
        start_end(&get(addr, "/logs?limit=100")),
        Some((0, 2)),
        "a larger limit is capped"
    );
    assert_eq!(start_end(&get(addr, "/logs?limit=2")), Some((0, 1)));
    service.stop();

    let uncapped = start(&output_only("    http_max_entries 0"));
    publish(&uncapped, Signal::Logs, 0, 8);
    assert_eq!(start_end(&get(http_addr(&uncapped), "/logs")), Some((0, 7)));
    uncapped.stop();
}

#[test]
fn unknown_paths_are_404_with_a_json_body() {
    let service = start(&output_only(""));
    publish(&service, Signal::Logs, 0, 1);
    let addr = http_addr(&service);
    for target in [
        "/nope",
        "/logs/",
        "/logsfoo",
        "/x/logs/y",
        "/api/v1/logs/",
        "/api/v2/logs",
        "/LOGS",
    ] {
        let response = get(addr, target);
        assert_eq!(response.status, 404, "{target}");
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"], "not_found");
    }
    service.stop();
}

#[test]
fn root_serves_the_plugin_name() {
    let service = start(&output_only(""));
    let response = get(http_addr(&service), "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Fluent Bit Vivo Exporter\n");
    service.stop();
}

#[test]
fn empty_stream_on_read_deletes_only_what_was_served() {
    let service = start(&output_only("    empty_stream_on_read on"));
    publish(&service, Signal::Logs, 0, 5);
    publish(&service, Signal::Metrics, 50, 2);
    let addr = http_addr(&service);
    // A read cut short by limit deletes up to its End only (§13.5), not the whole stream.
    let first = get(addr, "/logs?from=1&limit=2");
    assert_eq!(start_end(&first), Some((1, 2)));
    let rest = get(addr, "/logs");
    assert_eq!(
        start_end(&rest),
        Some((3, 4)),
        "entry 0 (skipped, older) went too; 3-4 stay"
    );
    assert_eq!(start_end(&get(addr, "/logs")), None, "drained");
    // A read that matched nothing deletes nothing, other streams are untouched, IDs go on.
    assert_eq!(start_end(&get(addr, "/metrics?from=5")), None);
    assert_eq!(start_end(&get(addr, "/metrics")), Some((0, 1)));
    publish(&service, Signal::Logs, 5, 1);
    let after = get(addr, "/logs");
    assert_eq!(start_end(&after), Some((5, 5)), "IDs are never reused");
    service.stop();
}

#[test]
fn eviction_keeps_the_stream_within_budget_over_http() {
    let size = entry(0, 2).len();
    // Room for exactly three entries.
    let service = start(&output_only(&format!("    stream_queue_size {}", size * 3)));
    publish(&service, Signal::Logs, 0, 3);
    let addr = http_addr(&service);
    assert_eq!(start_end(&get(addr, "/logs")), Some((0, 2)));
    publish(&service, Signal::Logs, 3, 1);
    let response = get(addr, "/logs?from=0");
    assert_eq!(
        start_end(&response),
        Some((1, 3)),
        "minimal eviction: one entry out"
    );
    assert_eq!(served_ids(&response), vec![1, 2, 3]);
    // An oversized entry is admitted alone.
    service.outputs()[0].publish(
        Signal::Logs,
        vec![entry(99, 10)],
        envelopes(Signal::Logs, 1),
    );
    assert_eq!(start_end(&get(addr, "/logs")), Some((4, 4)));
    service.stop();
}

#[test]
fn a_real_http_client_reads_the_stream() {
    let service = stream_5_to_9();
    let url = format!("http://{}/logs?from=8", http_addr(&service));
    let response = ureq::get(&url).call().expect("200");
    assert_eq!(response.header("vivo-stream-start-id"), Some("8"));
    assert_eq!(response.header("vivo-stream-end-id"), Some("9"));
    let body = response.into_string().unwrap();
    assert_eq!(
        body,
        format!(
            "{}{}",
            String::from_utf8_lossy(&entry(8, 2)),
            String::from_utf8_lossy(&entry(9, 2))
        )
    );
    service.stop();
}

#[test]
fn internal_metrics_count_what_the_streams_hold() {
    let service = start(&output_only(""));
    publish(&service, Signal::Logs, 0, 4);
    let response = get(http_addr(&service), "/internal/metrics");
    assert_eq!(response.status, 200);
    let text = response.text();
    assert!(
        text.contains("vivo_stream_entries{output=\"vivo_exporter.0\",stream=\"logs\"} 4"),
        "{text}"
    );
    service.stop();
}

#[test]
fn a_port_already_in_use_is_refused_at_start() {
    let first = start(&output_only(""));
    let port = http_addr(&first).port();
    let text = output_only("").replace("port 0", &format!("port {port}"));
    let config = vivo_exporter::config::Config::parse(
        &text,
        vivo_exporter::config::ConfigFormat::Classic,
        "test config",
    )
    .unwrap();
    let err = vivo_exporter::service::Service::start(&config)
        .err()
        .expect("a second service on the same port must not start");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    first.stop();
}

/// Reads `n` HTTP/1.1 responses with `Content-Length` bodies, one after another, from `stream`.
fn read_responses(stream: &mut std::net::TcpStream, n: usize) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut responses = Vec::new();
    while responses.len() < n {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).expect("head is text");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().expect("a length"))
                })
                .expect("Content-Length");
            if buf.len() >= end + 4 + length {
                let body = buf[end + 4..end + 4 + length].to_vec();
                buf.drain(..end + 4 + length);
                responses.push((head, body));
                continue;
            }
        }
        let got = stream.read(&mut chunk).expect("read");
        assert!(got > 0, "closed after {} of {n} responses", responses.len());
        buf.extend_from_slice(&chunk[..got]);
    }
    assert!(buf.is_empty(), "more bytes than {n} responses");
    responses
}

#[test]
fn a_hundred_pipelined_requests_on_one_connection_are_each_answered_in_order() {
    use std::io::Write;
    let service = start(&output_only(""));
    publish(&service, Signal::Logs, 0, 50);
    let mut stream = std::net::TcpStream::connect(http_addr(&service)).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // Entry i alone, a range, an empty tail read, and a 404, in turn, all in one write.
    let target = |i: u64| match i % 4 {
        // (to=0 would mean "no upper bound", so entry 0 is never asked for alone)
        0 => format!("/logs?from={}&to={}", i / 2 + 1, i / 2 + 1),
        1 => format!("/logs?from={}&limit=3", i / 4),
        2 => "/logs?from=50".to_string(),
        _ => format!("/nowhere/{i}"),
    };
    let requests: String = (0..100)
        .map(|i| format!("GET {} HTTP/1.1\r\nHost: test\r\n\r\n", target(i)))
        .collect();
    stream.write_all(requests.as_bytes()).unwrap();
    let responses = read_responses(&mut stream, 100);
    for (i, (head, body)) in responses.iter().enumerate() {
        let i = i as u64;
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let (status, start, end, next, expected_body) = match i % 4 {
            0 => {
                let id = i / 2 + 1;
                let e = String::from_utf8(entry(id, 2).to_vec()).unwrap();
                ("200", Some(id), Some(id), id + 1, e)
            }
            1 => {
                let first = i / 4;
                let e: String = (first..first + 3)
                    .map(|id| String::from_utf8(entry(id, 2).to_vec()).unwrap())
                    .collect();
                ("200", Some(first), Some(first + 2), first + 3, e)
            }
            2 => ("200", None, None, 50, String::new()),
            _ => {
                assert!(head.starts_with("HTTP/1.1 404"), "request {i}: {head}");
                let json: serde_json::Value = serde_json::from_slice(body).expect("JSON");
                assert_eq!(json["error"], "not_found", "request {i}");
                assert!(
                    json["message"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("/nowhere/{i}")),
                    "request {i}: the answer is for this request"
                );
                continue;
            }
        };
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status}")),
            "request {i}: {head}"
        );
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        assert_eq!(
            header("vivo-stream-start-id"),
            start.map(|v| v.to_string()),
            "request {i}"
        );
        assert_eq!(header("vivo-stream-end-id"), end.map(|v| v.to_string()));
        assert_eq!(header("vivo-stream-next-id"), Some(next.to_string()));
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            expected_body,
            "request {i}"
        );
    }
}
