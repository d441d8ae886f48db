//! End-to-end tests of configuration loading: text in, typed [`Config`] or located error out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The first seed configuration, verbatim (shared with the binary's seed tests).
const SEED_FULL: &str = include_str!("../../tests/seed/configuration.conf");

/// The second seed configuration, verbatim, with its trailing blank line.
const SEED_MINIMAL: &str = include_str!("../../tests/seed/getting-started.conf");

/// The first seed configuration in YAML.
const SEED_FULL_YAML: &str = "pipeline:
  inputs:
    - name: dummy
      tag: events
      rate: 2
  outputs:
    - name: vivo_exporter
      match: '*'
      empty_stream_on_read: off
      stream_queue_size: 20M
      http_cors_allow_origin: '*'
";

fn classic(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, ConfigFormat::Classic, "/etc/vivo/test.conf")
}

fn yaml(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, ConfigFormat::Yaml, "/etc/vivo/test.yaml")
}

/// Asserts the classic `text` fails on `line`, with `key` (if any), and a message containing `part`.
fn classic_error(text: &str, line: Option<usize>, key: Option<&str>, part: &str) -> ConfigError {
    let err = classic(text).expect_err("should fail");
    check_error(&err, "/etc/vivo/test.conf", line, key, part);
    err
}

fn yaml_error(text: &str, line: Option<usize>, key: Option<&str>, part: &str) -> ConfigError {
    let err = yaml(text).expect_err("should fail");
    check_error(&err, "/etc/vivo/test.yaml", line, key, part);
    err
}

fn check_error(err: &ConfigError, file: &str, line: Option<usize>, key: Option<&str>, part: &str) {
    assert_eq!(err.file, file, "{err}");
    assert_eq!(err.line, line, "{err}");
    assert_eq!(err.key.as_deref(), key, "{err}");
    assert!(
        err.message.contains(part),
        "{err:?} should contain {part:?}"
    );
}

fn dummy(config: &Config, index: usize) -> &DummyInput {
    match &config.inputs[index] {
        InputConfig::Dummy(dummy) => dummy,
        other => panic!("input {index} is not dummy: {other:?}"),
    }
}

fn forward(config: &Config, index: usize) -> &ForwardInput {
    match &config.inputs[index] {
        InputConfig::Forward(forward) => forward,
        other => panic!("input {index} is not forward: {other:?}"),
    }
}

/// Fluent Bit's defaults for `[SERVICE]`, written out here rather than taken from the code's
/// `Default`, so that a changed default fails a test.
fn service_defaults() -> ServiceConfig {
    ServiceConfig {
        flush: Duration::from_secs(1),
        log_level: log::LevelFilter::Info,
        grace: Duration::from_secs(5),
        json_escape_unicode: true,
    }
}

/// The dummy input's defaults (Fluent Bit's `in_dummy`), written out.
fn dummy_defaults() -> DummyInput {
    DummyInput {
        tag: "dummy.0".into(),
        dummy: r#"{"message":"dummy"}"#.into(),
        metadata: "{}".into(),
        rate: 1,
        interval_sec: 0,
        interval_nsec: 0,
        samples: None,
        copies: 1,
        start_time_sec: None,
        start_time_nsec: None,
        fixed_timestamp: false,
        flush_on_startup: false,
    }
}

/// The forward input's defaults (Fluent Bit's `in_forward`), written out.
fn forward_defaults() -> ForwardInput {
    ForwardInput {
        listen: "0.0.0.0".into(),
        port: 24224,
        unix_path: None,
        unix_perm: None,
        tag: None,
        tag_prefix: None,
        buffer_chunk_size: 1_024_000,
        buffer_max_size: 6_144_000,
        shared_key: None,
        empty_shared_key: false,
        self_hostname: "localhost".into(),
        security_users: Vec::new(),
        max_connections: 4096,
        mem_buf_limit: 256_000_000,
        idle_timeout: Duration::from_secs(300),
        frame_timeout: Duration::from_secs(30),
        tls: None,
    }
}

/// The read API listener's defaults, written out.
fn read_api_listener_defaults() -> HttpListener {
    HttpListener {
        max_connections: 16_384,
        idle_timeout: Duration::from_secs(75),
        request_timeout: Duration::from_secs(10),
        send_timeout: Duration::from_secs(60),
        tls: None,
        auth_token: None,
    }
}

fn seed_full_expected(origin: &str) -> Config {
    Config {
        service: service_defaults(),
        inputs: vec![InputConfig::Dummy(DummyInput {
            tag: "events".into(),
            rate: 2,
            ..dummy_defaults()
        })],
        outputs: vec![VivoOutputConfig {
            instance: "vivo_exporter.0".into(),
            match_pattern: Some("*".into()),
            match_regex: None,
            empty_stream_on_read: false,
            stream_queue_size: 20_000_000,
            http_cors_allow_origin: Some("*".into()),
            workers: 1,
            http_workers: 0,
            host: "0.0.0.0".into(),
            port: 2025,
            max_entry_size: None,
            max_entry_records: 1_000_000,
            http_max_wait: Duration::from_secs(60),
            http_max_entries: 100_000,
            http_cache_max_age: 0,
            http_compression: true,
            listener: read_api_listener_defaults(),
        }],
        origin: origin.into(),
    }
}

#[test]
fn seed_full_block() {
    assert_eq!(
        classic(SEED_FULL).expect("parses"),
        seed_full_expected("/etc/vivo/test.conf")
    );
}

#[test]
fn seed_minimal_block() {
    let mut expected = seed_full_expected("/etc/vivo/test.conf");
    expected.outputs[0].http_cors_allow_origin = None;
    assert_eq!(classic(SEED_MINIMAL).expect("parses"), expected);
}

#[test]
fn seed_full_block_in_yaml() {
    assert_eq!(
        yaml(SEED_FULL_YAML).expect("parses"),
        seed_full_expected("/etc/vivo/test.yaml")
    );
}

#[test]
fn embedded_default() {
    let config = Config::embedded_default();
    assert_eq!(config.origin, "embedded default configuration");
    assert_eq!(config.service, service_defaults());
    assert_eq!(config.inputs.len(), 2);
    assert_eq!(config.inputs[0], InputConfig::Forward(forward_defaults()));
    let InputConfig::OpenTelemetry(otlp) = &config.inputs[1] else {
        panic!(
            "expected an opentelemetry input, got {:?}",
            config.inputs[1]
        );
    };
    assert_eq!((otlp.port, otlp.grpc_port), (4318, 4317));
    assert_eq!(config.outputs.len(), 1);
    assert_eq!(config.outputs[0].match_pattern.as_deref(), Some("*"));
    assert_eq!(
        (config.outputs[0].host.as_str(), config.outputs[0].port),
        ("0.0.0.0", 2025)
    );
}

#[test]
fn format_from_path() {
    assert_eq!(
        ConfigFormat::from_path(Path::new("a.yaml")),
        ConfigFormat::Yaml
    );
    assert_eq!(
        ConfigFormat::from_path(Path::new("a.YML")),
        ConfigFormat::Yaml
    );
    assert_eq!(
        ConfigFormat::from_path(Path::new("a.conf")),
        ConfigFormat::Classic
    );
    assert_eq!(
        ConfigFormat::from_path(Path::new("yaml")),
        ConfigFormat::Classic
    );
}

#[test]
fn service_keys() {
    let config = classic(
        "[SERVICE]\n    Flush 0.5\n    Log_Level warning\n    grace 2\n    json.escape_unicode off\n\
         \x20   daemon off\n    http_server on\n    HTTP_Port 2020\n    storage.path /tmp/x\n\
         \x20   json.convert_nan_to_null false\n    parsers_file parsers.conf\n\
         [OUTPUT]\n    name vivo_exporter\n",
    )
    .expect("parses");
    assert_eq!(config.service.flush, Duration::from_millis(500));
    assert_eq!(config.service.log_level, log::LevelFilter::Warn);
    assert_eq!(config.service.grace, Duration::from_secs(2));
    assert!(!config.service.json_escape_unicode);
    assert!(config.inputs.is_empty());
    assert_eq!(config.outputs[0].match_pattern, None);
}

#[test]
fn dummy_keys() {
    let config = classic(
        "[INPUT]\n    name dummy\n[INPUT]\n    Name Dummy\n    Dummy {\"a\":1}\n\
         \x20   metadata {\"m\":true}\n    interval_sec 2\n    interval_nsec 500\n    samples 10\n\
         \x20   copies 3\n    start_time_sec 100\n    start_time_nsec -1\n    fixed_timestamp on\n\
         \x20   flush_on_startup yes\n    alias gen\n    threaded on\n    mem_buf_limit 5MB\n\
         \x20   storage.type memory\n    log_level debug\n\
         [INPUT]\n    name dummy\n    samples 0\n[OUTPUT]\n    name vivo_exporter\n",
    )
    .expect("parses");
    assert_eq!(dummy(&config, 0), &dummy_defaults());
    assert_eq!(
        dummy(&config, 1),
        &DummyInput {
            tag: "dummy.1".into(),
            dummy: "{\"a\":1}".into(),
            metadata: "{\"m\":true}".into(),
            rate: 1,
            interval_sec: 2,
            interval_nsec: 500,
            samples: Some(10),
            copies: 3,
            start_time_sec: Some(100),
            start_time_nsec: None,
            fixed_timestamp: true,
            flush_on_startup: true,
        }
    );
    assert_eq!(dummy(&config, 2).tag, "dummy.2");
    assert_eq!(dummy(&config, 2).samples, None);
}

#[test]
fn forward_keys() {
    let config = classic(
        "[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 24225\n    tag fixed\n\
         \x20   tag_prefix p.\n    buffer_chunk_size 512K\n    buffer_max_size 1M\n\
         \x20   shared_key secret\n    empty_shared_key off\n    self_hostname me\n\
         \x20   security.users alice pw1\n    security.users bob  pw2\n\
         \x20   max_connections 10\n    mem_buf_limit 2M\n    idle_timeout 7\n    frame_timeout 1.5\n\
         [INPUT]\n    name forward\n    unix_path /run/fwd.sock\n    unix_perm 0600\n\
         [OUTPUT]\n    name vivo_exporter\n",
    )
    .expect("parses");
    assert_eq!(
        forward(&config, 0),
        &ForwardInput {
            listen: "127.0.0.1".into(),
            port: 24225,
            unix_path: None,
            unix_perm: None,
            tag: Some("fixed".into()),
            tag_prefix: Some("p.".into()),
            buffer_chunk_size: 512_000,
            buffer_max_size: 1_000_000,
            shared_key: Some("secret".into()),
            empty_shared_key: false,
            self_hostname: "me".into(),
            security_users: vec![("alice".into(), "pw1".into()), ("bob".into(), "pw2".into())],
            max_connections: 10,
            mem_buf_limit: 2_000_000,
            idle_timeout: Duration::from_secs(7),
            frame_timeout: Duration::from_millis(1500),
            tls: None,
        }
    );
    let unix = forward(&config, 1);
    assert_eq!(unix.unix_path.as_deref(), Some(Path::new("/run/fwd.sock")));
    assert_eq!(unix.unix_perm, Some(0o600));
}

#[test]
fn output_keys() {
    let config = classic(
        "[OUTPUT]\n    NAME vivo_exporter\n    Match_Regex ^app\\.\n    workers 4\n\
         \x20   host 127.0.0.1\n    port 3000\n    empty_stream_on_read true\n\
         \x20   stream_queue_size 1.5m\n    retry_limit 5\n    alias out\n    log_level info\n\
         [OUTPUT]\n    name vivo_exporter\n    match app.*\n    port 3001\n",
    )
    .expect("parses");
    let first = &config.outputs[0];
    assert_eq!(first.instance, "vivo_exporter.0");
    assert_eq!(first.match_regex.as_deref(), Some("^app\\."));
    assert_eq!(first.match_pattern, None);
    assert_eq!(first.workers, 4);
    assert_eq!((first.host.as_str(), first.port), ("127.0.0.1", 3000));
    assert!(first.empty_stream_on_read);
    assert_eq!(first.stream_queue_size, 1_500_000);
    assert_eq!(config.outputs[1].instance, "vivo_exporter.1");
    assert_eq!(config.outputs[1].match_pattern.as_deref(), Some("app.*"));
}

#[test]
fn variables_from_set_and_environment() {
    // PATH is set wherever tests run; setting a variable would race with other tests.
    let path = std::env::var("PATH").unwrap_or_default();
    let config = classic(
        "@SET TAG=from-set\n[INPUT]\n    name dummy\n    tag ${TAG}.${PATH}\n\
         [OUTPUT]\n    name vivo_exporter\n    match ${TAG}\n    http_cors_allow_origin x${VIVO_TEST_SURELY_UNSET_VAR}y\n\
         \x20   port ${LATE}\n@SET LATE=2026\n",
    )
    .expect("parses");
    assert_eq!(dummy(&config, 0).tag, format!("from-set.{path}"));
    assert_eq!(config.outputs[0].match_pattern.as_deref(), Some("from-set"));
    assert_eq!(
        config.outputs[0].http_cors_allow_origin.as_deref(),
        Some("xy")
    );
    assert_eq!(config.outputs[0].port, 2026);
}

#[test]
fn yaml_env_variables_and_scalar_types() {
    let config = yaml(
        "env:\n  QUEUE: 1M\nservice:\n  flush: 0.25\n  json.escape_unicode: false\npipeline:\n\
         \x20 inputs:\n    - name: dummy\n      rate: 2\n      dummy: '{\"n\": 1.50}'\n\
         \x20     fixed_timestamp: true\n      start_time_sec: -1\n\
         \x20   - name: forward\n      port: 24230\n      security.users:\n        - a b\n        - c d\n\
         \x20 outputs:\n    - name: vivo_exporter\n      match: \"*\"\n\
         \x20     stream_queue_size: ${QUEUE}\n      port: 2026\n      workers: 2\n",
    )
    .expect("parses");
    assert_eq!(config.service.flush, Duration::from_millis(250));
    assert!(!config.service.json_escape_unicode);
    let d = dummy(&config, 0);
    assert_eq!(
        (d.rate, d.fixed_timestamp, d.start_time_sec),
        (2, true, None)
    );
    assert_eq!(d.dummy, "{\"n\": 1.50}");
    assert_eq!(forward(&config, 1).port, 24230);
    assert_eq!(forward(&config, 1).security_users.len(), 2);
    let out = &config.outputs[0];
    assert_eq!(
        (out.stream_queue_size, out.port, out.workers),
        (1_000_000, 2026, 2)
    );
}

/// A scratch folder for include tests, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("vivo-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        ScratchDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create scratch subdir");
        }
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn classic_includes_are_relative_to_the_including_file() {
    let dir = ScratchDir::new("classic-include");
    dir.write("conf.d/inputs.conf", "@INCLUDE more/in-*.conf\n");
    dir.write(
        "conf.d/more/in-1.conf",
        "[INPUT]\n    name dummy\n    tag one\n",
    );
    dir.write(
        "conf.d/more/in-2.conf",
        "[INPUT]\n    name dummy\n    tag ${TWO}\n",
    );
    dir.write("conf.d/more/other.txt", "not a config\n");
    let main = dir.write(
        "main.conf",
        "@SET TWO=two\n@INCLUDE conf.d/inputs.conf\n[OUTPUT]\n    name vivo_exporter\n    match *\n",
    );
    let config = Config::load(&main).expect("loads");
    assert_eq!(config.origin, main.display().to_string());
    let tags: Vec<_> = (0..2).map(|i| dummy(&config, i).tag.as_str()).collect();
    assert_eq!(tags, ["one", "two"]);
}

#[test]
fn yaml_includes_and_mixed_formats() {
    let dir = ScratchDir::new("yaml-include");
    dir.write(
        "inputs.yaml",
        "pipeline:\n  inputs:\n    - name: dummy\n      tag: ${T}\n",
    );
    dir.write(
        "outputs.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n",
    );
    let main = dir.write(
        "main.yml",
        "env:\n  T: yaml-tag\nincludes:\n  - inputs.yaml\n  - outputs.conf\n",
    );
    let config = Config::load(&main).expect("loads");
    assert_eq!(dummy(&config, 0).tag, "yaml-tag");
    assert_eq!(config.outputs.len(), 1);
}

#[test]
fn missing_and_bad_includes_name_the_including_line() {
    let dir = ScratchDir::new("missing-include");
    let main = dir.write("main.conf", "# c\n\n@INCLUDE nowhere.conf\n");
    let err = Config::load(&main).expect_err("fails");
    check_error(
        &err,
        &main.display().to_string(),
        Some(3),
        None,
        "nowhere.conf",
    );

    dir.write("bad.conf", "[INPUT]\n    name tail\n");
    let main = dir.write("main2.conf", "@INCLUDE bad.conf\n");
    let err = Config::load(&main).expect_err("fails");
    let bad = dir.0.join("bad.conf").display().to_string();
    check_error(
        &err,
        &bad,
        Some(2),
        Some("name"),
        "unknown input plugin 'tail'",
    );

    let looping = dir.write("loop.conf", "@INCLUDE loop.conf\n");
    let err = Config::load(&looping).expect_err("fails");
    assert_eq!(err.line, Some(1));
    assert!(err.message.contains("nested"), "{err}");

    let main = dir.write("main.yaml", "includes:\n  - a.yaml\n  - missing.yaml\n");
    dir.write("a.yaml", "service:\n  flush: 1\n");
    let err = Config::load(&main).expect_err("fails");
    check_error(
        &err,
        &main.display().to_string(),
        Some(3),
        None,
        "missing.yaml",
    );
}

#[test]
fn missing_file() {
    let err = Config::load(Path::new("/nonexistent/vivo.conf")).expect_err("fails");
    check_error(&err, "/nonexistent/vivo.conf", None, None, "cannot read");
}

#[test]
fn classic_errors_name_line_and_key() {
    classic_error(
        "[SERVICE]\n    flush 1\n[FILTER]\n    name grep\n",
        Some(3),
        None,
        "[FILTER] is not supported by vivo-exporter",
    );
    classic_error("[PARSER]\n", Some(1), None, "not supported");
    classic_error("[PLUGINS]\n", Some(1), None, "not supported");
    classic_error("[FOO]\n", Some(1), None, "unknown section [FOO]");
    classic_error(
        "# comment\n    name dummy\n",
        Some(2),
        None,
        "outside of any section",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    rate\n",
        Some(3),
        None,
        "no value",
    );
    let err = classic_error(
        "[INPUT]\n    name  tail\n",
        Some(2),
        Some("name"),
        "unknown input plugin 'tail': vivo-exporter supports dummy, forward, opentelemetry, http",
    );
    assert_eq!(
        err.to_string(),
        "config error in /etc/vivo/test.conf line 2, key 'name': unknown input plugin 'tail': \
         vivo-exporter supports dummy, forward, opentelemetry, http"
    );
    classic_error("[INPUT]\n    tag x\n", Some(1), None, "no 'name'");
    classic_error(
        "[OUTPUT]\n    name stdout\n",
        Some(2),
        Some("name"),
        "unknown output plugin 'stdout'",
    );
    classic_error("[OUTPUT]\n    match *\n", Some(1), None, "no 'name'");
    classic_error(
        "[SERVICE]\n    bogus 1\n",
        Some(2),
        Some("bogus"),
        "unknown service key",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    path /x\n",
        Some(3),
        Some("path"),
        "unknown key 'path' for input plugin 'dummy'",
    );
    classic_error(
        "[INPUT]\n    name forward\n    rate 1\n",
        Some(3),
        Some("rate"),
        "unknown key",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    format json\n",
        Some(3),
        Some("format"),
        "unknown key",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n\n    empty_stream_on_read maybe\n",
        Some(4),
        Some("empty_stream_on_read"),
        "invalid boolean 'maybe'",
    );
    let err = classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    stream_queue_size 20Q\n",
        Some(4),
        Some("stream_queue_size"),
        "invalid size '20Q'",
    );
    assert_eq!(
        err.to_string(),
        "config error in /etc/vivo/test.conf line 4, key 'stream_queue_size': invalid size '20Q' \
         (expected a number with an optional K, M or G suffix)"
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    port 20x\n",
        Some(3),
        Some("port"),
        "invalid integer '20x'",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    port 70000\n",
        Some(3),
        Some("port"),
        "out of range",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    workers 0\n",
        Some(3),
        Some("workers"),
        "out of range",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    workers 257\n",
        Some(3),
        Some("workers"),
        "out of range",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    match_regex .*\n",
        Some(4),
        Some("match_regex"),
        "not both",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    rate 0\n[OUTPUT]\n    name vivo_exporter\n",
        Some(3),
        Some("rate"),
        "out of range",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    copies 0\n",
        Some(3),
        Some("copies"),
        "out of range",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    dummy {\"message\": \n",
        Some(3),
        Some("dummy"),
        "invalid JSON",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    metadata [1]\n",
        Some(3),
        Some("metadata"),
        "not a JSON object",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    start_time_sec -2\n",
        Some(3),
        Some("start_time_sec"),
        "out of range",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    samples -1\n",
        Some(3),
        Some("samples"),
        "invalid integer",
    );
    classic_error(
        "[INPUT]\n    name dummy\n    tag ${VIVO_TEST_SURELY_UNSET_VAR}\n",
        Some(3),
        Some("tag"),
        "empty",
    );
    classic_error(
        "[INPUT]\n    name forward\n    buffer_max_size 100K\n",
        Some(3),
        Some("buffer_max_size"),
        "at least buffer_chunk_size",
    );
    classic_error(
        "[INPUT]\n    name forward\n    buffer_chunk_size 0\n",
        Some(3),
        Some("buffer_chunk_size"),
        "greater than 0",
    );
    classic_error(
        "[INPUT]\n    name forward\n    unix_perm 0999\n",
        Some(3),
        Some("unix_perm"),
        "invalid permission mode",
    );
    classic_error(
        "[INPUT]\n    name forward\n    security.users alice\n",
        Some(3),
        Some("security.users"),
        "USER PASSWORD",
    );
    classic_error(
        "[SERVICE]\n    flush 0\n",
        Some(2),
        Some("flush"),
        "greater than 0",
    );
    classic_error(
        "[SERVICE]\n    flush fast\n",
        Some(2),
        Some("flush"),
        "invalid number of seconds",
    );
    classic_error(
        "[SERVICE]\n    log_level loud\n",
        Some(2),
        Some("log_level"),
        "invalid log level",
    );
    classic_error(
        "[SERVICE]\n    daemon on\n",
        Some(2),
        Some("daemon"),
        "not supported, run under a supervisor",
    );
    classic_error(
        "[SERVICE]\n    log_file /var/log/x\n",
        Some(2),
        Some("log_file"),
        "stderr only",
    );
}

#[test]
fn duplicate_listeners() {
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    match *\n\n[OUTPUT]\n    name vivo_exporter\n\
         \x20   match x\n    port 2025\n",
        Some(8),
        Some("port"),
        "output vivo_exporter.1 listens on 0.0.0.0:2025, which output vivo_exporter.0 \
         (/etc/vivo/test.conf line 1) already listens on",
    );
    classic_error(
        "[OUTPUT]\n    name vivo_exporter\n    host 127.0.0.1\n[OUTPUT]\n    name vivo_exporter\n",
        Some(4),
        None,
        "0.0.0.0:2025",
    );
    classic_error(
        "[INPUT]\n    name forward\n    port 2025\n[OUTPUT]\n    name vivo_exporter\n",
        Some(4),
        None,
        "forward input",
    );
    // Different ports, distinct hosts, port 0 and Unix sockets do not collide.
    classic(
        "[INPUT]\n    name forward\n    unix_path /tmp/s\n    port 2025\n\
         [OUTPUT]\n    name vivo_exporter\n    host 127.0.0.1\n\
         [OUTPUT]\n    name vivo_exporter\n    host 127.0.0.2\n\
         [OUTPUT]\n    name vivo_exporter\n    port 0\n[OUTPUT]\n    name vivo_exporter\n    port 0\n\
         [OUTPUT]\n    name vivo_exporter\n    port 2026\n",
    )
    .expect("no collision");
}

#[test]
fn an_output_is_required() {
    classic_error(
        "[INPUT]\n    name dummy\n",
        None,
        None,
        "at least one [OUTPUT]",
    );
    classic_error("", None, None, "at least one [OUTPUT]");
    yaml_error(
        "service:\n  flush: 1\n",
        None,
        None,
        "at least one [OUTPUT]",
    );
}

#[test]
fn yaml_errors_name_line_and_key() {
    yaml_error(
        "service:\n  flush: 1\nbogus:\n  x: 1\n",
        Some(3),
        Some("bogus"),
        "unknown top-level key 'bogus'",
    );
    yaml_error(
        "pipeline:\n  filters:\n    - name: grep\n",
        Some(2),
        Some("filters"),
        "not supported",
    );
    yaml_error(
        "parsers:\n  - name: json\n",
        Some(1),
        Some("parsers"),
        "not supported",
    );
    yaml_error(
        "multiline_parsers: []\n",
        Some(1),
        Some("multiline_parsers"),
        "not supported",
    );
    yaml_error(
        "pipeline:\n  inputs:\n    - name: tail\n      path: /x\n",
        Some(3),
        Some("name"),
        "unknown input plugin 'tail'",
    );
    yaml_error(
        "pipeline:\n  outputs:\n    - name: vivo_exporter\n      stream_queue_size: 20Q\n",
        Some(4),
        Some("stream_queue_size"),
        "invalid size '20Q'",
    );
    yaml_error(
        "pipeline:\n  outputs:\n    - name: vivo_exporter\n      empty_stream_on_read: 1\n",
        Some(4),
        Some("empty_stream_on_read"),
        "invalid boolean '1'",
    );
    yaml_error(
        "service:\n  flush: 1\n  bogus_key: 2\npipeline:\n  outputs:\n    - name: vivo_exporter\n",
        Some(3),
        Some("bogus_key"),
        "unknown service key",
    );
    yaml_error(
        "pipeline:\n  outputs:\n    - name: vivo_exporter\n      match: *\n",
        Some(4),
        None,
        "invalid YAML",
    );
    yaml_error(
        "service:\n  flush: 1\n   grace: 2\n",
        Some(3),
        None,
        "invalid YAML",
    );
    yaml_error(
        "pipeline:\n  outputs:\n    - name: vivo_exporter\n    - name: vivo_exporter\n",
        Some(4),
        None,
        "already listens on",
    );
}

#[test]
fn listener_keys_of_the_output_and_the_http_inputs() {
    let config = classic(
        "[INPUT]\n    name opentelemetry\n    max_connections 7\n    idle_timeout 2\n\
         \x20   request_timeout 0.5\n    send_timeout 3\n    mem_buf_limit 1M\n\
         \x20   http_auth_token in-token\n\
         [INPUT]\n    name http\n    max_connections 9\n    mem_buf_limit 2M\n\
         [OUTPUT]\n    name vivo_exporter\n    match *\n    http_max_connections 11\n\
         \x20   http_idle_timeout 4\n    http_request_timeout 5\n    http_send_timeout 6\n\
         \x20   http_auth_token out-token\n",
    )
    .expect("parses");
    let InputConfig::OpenTelemetry(otlp) = &config.inputs[0] else {
        panic!("opentelemetry first")
    };
    assert_eq!(
        otlp.listener,
        HttpListener {
            max_connections: 7,
            idle_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_millis(500),
            send_timeout: Duration::from_secs(3),
            tls: None,
            auth_token: Some(Secret::new("in-token".into())),
        }
    );
    assert_eq!(otlp.mem_buf_limit, 1_000_000);
    let InputConfig::Http(http) = &config.inputs[1] else {
        panic!("http second")
    };
    assert_eq!(http.listener.max_connections, 9);
    assert_eq!(http.listener.idle_timeout, Duration::from_secs(75));
    assert_eq!(http.mem_buf_limit, 2_000_000);
    assert_eq!(
        config.outputs[0].listener,
        HttpListener {
            max_connections: 11,
            idle_timeout: Duration::from_secs(4),
            request_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(6),
            tls: None,
            auth_token: Some(Secret::new("out-token".into())),
        }
    );
}

#[test]
fn listener_key_errors_name_line_and_key() {
    let output = "[OUTPUT]\n    name vivo_exporter\n    match *\n";
    classic_error(
        &format!("{output}    http_max_connections 0\n"),
        Some(4),
        Some("http_max_connections"),
        "",
    );
    classic_error(
        &format!("{output}    http_send_timeout 0\n"),
        Some(4),
        Some("http_send_timeout"),
        "greater than 0",
    );
    // The output's keys carry the prefix; the inputs' do not, and take no prefixed form.
    classic_error(
        &format!("{output}    max_connections 5\n"),
        Some(4),
        Some("max_connections"),
        "unknown key",
    );
    classic_error(
        "[INPUT]\n    name http\n    http_max_connections 5\n",
        Some(3),
        Some("http_max_connections"),
        "unknown key",
    );
    classic_error(
        &format!("{output}    tls.min_version TLSv1.1\n"),
        Some(4),
        Some("tls.min_version"),
        "only TLSv1.2 and TLSv1.3",
    );
    classic_error(
        &format!("{output}    tls.ciphers HIGH\n"),
        Some(4),
        Some("tls.ciphers"),
        "not configurable",
    );
}
