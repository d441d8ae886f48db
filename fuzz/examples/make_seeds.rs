//! Writes the seed corpus `fuzz/corpus/<target>/` from the repository's test vectors
//! (`tests/vectors/*.forward.msgpack`, `tests/vectors/extra/`, `tests/vectors/streams/`) and a
//! few OTLP bodies and query strings written here.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds` (from the repository root).
//! The files are named by content, so running it again only adds what is new.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use vivo_exporter::ingest::forward::frame::object_len;
use vivo_exporter::render::msgpack::{next_head, Head};
use vivo_exporter::render::scan::skip;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let vectors = root.join("../tests/vectors");
    let corpus = root.join("corpus");

    let mut messages: Vec<Vec<u8>> = Vec::new();
    for dir in [vectors.clone(), vectors.join("extra")] {
        for path in sorted(&dir) {
            if path.to_string_lossy().ends_with(".forward.msgpack") {
                messages.push(std::fs::read(&path).expect("read vector"));
            }
        }
    }
    let mut streams: Vec<Vec<u8>> = Vec::new();
    for path in sorted(&vectors.join("streams")) {
        if path.extension().is_some_and(|e| e == "msgpack") {
            streams.push(std::fs::read(&path).expect("read stream"));
        }
    }

    // forward_message: every whole message, and each message of the captured streams.
    let mut frames = messages.clone();
    for stream in &streams {
        let mut rest = &stream[..];
        while let Ok(Some(len)) = object_len(rest) {
            frames.push(rest[..len].to_vec());
            rest = &rest[len..];
        }
    }
    write_all(&corpus.join("forward_message"), &frames);

    // forward_framer: the streams, single messages, back-to-back pairs, a cut-off message.
    let mut framer = streams.clone();
    framer.extend(messages.iter().take(12).cloned());
    for pair in messages.windows(2).step_by(3) {
        framer.push(pair.concat());
    }
    if let Some(first) = messages.first() {
        framer.push([&first[..], &first[..first.len() / 2]].concat());
    }
    write_all(&corpus.join("forward_framer"), &framer);

    // render_value: the messages as values, their records and metadata, and the (inflated)
    // packed payloads: concatenated log events, or cmetrics/ctraces contexts.
    let mut values = messages.clone();
    for message in &messages {
        values.extend(parts(message));
    }
    values.retain(|v| v.len() <= 20_000);
    write_all(&corpus.join("render_value"), &values);

    write_all(&corpus.join("otlp_decode"), &otlp_seeds());
    write_all(
        &corpus.join("query"),
        &QUERIES
            .iter()
            .map(|q| q.as_bytes().to_vec())
            .collect::<Vec<_>>(),
    );
}

fn sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    paths.sort();
    paths
}

/// The second element's payload, or its entries; the first entry; inflated when gzip.
fn parts(message: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = message;
    let (Ok(Head::Array(_)), Ok(_tag)) = (next_head(&mut cur), next_head(&mut cur)) else {
        return out;
    };
    let before = cur;
    match next_head(&mut cur) {
        Ok(Head::Bin(payload)) | Ok(Head::Str(payload)) => {
            let mut payload = payload.to_vec();
            if payload.starts_with(&[0x1f, 0x8b]) {
                let mut inflated = Vec::new();
                if flate2::read::MultiGzDecoder::new(&payload[..])
                    .read_to_end(&mut inflated)
                    .is_ok()
                {
                    payload = inflated;
                }
            }
            let mut rest = &payload[..];
            if let Ok(first) = skip(&mut rest) {
                out.push(first.to_vec());
            }
            out.push(payload);
        }
        Ok(Head::Array(_)) => {
            let mut entries = cur;
            if let Ok(first) = skip(&mut entries) {
                out.push(first.to_vec());
            }
            let mut whole = before;
            if let Ok(array) = skip(&mut whole) {
                out.push(array.to_vec());
            }
        }
        _ => {
            // Message mode: [tag, time, record, options]: the record.
            let mut rest = cur;
            if let Ok(record) = skip(&mut rest) {
                out.push(record.to_vec());
            }
        }
    }
    out
}

const LOGS_JSON: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeLogs":[{"scope":{"name":"lib","version":"1.0"},"logRecords":[
  {"timeUnixNano":"1700000000123456789","observedTimeUnixNano":"1700000000200000000","severityNumber":9,
   "severityText":"INFO","body":{"stringValue":"héllo\u0001"},"traceId":"5b8efff798038103d269b633813fc60c",
   "spanId":"eee19b7ec3c1b174","attributes":[
    {"key":"user","value":{"stringValue":"alice"}},{"key":"n","value":{"intValue":"42"}},
    {"key":"ok","value":{"boolValue":true}},{"key":"ratio","value":{"doubleValue":0.5}},
    {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
    {"key":"raw","value":{"bytesValue":"AQI="}},{"key":"n","value":{"intValue":"-7"}}],"flags":1},
  {"timeUnixNano":"1700000001000000000","body":{"kvlistValue":{"values":[
    {"key":"msg","value":{"stringValue":"bye"}},{"key":"code","value":{"intValue":"7"}}]}}},
  {"body":{"arrayValue":{"values":[{"doubleValue":1e300},{"boolValue":false}]}}}]}]}]}"#;

const METRICS_JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeMetrics":[{"scope":{"name":"lib","version":"1.0","attributes":[{"key":"k","value":{"stringValue":"v"}}]},"metrics":[
  {"name":"http_requests_total","description":"Requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"attributes":[{"key":"method","value":{"stringValue":"GET"}},{"key":"code","value":{"intValue":"200"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000010000000000","asInt":"42"},
    {"attributes":[{"key":"method","value":{"stringValue":"POST"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000010000000000","asInt":"3"}]}},
  {"name":"temperature","unit":"Cel","gauge":{"dataPoints":[{"timeUnixNano":"1700000010000000000","asDouble":21.5}]}},
  {"name":"latency","unit":"s","histogram":{"aggregationTemporality":1,"dataPoints":[
    {"timeUnixNano":"1700000010000000000","count":"3","sum":1.5,"bucketCounts":["1","1","1"],"explicitBounds":[0.1,1.0],"min":0.05,"max":2.0}]}},
  {"name":"size","exponentialHistogram":{"aggregationTemporality":2,"dataPoints":[
    {"timeUnixNano":"1700000010000000000","count":"4","sum":10,"scale":1,"zeroCount":"1",
     "positive":{"offset":-1,"bucketCounts":["1","2"]},"negative":{"offset":0,"bucketCounts":["0"]}}]}},
  {"name":"rpc","summary":{"dataPoints":[{"timeUnixNano":"1700000010000000000","count":"2","sum":3.5,
    "quantileValues":[{"quantile":0.5,"value":1.0},{"quantile":0.99,"value":2.5}]}]}}]}]}]}"#;

const TRACES_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}],"droppedAttributesCount":1},
 "schemaUrl":"https://example.com/s","scopeSpans":[{"scope":{"name":"lib","version":"1.0"},"spans":[
  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173",
   "traceState":"a=b","name":"GET /cart","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000",
   "attributes":[{"key":"http.method","value":{"stringValue":"GET"}}],"droppedAttributesCount":0,
   "events":[{"timeUnixNano":"1700000000500000000","name":"ev","attributes":[{"key":"x","value":{"intValue":"1"}}]}],
   "links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175","traceState":"","attributes":[]}],
   "status":{"code":2,"message":"boom"},"flags":1}]}]}]}"#;

/// Selector byte (see the target): signal in bits 0-1, JSON in bit 2, encoding in bits 3-4.
fn otlp_seeds() -> Vec<Vec<u8>> {
    let logs: ExportLogsServiceRequest = serde_json::from_str(LOGS_JSON).expect("logs JSON");
    let metrics: ExportMetricsServiceRequest =
        serde_json::from_str(METRICS_JSON).expect("metrics JSON");
    let traces: ExportTraceServiceRequest = serde_json::from_str(TRACES_JSON).expect("traces JSON");
    let bodies: [(u8, &str, Vec<u8>); 3] = [
        (0, LOGS_JSON, logs.encode_to_vec()),
        (1, METRICS_JSON, metrics.encode_to_vec()),
        (2, TRACES_JSON, traces.encode_to_vec()),
    ];
    let mut seeds = Vec::new();
    for (signal, json, protobuf) in bodies {
        seeds.push([&[signal][..], &protobuf].concat());
        seeds.push([&[signal | 4][..], json.as_bytes()].concat());
        seeds.push([&[signal | 32][..], &protobuf].concat());
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&protobuf).expect("gzip");
        seeds.push([&[signal | 8][..], &gzip.finish().expect("gzip")].concat());
        let zstd = zstd::encode_all(json.as_bytes(), 1).expect("zstd");
        seeds.push([&[signal | 4 | 16][..], &zstd].concat());
    }
    seeds.push(b"\x04{}".to_vec());
    seeds.push(
        b"\x06{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"s\"}]}]}]}".to_vec(),
    );
    seeds
}

const QUERIES: &[&str] = &[
    "",
    "from=1&to=3&limit=1",
    "from=0",
    "from=-3&to=-1&limit=-5",
    "to=-2",
    "limit=9223372036854775807",
    "from=9223372036854775807",
    "photo=2&xfrom=1&climit=3&from=4&from=9&to=%36&limit=%2B2",
    "foo=bar&&=",
    "from=abc",
    "to=7x",
    "limit=",
    "from=1.5",
    "to=%20%37",
    "from=99999999999999999999",
    "from=+5&to=%2D1",
    "from=%FF&to=1",
    "to=1+&limit=2",
];

fn write_all(dir: &Path, seeds: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).expect("create corpus dir");
    for seed in seeds {
        let name = format!("seed-{:016x}", fnv(seed));
        std::fs::write(dir.join(name), seed).expect("write seed");
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
