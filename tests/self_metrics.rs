//! `/internal/metrics` read by the official Python client's parsers (`prometheus_client`): the
//! classic text format by default, OpenMetrics when the scraper's `Accept` asks for it, and in
//! both every counter understood with its labels and value.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::forward::*;
use common::{get, python, request};
use serde_json::Value;

/// Runs `tests/clients/parse_metrics.py FORMAT` on `text`; the families it understood.
fn parse_with_prometheus_client(format: &str, text: &str) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/parse_metrics.py");
    let mut child = python()
        .arg(script)
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (`bash .ci/run` sets up target/test-venv)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the exposition");
    let out = child.wait_with_output().expect("parser ran");
    assert!(
        out.status.success(),
        "prometheus_client could not parse the {format} text ({}):\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the parser")
}

/// The value of the sample `name` with exactly `labels`, in the parsed `families`.
fn sample(families: &Value, family: &str, name: &str, labels: Value) -> Option<f64> {
    families[family]["samples"]
        .as_array()?
        .iter()
        .find(|s| s[0] == name && s[1] == labels)
        .and_then(|s| s[2].as_f64())
}

#[test]
fn both_formats_parse_with_the_official_client() {
    let fx = start_forward("");
    // One accepted message, one refused (shape), one tolerated (size).
    send_acked(
        fx.fwd,
        &arr(&[
            s("app"),
            uint(1_700_000_000),
            map(&[("k", s("v"))]),
            map(&[("chunk", s("a"))]),
        ]),
        "a",
    );
    let _ = send_new(fx.fwd, &arr(&[uint(1), arr(&[])]));
    let sized = arr(&[
        s("app"),
        arr(&[arr(&[uint(1_700_000_000), map(&[])])]),
        map(&[("size", uint(9)), ("chunk", s("b"))]),
    ]);
    send_acked(fx.fwd, &sized, "b");
    common::wait_for(TIMEOUT, || {
        (rejected_total(fx.http, "forward.0") == 1).then_some(())
    });

    let plain = get(fx.http, "/internal/metrics");
    assert_eq!(
        plain.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!plain.text().contains("# EOF"));
    assert!(
        !plain.text().contains("reason=\"\""),
        "no empty reason labels"
    );
    let families = parse_with_prometheus_client("prometheus", &plain.text());
    let input = serde_json::json!({"input": "forward.0"});
    // The classic parser names a counter family without `_total` and types it counter.
    assert_eq!(families["vivo_input_accepted_batches"]["type"], "counter");
    assert_eq!(
        sample(
            &families,
            "vivo_input_accepted_batches",
            "vivo_input_accepted_batches_total",
            input.clone()
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &families,
            "vivo_input_rejected",
            "vivo_input_rejected_total",
            serde_json::json!({"input": "forward.0", "reason": "shape"})
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &families,
            "vivo_input_tolerated",
            "vivo_input_tolerated_total",
            serde_json::json!({"input": "forward.0", "reason": "size_mismatch"})
        ),
        Some(1.0)
    );
    assert_eq!(families["vivo_stream_entries"]["type"], "gauge");
    assert_eq!(
        sample(
            &families,
            "vivo_stream_entries",
            "vivo_stream_entries",
            serde_json::json!({"output": "vivo_exporter.0", "stream": "logs"})
        ),
        Some(2.0)
    );

    // A scraper that prefers OpenMetrics (Prometheus 3's Accept) gets it.
    let accept = "Accept: application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let om = request(fx.http, "GET", "/internal/metrics", &[accept]);
    assert_eq!(
        om.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.text().ends_with("# EOF\n"));
    let families = parse_with_prometheus_client("openmetrics", &om.text());
    assert_eq!(families["vivo_input_accepted_batches"]["type"], "counter");
    assert_eq!(
        sample(
            &families,
            "vivo_input_accepted_batches",
            "vivo_input_accepted_batches_total",
            input
        ),
        Some(2.0)
    );
}
