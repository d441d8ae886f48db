//! The `http` input over real sockets, requests as curl sends them: objects, arrays, NDJSON,
//! form bodies that are JSON (`curl -d`), gzip, tags from the path and from `tag_key`,
//! `time_key`, and bad bodies (400 with the byte offset, nothing stored).

mod common;

use std::io::Write;
use std::net::SocketAddr;

use common::{get, http_addr, start};
use serde_json::Value;
use vivo_exporter::service::Service;

fn start_http(extra: &str) -> (Service, SocketAddr, SocketAddr) {
    let service = start(&format!(
        "[SERVICE]\n    log_level warn\n\n[INPUT]\n    name http\n    listen 127.0.0.1\n    port 0\n\
         {extra}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n"
    ));
    let input = service.http_json_addrs()[0];
    let http = http_addr(&service);
    (service, input, http)
}

/// POSTs `body` to `path`; (status, body).
fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut request = ureq::post(&format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_bytes(body) {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("POST {path}: {e}"),
    };
    (
        response.status(),
        response.into_string().expect("a text answer"),
    )
}

/// Each line of `/logs` as ([time, tag], record).
fn records(http: SocketAddr) -> Vec<(i64, String, Value)> {
    get(http, "/logs")
        .lines()
        .iter()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("an era-A line");
            (
                v[0][0].as_i64().expect("a time"),
                v[0][1]["_tag"].as_str().expect("a tag").to_string(),
                v[1].clone(),
            )
        })
        .collect()
}

const JSON: (&str, &str) = ("Content-Type", "application/json");

#[test]
fn objects_arrays_ndjson_form_and_gzip_with_tags_from_the_path() {
    let (_service, input, http) = start_http("");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    assert_eq!(
        post(input, "/app", &[JSON], br#"{"msg":"one"}"#),
        (201, String::new())
    );
    assert_eq!(
        post(
            input,
            "/app/web",
            &[JSON],
            br#"[{"msg":"two"},{"msg":"three"}]"#
        )
        .0,
        201
    );
    let ndjson = b"{\"msg\":\"four\"}\n\n{\"msg\":\"five\",\"n\":1.5}\n";
    assert_eq!(
        post(
            input,
            "/nd",
            &[("Content-Type", "application/x-ndjson")],
            ndjson
        )
        .0,
        201
    );
    // `curl -d '{…}'` sends application/x-www-form-urlencoded.
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    assert_eq!(post(input, "/curl", &[form], br#"{"msg":"six"}"#).0, 201);
    assert_eq!(post(input, "/curl", &[form], b"user=bob&n=2").0, 201);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"msg":"eight"}"#).expect("gzip");
    let gzipped = gz.finish().expect("gzip");
    assert_eq!(
        post(
            input,
            "/gz",
            &[JSON, ("Content-Encoding", "gzip")],
            &gzipped
        )
        .0,
        201
    );
    let got = records(http);
    let tags_and_records: Vec<(&str, String)> = got
        .iter()
        .map(|(_, tag, record)| (tag.as_str(), record.to_string()))
        .collect();
    assert_eq!(
        tags_and_records,
        [
            ("app", r#"{"msg":"one"}"#.to_string()),
            ("app.web", r#"{"msg":"two"}"#.to_string()),
            ("app.web", r#"{"msg":"three"}"#.to_string()),
            ("nd", r#"{"msg":"four"}"#.to_string()),
            ("nd", r#"{"msg":"five","n":1.5}"#.to_string()),
            ("curl", r#"{"msg":"six"}"#.to_string()),
            ("curl", r#"{"user":"bob","n":"2"}"#.to_string()),
            ("gz", r#"{"msg":"eight"}"#.to_string()),
        ]
    );
    // Every record got the time of arrival; one request is one entry.
    assert!(got.iter().all(|(t, ..)| *t >= before));
    let entries = get(http, "/logs")
        .header("Vivo-Stream-End-ID")
        .map(str::to_string);
    assert_eq!(entries.as_deref(), Some("5"), "6 requests, 6 entries");
}

#[test]
fn tag_key_and_time_key_and_the_response_code() {
    let (_service, input, http) =
        start_http("    tag_key svc\n    time_key ts\n    successful_response_code 200");
    let body = br#"[{"svc":"a","ts":1700000000.25,"i":1},{"i":2},{"svc":"a","ts":"2023-11-14T22:13:20Z","i":3}]"#;
    assert_eq!(post(input, "/fallback", &[JSON], body).0, 200);
    // One entry per tag, in the order tags appear, each with its records in order.
    let a = get(http, "/logs?from=0&limit=1").lines();
    assert_eq!(
        a,
        [
            r#"[[1700000000250000000,{"_tag":"a"}],{"svc":"a","ts":1700000000.25,"i":1}]"#,
            r#"[[1700000000000000000,{"_tag":"a"}],{"svc":"a","ts":"2023-11-14T22:13:20Z","i":3}]"#,
        ]
    );
    let fallback = get(http, "/logs?from=1&limit=1").lines();
    assert_eq!(fallback.len(), 1);
    assert!(
        fallback[0].ends_with(r#",{"_tag":"fallback"}],{"i":2}]"#),
        "{fallback:?}"
    );
}

#[test]
fn bad_bodies_are_refused_whole_with_where_and_why() {
    let (_service, input, http) = start_http("    buffer_max_size 1K");
    let (status, body) = post(input, "/app", &[JSON], br#"[{"ok":1},{"bad":]"#);
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"], "json");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains("at byte"),
        "{error}"
    );
    let (status, body) = post(input, "/app", &[JSON], b"[1,2]");
    assert_eq!(status, 400);
    assert!(body.contains("not a JSON object"), "{body}");
    let ndjson = b"{\"ok\":1}\n{\"bad\"\n";
    let (status, body) = post(
        input,
        "/app",
        &[("Content-Type", "application/x-ndjson")],
        ndjson,
    );
    assert_eq!(status, 400);
    // The second line starts at byte 9: the offset is in the body, not in the line.
    assert!(body.contains("at byte 10"), "{body}");
    assert_eq!(
        post(input, "/app", &[("Content-Type", "text/csv")], b"a,b").0,
        415
    );
    assert_eq!(post(input, "/app", &[JSON], &[b' '; 2000]).0, 413);
    let get_it = ureq::get(&format!("http://{input}/app")).call();
    assert!(matches!(get_it, Err(ureq::Error::Status(405, _))));
    // Nothing of a refused body was stored; a good one still is.
    assert!(get(http, "/logs").text().is_empty());
    assert_eq!(post(input, "/app", &[JSON], br#"{"ok":true}"#).0, 201);
    assert_eq!(records(http).len(), 1);
}
