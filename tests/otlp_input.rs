//! The `opentelemetry` input over real sockets: OTLP/HTTP with JSON and protobuf bodies (plain,
//! gzip, zstd), OTLP/gRPC, the OpenTelemetry Python SDK's HTTP and gRPC exporters (clients
//! nobody here wrote), and every refusal (415, 400, 413 before and after decompression, 404,
//! 405) with the service serving afterwards.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use common::{get, http_addr, python, start, wait_for};
use prost::Message;
use serde_json::Value;
use vivo_exporter::service::Service;

/// A service with one `opentelemetry` input (HTTP and gRPC on ephemeral ports) and `extra`
/// lines in its section.
fn start_otlp(extra: &str) -> (Service, SocketAddr, SocketAddr, SocketAddr) {
    let service = start(&format!(
        "[SERVICE]\n    flush 0.05\n    log_level warn\n\n[INPUT]\n    name opentelemetry\n    \
         listen 127.0.0.1\n    port 0\n    grpc_port 0\n{extra}\n[OUTPUT]\n    name vivo_exporter\n    \
         match *\n    host 127.0.0.1\n    port 0\n"
    ));
    let otlp = service.otlp_addrs()[0];
    let http = http_addr(&service);
    (service, otlp.http, otlp.grpc.expect("gRPC on"), http)
}

/// POSTs `body` to `path` with the given headers; (status, content type, body).
fn post(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut request = ureq::post(&format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_bytes(body) {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("POST {path}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("Content-Type").unwrap_or("").to_string();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).expect("read");
    (status, content_type, bytes)
}

/// Request headers, as (name, value) pairs.
type Headers = Vec<(&'static str, &'static str)>;

const JSON: (&str, &str) = ("Content-Type", "application/json");
const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");

/// otlp-mapping §2.6's request.
const SPEC_LOGS_JSON: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeLogs":[{"scope":{"name":"lib","version":"1.0"},"logRecords":[
  {"timeUnixNano":"1700000000123456789","observedTimeUnixNano":"1700000000200000000","severityNumber":9,
   "severityText":"INFO","body":{"stringValue":"hello"},"attributes":[
    {"key":"user","value":{"stringValue":"alice"}},{"key":"n","value":{"intValue":"42"}},
    {"key":"ok","value":{"boolValue":true}},{"key":"ratio","value":{"doubleValue":0.5}},
    {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
    {"key":"raw","value":{"bytesValue":"AQI="}}],"flags":1},
  {"timeUnixNano":"1700000001000000000","body":{"kvlistValue":{"values":[
    {"key":"msg","value":{"stringValue":"bye"}},{"key":"code","value":{"intValue":"7"}}]}}}]}]}]}"#;

/// The era-A lines of that request: the spec's protobuf lines with our deliberate differences
/// (true timestamps, bytes as base64), the same for a JSON or a protobuf body.
const SPEC_LOGS_LINES: &str = concat!(
    r#"[[1700000000123456789,{"_tag":"v1_logs","otlp":{"observed_timestamp":1700000000200000000,"timestamp":1700000000123456789,"severity_number":9,"severity_text":"INFO","attributes":{"user":"alice","n":42,"ok":true,"ratio":0.5,"tags":["a",1],"raw":"AQI="},"trace_flags":1}}],{"log":"hello"}]"#,
    "\n",
    r#"[[1700000001000000000,{"_tag":"v1_logs","otlp":{"timestamp":1700000001000000000,"trace_flags":0}}],{"msg":"bye","code":7}]"#,
    "\n"
);

fn spec_logs_protobuf() -> Vec<u8> {
    let request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest =
        serde_json::from_str(SPEC_LOGS_JSON).expect("the spec's request is OTLP/JSON");
    request.encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The body of entry `id` of `stream`.
fn entry(http: SocketAddr, stream: &str, id: u64) -> String {
    let response = get(http, &format!("{stream}?from={id}&limit=1"));
    assert_eq!(
        response.header("Vivo-Stream-Start-ID"),
        Some(id.to_string().as_str()),
        "{stream} entry {id}"
    );
    response.text()
}

#[test]
fn logs_in_every_encoding_give_the_same_lines_and_each_request_is_one_entry() {
    let (_service, otlp, _, http) = start_otlp("");
    let protobuf = spec_logs_protobuf();
    let zstd = zstd::encode_all(SPEC_LOGS_JSON.as_bytes(), 3).expect("zstd");
    let bodies: Vec<(Headers, Vec<u8>)> = vec![
        (vec![JSON], SPEC_LOGS_JSON.as_bytes().to_vec()),
        (
            vec![("Content-Type", "application/json; charset=utf-8")],
            SPEC_LOGS_JSON.as_bytes().to_vec(),
        ),
        (vec![PROTOBUF], protobuf.clone()),
        (
            vec![PROTOBUF, ("Content-Encoding", "gzip")],
            gzip(&protobuf),
        ),
        (vec![JSON, ("Content-Encoding", "zstd")], zstd),
    ];
    for (id, (headers, body)) in bodies.iter().enumerate() {
        let (status, content_type, answer) = post(otlp, "/v1/logs", headers, body);
        assert_eq!(status, 200, "{headers:?}");
        // The ExportLogsServiceResponse, in the request's encoding: empty, no partial success.
        if headers[0] == PROTOBUF {
            assert_eq!(
                (content_type.as_str(), answer.as_slice()),
                ("application/x-protobuf", &b""[..])
            );
        } else {
            assert_eq!(
                (content_type.as_str(), answer.as_slice()),
                ("application/json", &b"{}"[..])
            );
        }
        // A 200 means published: readable at once.
        assert_eq!(
            entry(http, "/logs", id as u64),
            SPEC_LOGS_LINES,
            "{headers:?}"
        );
    }
}

/// otlp-mapping §3.5's metrics request, as OTLP/JSON.
const SPEC_METRICS_JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeMetrics":[{"scope":{"name":"lib","version":"1.0"},"metrics":[
  {"name":"http_requests_total","description":"Requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"attributes":[{"key":"method","value":{"stringValue":"GET"}},{"key":"code","value":{"intValue":"200"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000010000000000","asInt":"42"},
    {"attributes":[{"key":"method","value":{"stringValue":"POST"}},{"key":"code","value":{"intValue":"500"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000010000000000","asInt":"3"}]}},
  {"name":"temperature","unit":"Cel","gauge":{"dataPoints":[{"timeUnixNano":"1700000010000000000","asDouble":21.5}]}}]}]}]}"#;

#[test]
fn metrics_and_traces_as_json_and_protobuf_render_alike() {
    let (_service, otlp, _, http) = start_otlp("");
    let request: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest =
        serde_json::from_str(SPEC_METRICS_JSON).expect("OTLP/JSON");
    // Fluent Bit 4.1 refuses OTLP/JSON metrics; here they are read like protobuf (§5.6).
    assert_eq!(
        post(otlp, "/v1/metrics", &[JSON], SPEC_METRICS_JSON.as_bytes()).0,
        200
    );
    assert_eq!(
        post(otlp, "/v1/metrics", &[PROTOBUF], &request.encode_to_vec()).0,
        200
    );
    let (json, protobuf) = (entry(http, "/metrics", 0), entry(http, "/metrics", 1));
    assert_eq!(json, protobuf);
    let context: Value = serde_json::from_str(json.trim_end()).expect("one JSON line");
    assert_eq!(
        context["meta"]["external"]["resource"]["attributes"]["service.name"],
        "cart"
    );
    let counter = &context["metrics"][0];
    assert_eq!(counter["meta"]["opts"]["name"], "http_requests_total");
    assert_eq!(counter["meta"]["type"], 0);
    assert_eq!(counter["meta"]["aggregation_type"], 2);
    assert_eq!(
        counter["values"][0]["labels"],
        serde_json::json!(["GET", "200"])
    );
    assert_eq!(counter["values"][0]["value"], 42.0);
    assert_eq!(context["metrics"][1]["values"][0]["value"], 21.5);
}

#[test]
fn refusals_have_their_status_and_the_service_goes_on() {
    let (_service, otlp, _, http) = start_otlp("    buffer_max_size 64K");
    let status_of =
        |headers: &[(&str, &str)], body: &[u8], path: &str| post(otlp, path, headers, body);
    // 415: not OTLP's content type, an unknown encoding.
    let (code, _, body) = status_of(&[("Content-Type", "text/plain")], b"x", "/v1/logs");
    assert_eq!(code, 415);
    let status: Value = serde_json::from_slice(&body).expect("a JSON Status");
    assert_eq!(status["code"], 3);
    assert_eq!(
        status_of(&[JSON, ("Content-Encoding", "br")], b"{}", "/v1/logs").0,
        415
    );
    // 400: bodies that do not decode; a protobuf Status for a protobuf request.
    assert_eq!(status_of(&[JSON], b"{\"resourceLogs\":", "/v1/logs").0, 400);
    let (code, content_type, body) = status_of(&[PROTOBUF], &[0x0a, 0xff, 0x01], "/v1/traces");
    assert_eq!(
        (code, content_type.as_str()),
        (400, "application/x-protobuf")
    );
    let status = tonic_types::Status::decode(body.as_slice()).expect("a protobuf Status");
    assert_eq!(status.code, 3);
    assert!(status.message.contains("protobuf"), "{}", status.message);
    assert_eq!(
        status_of(
            &[JSON, ("Content-Encoding", "gzip")],
            b"not gzip",
            "/v1/logs"
        )
        .0,
        400
    );
    // 413: over buffer_max_size as sent, and a small zstd body that inflates past it.
    let big = vec![b' '; 70_000];
    assert_eq!(status_of(&[JSON], &big, "/v1/logs").0, 413);
    let bomb = zstd::encode_all(&vec![b' '; 10 << 20][..], 19).expect("zstd");
    assert!(bomb.len() < 64_000);
    assert_eq!(
        status_of(&[JSON, ("Content-Encoding", "zstd")], &bomb, "/v1/logs").0,
        413
    );
    // 404 and 405.
    assert_eq!(status_of(&[JSON], b"{}", "/v1/profiles").0, 404);
    let get_logs = ureq::get(&format!("http://{otlp}/v1/logs")).call();
    assert!(matches!(get_logs, Err(ureq::Error::Status(405, _))));
    // Nothing was stored; a good request still is.
    assert!(get(http, "/logs").text().is_empty());
    assert_eq!(
        status_of(&[JSON], SPEC_LOGS_JSON.as_bytes(), "/v1/logs").0,
        200
    );
    assert_eq!(get(http, "/logs").text(), SPEC_LOGS_LINES);
    let metrics = get(http, "/internal/metrics").text();
    for reason in [
        "content_type",
        "content_encoding",
        "json",
        "protobuf",
        "decompress",
        "too_large",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "refusals counted by reason ({reason}):\n{metrics}"
        );
    }
}

#[test]
fn tag_settings_and_raw_traces() {
    let (_service, otlp, _, http) =
        start_otlp("    tag otel\n    raw_traces on\n    logs_body_key message");
    assert_eq!(
        post(otlp, "/v1/logs", &[JSON], SPEC_LOGS_JSON.as_bytes()).0,
        200
    );
    let lines = entry(http, "/logs", 0);
    assert!(
        lines.starts_with(r#"[[1700000000123456789,{"_tag":"otel","otlp":{"#),
        "{lines}"
    );
    assert!(
        lines.contains(r#"{"message":{"msg":"bye","code":7}}]"#),
        "{lines}"
    );
    // A JSON trace body becomes one log record, as it is.
    let trace = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s"}]}]}]}"#;
    assert_eq!(post(otlp, "/v1/traces", &[JSON], trace).0, 200);
    let raw = entry(http, "/logs", 1);
    assert!(raw.starts_with("[["), "{raw}");
    assert!(
        raw.ends_with(
            "{\"_tag\":\"otel\"}],{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"s\"}]}]}]}]\n"
        ),
        "{raw}"
    );
    assert!(get(http, "/traces").text().is_empty());
}

/// Runs the OpenTelemetry Python SDK client (`tests/clients/otel_sdk_client.py`) against
/// `endpoint` with `protocol`; returns the IDs it used.
fn run_sdk(protocol: &str, endpoint: &str) -> Value {
    run_sdk_with(protocol, endpoint, &[])
}

/// The same, with environment variables for the client (`VIVO_TEST_CA`, `VIVO_TEST_TOKEN`).
fn run_sdk_with(protocol: &str, endpoint: &str, env: &[(&str, &str)]) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/otel_sdk_client.py");
    let mut command = python();
    // requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the CA file the exporter sets
    // on its session (psf/requests#3829): without them it trusts exactly the test CA.
    command
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    let out = command
        .arg(script)
        .args([protocol, endpoint])
        .envs(env.iter().copied())
        .output()
        .expect(
            "python3 runs (`bash .ci/run` sets up target/test-venv with the OpenTelemetry SDK)",
        );
    assert!(
        out.status.success(),
        "the OpenTelemetry SDK client failed ({protocol}): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the IDs as JSON")
}

/// Every line of `stream` as JSON.
fn json_lines(http: SocketAddr, stream: &str) -> Vec<Value> {
    get(http, stream)
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// What the SDK client sent, as the streams must show it.
fn check_sdk_data(http: SocketAddr, ids: &Value) {
    let trace_id = ids["trace_id"].as_str().expect("trace id");
    // Traces: two requests (one per span, SimpleSpanProcessor), parent and child linked.
    let traces = wait_for(Duration::from_secs(10), || {
        let lines = json_lines(http, "/traces");
        (lines.len() >= 2).then_some(lines)
    });
    let spans: Vec<&Value> = traces
        .iter()
        .flat_map(|t| {
            t["resourceSpans"][0]["scope_spans"][0]["spans"]
                .as_array()
                .expect("spans")
        })
        .collect();
    let by_name = |name: &str| {
        *spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("span {name}"))
    };
    let (charge, checkout) = (by_name("charge"), by_name("checkout"));
    assert_eq!(charge["trace_id"], trace_id);
    assert_eq!(checkout["trace_id"], trace_id);
    assert_eq!(charge["span_id"], ids["child_span_id"]);
    assert_eq!(charge["parent_span_id"], ids["parent_span_id"]);
    assert_eq!(checkout["span_id"], ids["parent_span_id"]);
    assert_eq!(checkout["parent_span_id"], Value::Null);
    assert_eq!(
        (charge["kind"].as_u64(), checkout["kind"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(
        charge["status"],
        serde_json::json!({"code": 2, "message": "card declined"})
    );
    assert_eq!(
        charge["attributes"],
        serde_json::json!({"amount": 42, "currency": "EUR", "retried": true, "ratio": 0.5})
    );
    assert_eq!(charge["events"][0]["name"], "retry");
    assert_eq!(charge["events"][0]["attributes"]["attempt"], 2);
    assert_eq!(charge["links"][0]["span_id"], ids["parent_span_id"]);
    let resource = &traces[0]["resourceSpans"][0];
    assert_eq!(
        resource["resource"]["attributes"]["service.name"],
        "vivo-test"
    );
    assert_eq!(resource["scope_spans"][0]["scope"]["name"], "vivo.test");
    assert_eq!(resource["scope_spans"][0]["scope"]["version"], "1.2");
    // Logs: the warning carries the child span's IDs.
    let logs = json_lines(http, "/logs");
    let warning = logs
        .iter()
        .find(|l| l[1]["log"] == "payment failed")
        .expect("the warning");
    let otlp = &warning[0][1]["otlp"];
    assert_eq!(warning[0][1]["_tag"], "v1_logs");
    assert_eq!(otlp["severity_text"], "WARN");
    assert_eq!(otlp["severity_number"], 13);
    assert_eq!(otlp["trace_id"], trace_id);
    assert_eq!(otlp["span_id"], ids["child_span_id"]);
    assert_eq!(otlp["attributes"]["order.id"], "A1");
    assert!(logs.iter().any(|l| l[1]["log"] == "done"));
    // Metrics: one context with the counter, gauge and histogram.
    let metrics = json_lines(http, "/metrics");
    let families: Vec<&Value> = metrics
        .iter()
        .flat_map(|m| m["metrics"].as_array().expect("metrics"))
        .collect();
    let family = |name: &str| {
        *families
            .iter()
            .find(|f| f["meta"]["opts"]["name"] == name)
            .unwrap_or_else(|| panic!("family {name}"))
    };
    let orders = family("orders");
    assert_eq!(
        (
            orders["meta"]["type"].as_u64(),
            orders["meta"]["aggregation_type"].as_u64()
        ),
        (Some(0), Some(2))
    );
    assert_eq!(orders["meta"]["opts"]["desc"], "Orders placed");
    let mut values: Vec<(String, f64)> = orders["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| {
            (
                v["labels"][0].as_str().expect("label").to_string(),
                v["value"].as_f64().expect("value"),
            )
        })
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        values,
        [("GET".to_string(), 3.0), ("POST".to_string(), 2.0)]
    );
    let latency = family("latency_ms");
    assert_eq!(latency["meta"]["type"], 2);
    assert_eq!(latency["meta"]["buckets"], serde_json::json!([10.0, 100.0]));
    assert_eq!(
        latency["values"][0]["histogram"]["buckets"],
        serde_json::json!([1, 1, 1])
    );
    assert_eq!(latency["values"][0]["histogram"]["count"], 3);
    assert_eq!(latency["values"][0]["histogram"]["sum"], 170.0);
    let gauge = family("queue_depth");
    assert_eq!(
        (
            gauge["meta"]["type"].as_u64(),
            gauge["values"][0]["value"].as_f64()
        ),
        (Some(1), Some(7.0))
    );
}

#[test]
fn the_opentelemetry_python_sdk_over_http() {
    let (_service, otlp, _, http) = start_otlp("");
    let ids = run_sdk("http", &format!("http://{otlp}"));
    check_sdk_data(http, &ids);
}

#[test]
fn the_opentelemetry_python_sdk_over_grpc() {
    let (_service, _, grpc, http) = start_otlp("");
    let ids = run_sdk("grpc", &grpc.to_string());
    check_sdk_data(http, &ids);
}

#[test]
fn the_opentelemetry_python_sdk_over_grpc_on_the_http_port() {
    // As Fluent Bit's `http2 on` (the default): the HTTP port takes gRPC too.
    let (_service, otlp, _, http) = start_otlp("");
    let ids = run_sdk("grpc", &otlp.to_string());
    check_sdk_data(http, &ids);
    // And still plain OTLP/HTTP on the same port.
    assert_eq!(
        post(otlp, "/v1/logs", &[JSON], SPEC_LOGS_JSON.as_bytes()).0,
        200
    );
}

#[test]
fn the_python_sdk_over_tls_with_a_token_on_every_otlp_port() {
    let pki = common::tls::Pki::new("otlp-tls");
    let (_service, otlp, grpc, http) =
        start_otlp(&pki.server_keys("    http_auth_token otlp-t0ken\n"));
    let ca = pki.ca.display().to_string();
    let env = [
        ("VIVO_TEST_CA", ca.as_str()),
        ("VIVO_TEST_TOKEN", "otlp-t0ken"),
    ];
    // OTLP/HTTP over TLS (HTTP/1.1 by ALPN), gRPC over TLS on grpc_port, and gRPC over TLS on
    // the HTTP port (h2 by ALPN): each export lands, each time in its own entries.
    let endpoints = [
        ("http", format!("https://localhost:{}", otlp.port())),
        ("grpc", format!("localhost:{}", grpc.port())),
        ("grpc", format!("localhost:{}", otlp.port())),
    ];
    for (round, (protocol, endpoint)) in endpoints.iter().enumerate() {
        let ids = run_sdk_with(protocol, endpoint, &env);
        let traces = json_lines(http, "/traces");
        assert_eq!(
            traces.len(),
            2 * (round + 1),
            "{protocol} {endpoint}: one entry per span"
        );
        let trace_id = ids["trace_id"].as_str().expect("trace id");
        assert!(
            get(http, "/traces").text().contains(trace_id),
            "{protocol} {endpoint}: trace {trace_id} stored"
        );
    }
    // Without the token: 401 over HTTP, UNAUTHENTICATED over gRPC, nothing stored.
    let before = get(http, "/logs").lines().len();
    let refused = python()
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/clients/otel_sdk_client.py"),
        )
        .args(["grpc", &format!("localhost:{}", grpc.port())])
        .env("VIVO_TEST_CA", &ca)
        .output()
        .expect("python3 runs");
    assert!(
        !refused.status.success(),
        "exports without the token must fail"
    );
    assert_eq!(get(http, "/logs").lines().len(), before);
    let series = "vivo_input_rejected_total{input=\"opentelemetry.0\",reason=\"unauthorized\"}";
    assert!(
        common::binary::metric(http, series) >= 3,
        "{}",
        get(http, "/internal/metrics").text()
    );
}

#[test]
fn with_http2_off_and_grpc_off_the_ports_are_what_they_say() {
    let (service, otlp, grpc, _http) = start_otlp("    http2 off");
    // gRPC on the HTTP port is an HTTP/1 parse error: the connection is closed unanswered.
    let mut stream = std::net::TcpStream::connect(otlp).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .expect("write");
    let mut reply = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut reply);
    assert!(
        !reply.starts_with(b"\x00\x00"),
        "no HTTP/2 frame comes back: {reply:?}"
    );
    assert!(
        std::net::TcpStream::connect(grpc).is_ok(),
        "grpc_port still serves"
    );
    drop(service);
    let service = start(
        "[SERVICE]\n    log_level warn\n[INPUT]\n    name opentelemetry\n    listen 127.0.0.1\n    \
         port 0\n    grpc off\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n",
    );
    assert_eq!(service.otlp_addrs()[0].grpc, None);
}
