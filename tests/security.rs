//! TLS and access control over real sockets, with clients nobody here wrote where they exist:
//! curl (HTTP/1.1 and HTTP/2 by ALPN) and a rustls client against certificates the tests make
//! (`common::tls`), client certificates with `tls.ca_file`, Forward frames inside a TLS socket
//! (as Fluent Bit's `tls on` forward output sends them), bearer tokens on the read API and the
//! HTTP JSON input, and configuration errors for TLS files.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::binary::{metric, run, temp_config};
use common::forward::{ack, arr, config_with, forward_input, map, read_reply, s, uint};
use common::tls::{self, Pki};
use common::{get, http_addr, request, start, wait_for};

/// A service with one Forward input (plain) and its read API with `output_extra` lines.
fn start_with_output(output_extra: &str) -> (vivo_exporter::service::Service, SocketAddr) {
    let config = format!(
        "{}\n{output_extra}\n",
        config_with(&[forward_input("")]).trim_end()
    );
    let service = start(&config);
    let http = http_addr(&service);
    (service, http)
}

/// curl with `args`; (exit status success, stdout).
fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl runs (`bash .ci/run` installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A Forward message with one record and a `chunk` option.
fn message(tag: &str, text: &str, chunk: &str) -> Vec<u8> {
    arr(&[
        s(tag),
        arr(&[arr(&[uint(1_700_000_000), map(&[("msg", s(text))])])]),
        map(&[("chunk", s(chunk))]),
    ])
}

#[test]
fn the_read_api_over_tls_with_curl_and_a_rustls_client() {
    let pki = Pki::new("read-api-tls");
    let service = start(&format!(
        "{}{}",
        config_with(&[forward_input("")]).trim_end(),
        format_args!("\n{}", pki.server_keys(""))
    ));
    let http = http_addr(&service);
    let fwd = service.forward_addrs()[0];
    let mut producer = common::forward::connect(fwd);
    producer
        .write_all(&message("app", "over tls", "c1"))
        .unwrap();
    assert_eq!(read_reply(&mut producer), ack("c1"));
    let expected = "[[1700000000000000000,{\"_tag\":\"app\"}],{\"msg\":\"over tls\"}]\n";

    // rustls, HTTP/1.1 by ALPN.
    let config = pki.client_config(None, &[b"http/1.1"]);
    let mut stream = tls::connect(http, config).expect("TLS handshake with the read API");
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        tls::get(&mut stream, "/logs").unwrap(),
        (200, expected.to_string())
    );

    // curl, trusting the test CA only, over HTTP/1.1 and over HTTP/2 (ALPN h2).
    let ca = pki.ca.display().to_string();
    let url = format!("https://localhost:{}/logs", http.port());
    let resolve = format!("localhost:{}:127.0.0.1", http.port());
    for version in ["--http1.1", "--http2"] {
        let (ok, body) = curl(&[
            version,
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            "--write-out",
            "|%{http_code} %{http_version}",
            &url,
        ]);
        assert!(ok, "curl {version} over TLS failed");
        let expected_version = if version == "--http2" { "2" } else { "1.1" };
        assert_eq!(
            body,
            format!("{expected}|200 {expected_version}"),
            "{version}"
        );
    }

    // Without the CA, curl refuses the server; cleartext to the TLS port gets no HTTP answer.
    let (ok, _) = curl(&["--resolve", &resolve, &url]);
    assert!(!ok, "curl must not trust a certificate from an unknown CA");
    let (ok, body) = curl(&[&format!("http://127.0.0.1:{}/logs", http.port())]);
    assert!(
        !ok && body.is_empty(),
        "cleartext must not be served: {body:?}"
    );
    let refused = "vivo_listener_refused_connections_total{listener=\"vivo_exporter.0\",reason=\"tls_handshake\"}";
    let metrics_url = format!("https://localhost:{}/internal/metrics", http.port());
    wait_for(Duration::from_secs(5), || {
        let (_, text) = curl(&["--cacert", &ca, "--resolve", &resolve, &metrics_url]);
        let count = text
            .lines()
            .find_map(|l| l.strip_prefix(refused)?.trim().parse::<u64>().ok())?;
        (count >= 2).then_some(())
    });
}

#[test]
fn with_tls_ca_file_only_clients_with_a_certificate_from_that_ca_are_served() {
    let pki = Pki::new("client-certs");
    let ca_line = format!("    tls.ca_file {}\n", pki.ca.display());
    let (_service, http) = start_with_output(&pki.server_keys(&ca_line));
    let alpn: &[&[u8]] = &[b"http/1.1"];

    let trusted = pki.client_config(Some((&pki.client_cert, &pki.client_key)), alpn);
    let mut stream = tls::connect(http, trusted).expect("handshake with a trusted client cert");
    let (status, body) = tls::get(&mut stream, "/").unwrap();
    assert_eq!((status, body.as_str()), (200, "Fluent Bit Vivo Exporter\n"));

    // TLS 1.3 reports a refused client certificate on the first read after the handshake.
    for (who, config) in [
        ("no certificate", pki.client_config(None, alpn)),
        (
            "a stranger's certificate",
            pki.client_config(Some((&pki.stranger_cert, &pki.stranger_key)), alpn),
        ),
    ] {
        let served = tls::connect(http, config).and_then(|mut stream| tls::get(&mut stream, "/"));
        assert!(served.is_err(), "{who}: served anyway: {served:?}");
    }

    // curl with the client certificate and key.
    let resolve = format!("localhost:{}:127.0.0.1", http.port());
    let (ok, body) = curl(&[
        "--cacert",
        &pki.ca.display().to_string(),
        "--cert",
        &pki.client_cert.display().to_string(),
        "--key",
        &pki.client_key.display().to_string(),
        "--resolve",
        &resolve,
        &format!("https://localhost:{}/", http.port()),
    ]);
    assert!(ok);
    assert_eq!(body, "Fluent Bit Vivo Exporter\n");
}

#[test]
fn forward_over_tls_is_acknowledged_and_stored_and_cleartext_is_refused() {
    let pki = Pki::new("forward-tls");
    let service = start(&config_with(&[forward_input(&pki.server_keys(""))]));
    let (fwd, http) = (service.forward_addrs()[0], http_addr(&service));
    let mut stream = tls::connect(fwd, pki.client_config(None, &[])).expect("TLS handshake");
    stream.write_all(&message("secure", "first", "k1")).unwrap();
    stream
        .write_all(&message("secure", "second", "k2"))
        .unwrap();
    stream.flush().unwrap();
    let mut replies = Vec::new();
    let mut buf = [0u8; 256];
    while replies.len() < ack("k1").len() + ack("k2").len() {
        let n = std::io::Read::read(&mut stream, &mut buf).expect("acks over TLS");
        assert!(n > 0, "closed before both acks");
        replies.extend_from_slice(&buf[..n]);
    }
    assert_eq!(replies, [ack("k1"), ack("k2")].concat());
    let lines = get(http, "/logs").lines();
    assert_eq!(
        lines,
        [
            "[[1700000000000000000,{\"_tag\":\"secure\"}],{\"msg\":\"first\"}]",
            "[[1700000000000000000,{\"_tag\":\"secure\"}],{\"msg\":\"second\"}]",
        ]
    );

    // A producer without TLS: its frame is not taken, the refusal is counted by reason.
    let mut plain = common::forward::connect(fwd);
    plain.write_all(&message("plain", "lost", "p1")).unwrap();
    let series = "vivo_input_rejected_total{input=\"forward.0\",reason=\"tls_handshake\"}";
    wait_for(Duration::from_secs(5), || {
        (metric(http, series) == 1).then_some(())
    });
    assert_eq!(get(http, "/logs").lines().len(), 2);
}

#[test]
fn a_read_api_token_is_asked_for_everywhere_but_preflight_and_health() {
    let (_service, http) = start_with_output(
        "    http_auth_token s3cr3t-t0ken\n    http_cors_allow_origin https://ui.example\n",
    );
    let denied = get(http, "/logs");
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("WWW-Authenticate"),
        Some("Bearer realm=\"vivo-exporter\"")
    );
    assert_eq!(denied.header("Content-Type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&denied.body).unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert!(
        !String::from_utf8_lossy(&denied.body).contains("s3cr3t"),
        "the answer must not echo the token"
    );
    for path in ["/metrics", "/traces", "/", "/internal/metrics", "/nope"] {
        assert_eq!(get(http, path).status, 401, "{path}");
    }
    let wrong = request(
        http,
        "GET",
        "/logs",
        &["Authorization: Bearer s3cr3t-t0keX"],
    );
    assert_eq!(wrong.status, 401);

    for (target, header) in [
        ("/logs", "Authorization: Bearer s3cr3t-t0ken"),
        ("/logs", "Cookie: theme=dark; vivo_token=s3cr3t-t0ken"),
        ("/logs?from=1&access_token=s3cr3t-t0ken", "Accept: */*"),
    ] {
        let answer = request(http, "GET", target, &[header]);
        assert_eq!(answer.status, 200, "{target} with {header}");
        assert!(answer.header("Vivo-Stream-Next-ID").is_some());
    }

    // A browser's preflight carries no credentials: it is answered, and allows the header.
    let preflight = request(
        http,
        "OPTIONS",
        "/logs",
        &[
            "Origin: https://ui.example",
            "Access-Control-Request-Headers: authorization",
        ],
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight
        .header("Access-Control-Allow-Headers")
        .is_some_and(|h| h.contains("Authorization")));
    assert_eq!(
        preflight.header("Access-Control-Allow-Origin"),
        Some("https://ui.example")
    );

    let health = get(http, "/api/v1/health");
    assert_eq!(health.status, 200);
    let with_token =
        |path: &str| request(http, "GET", path, &["Authorization: Bearer s3cr3t-t0ken"]);
    let metrics = with_token("/internal/metrics").text();
    let denials = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("vivo_read_requests_total{output=\"vivo_exporter.0\",status=\"401\"} ")
        })
        .expect("401s are counted");
    assert_eq!(denials.trim(), "7");
}

#[test]
fn the_http_json_input_asks_for_its_token() {
    let service = start(&config_with(&[
        "[INPUT]\n    name http\n    listen 127.0.0.1\n    port 0\n    http_auth_token ingest-key\n"
            .to_string(),
    ]));
    let (input, http) = (service.http_json_addrs()[0], http_addr(&service));
    let url = format!("http://{input}/app");
    let (ok, body) = curl(&["--write-out", "%{http_code}", "-d", "{\"a\":1}", &url]);
    assert!(ok);
    assert!(body.ends_with("401"), "{body}");
    assert!(body.contains("\"error\":\"unauthorized\""), "{body}");
    let (ok, body) = curl(&[
        "--write-out",
        "%{http_code}",
        "-H",
        "Authorization: Bearer ingest-key",
        "-H",
        "Content-Type: application/json",
        "-d",
        "{\"a\":1}",
        &url,
    ]);
    assert!(ok);
    assert_eq!(body, "201");
    let lines = get(http, "/logs").lines();
    assert_eq!(
        lines.len(),
        1,
        "only the authorized request is stored: {lines:?}"
    );
    assert!(lines[0].ends_with("{\"a\":1}]"), "{lines:?}");
}

#[test]
fn tls_problems_are_configuration_errors_with_file_line_and_key() {
    let pki = Pki::new("config-errors");
    let garbage = pki.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let encrypted = pki.dir.join("encrypted.key");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let cases = [
        (
            format!(
                "    tls on\n    tls.crt_file {}/missing.pem\n    tls.key_file {}\n",
                pki.dir.display(),
                pki.server_key.display()
            ),
            "line 6, key 'tls.crt_file'",
            "missing.pem",
        ),
        (
            format!(
                "    tls on\n    tls.crt_file {}\n    tls.key_file {}\n",
                garbage.display(),
                pki.server_key.display()
            ),
            "line 6, key 'tls.crt_file'",
            "no PEM certificate",
        ),
        (
            format!(
                "    tls on\n    tls.crt_file {}\n    tls.key_file {}\n",
                pki.server_cert.display(),
                encrypted.display()
            ),
            "line 7, key 'tls.key_file'",
            "encrypted key is not supported",
        ),
        (
            format!(
                "    tls on\n    tls.crt_file {}\n    tls.key_file {}\n",
                pki.server_cert.display(),
                pki.client_key.display()
            ),
            "line 7, key 'tls.key_file'",
            "does not fit the certificate",
        ),
        (
            "    tls on\n".to_string(),
            "line 5, key 'tls'",
            "tls on needs tls.crt_file and tls.key_file",
        ),
        (
            "    tls.key_passwd secret\n".to_string(),
            "line 5, key 'tls.key_passwd'",
            "encrypted private keys are not supported",
        ),
    ];
    for (i, (lines, place, message)) in cases.iter().enumerate() {
        let text = format!("[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n{lines}");
        let path = temp_config(&format!("tls-error-{i}.conf"), &text);
        for mode in [&["--dry-run"][..], &[]] {
            let mut args = vec!["-c", path.to_str().unwrap()];
            args.extend_from_slice(mode);
            let out = run(&args, Duration::from_secs(20));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "case {i} {mode:?}: {stderr}");
            assert!(stderr.contains(place), "case {i}: {place} not in {stderr}");
            assert!(
                stderr.contains(message),
                "case {i}: {message} not in {stderr}"
            );
        }
    }
}

#[test]
fn tokens_from_the_environment_are_never_printed() {
    let path = temp_config(
        "token-env.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n    http_auth_token ${VIVO_TEST_SECRET_TOKEN}\n    http_max_connections lots\n",
    );
    let out = common::binary::binary()
        .args(["-c", path.to_str().unwrap(), "--dry-run"])
        .env("VIVO_TEST_SECRET_TOKEN", "very-secret-value")
        .output()
        .expect("run vivo-exporter");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("http_max_connections"), "{all}");
    assert!(
        !all.contains("very-secret-value"),
        "the token leaked: {all}"
    );
    // An empty token (an unset variable) is refused without printing anything of it.
    let path = temp_config(
        "token-empty.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    http_auth_token ${VIVO_TEST_UNSET_TOKEN}\n",
    );
    let out = run(
        &["-c", path.to_str().unwrap(), "--dry-run"],
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("key 'http_auth_token'") && stderr.contains("empty"),
        "{stderr}"
    );
}
