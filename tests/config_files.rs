//! Loads configuration files from disk through the public API, as `vivo-exporter -c FILE` does.

use std::path::PathBuf;
use std::time::Duration;

use vivo_exporter::config::{Config, ConfigFormat, InputConfig, DEFAULT_CONFIG};

/// Writes `text` to a fresh file named `name` in a per-process scratch folder.
fn write_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vivo-config-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn loads_the_seed_configuration_from_a_classic_file() {
    let path = write_file(
        "seed.conf",
        "[INPUT]\n    name  dummy\n    tag   events\n    rate  2\n\n[OUTPUT]\n    name                   \
         vivo_exporter\n    match                  *\n    empty_stream_on_read   off\n    \
         stream_queue_size      20M\n    http_cors_allow_origin *\n",
    );
    let config = Config::load(&path).expect("loads");
    assert_eq!(config.origin, path.display().to_string());
    let InputConfig::Dummy(dummy) = &config.inputs[0] else {
        panic!("expected a dummy input, got {:?}", config.inputs[0]);
    };
    assert_eq!((dummy.tag.as_str(), dummy.rate), ("events", 2));
    assert_eq!(config.outputs[0].stream_queue_size, 20_000_000);
    assert_eq!(
        config.outputs[0].http_cors_allow_origin.as_deref(),
        Some("*")
    );
}

#[test]
fn loads_yaml_by_extension_and_reports_its_lines() {
    let path = write_file(
        "bad.yaml",
        "pipeline:\n  outputs:\n    - name: vivo_exporter\n      port: http\n",
    );
    let err = Config::load(&path).expect_err("fails");
    assert_eq!(
        err.to_string(),
        format!(
            "config error in {} line 4, key 'port': invalid integer 'http' (expected a whole \
             number such as 10)",
            path.display()
        )
    );
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_embedded_default_listens_where_the_readme_says() {
    // Literal values, so a change of any default shows here (and in the README).
    let config = Config::embedded_default();
    assert_eq!(config.origin, "embedded default configuration");
    assert_eq!(config.service.flush, Duration::from_secs(1));
    assert_eq!(config.service.grace, Duration::from_secs(5));
    assert_eq!(config.service.log_level, log::LevelFilter::Info);
    assert!(config.service.json_escape_unicode);
    let [InputConfig::Forward(forward), InputConfig::OpenTelemetry(otlp)] =
        config.inputs.as_slice()
    else {
        panic!(
            "expected a forward and an opentelemetry input, got {:?}",
            config.inputs
        );
    };
    assert_eq!((otlp.listen.as_str(), otlp.port), ("0.0.0.0", 4318));
    assert!(otlp.http2 && otlp.grpc);
    assert_eq!(otlp.grpc_port, 4317);
    assert_eq!(otlp.buffer_max_size, 4_000_000);
    assert_eq!(otlp.successful_response_code, 200);
    assert_eq!((otlp.tag.as_deref(), otlp.tag_from_uri), (None, true));
    assert_eq!(otlp.logs_metadata_key, "otlp");
    assert_eq!((forward.listen.as_str(), forward.port), ("0.0.0.0", 24224));
    assert_eq!(forward.buffer_chunk_size, 1_024_000);
    assert_eq!(forward.buffer_max_size, 6_144_000);
    assert_eq!(forward.unix_path, None);
    assert_eq!(forward.shared_key, None);
    assert_eq!(forward.self_hostname, "localhost");
    let [output] = config.outputs.as_slice() else {
        panic!("expected one output, got {:?}", config.outputs);
    };
    assert_eq!(output.instance, "vivo_exporter.0");
    assert_eq!((output.host.as_str(), output.port), ("0.0.0.0", 2025));
    assert_eq!(output.match_pattern.as_deref(), Some("*"));
    assert_eq!(output.match_regex, None);
    assert_eq!(output.stream_queue_size, 20_000_000);
    assert!(!output.empty_stream_on_read);
    assert_eq!(output.http_cors_allow_origin, None);
    assert_eq!((output.workers, output.http_workers), (1, 0));
    // And the text is what --print-default-config shows: the same parser reads it.
    let parsed = Config::parse(DEFAULT_CONFIG, ConfigFormat::Classic, "x").expect("parses");
    assert_eq!(parsed.outputs, config.outputs);
}
