//! `http_cache_max_age` with a real HTTP cache: nginx (the system package) as a caching reverse
//! proxy in front of the service. A closed range (`to` below the stream's next ID) is fetched
//! from the service once and then served from nginx's cache, byte for byte, without reaching
//! the service; an open read (`Cache-Control: no-store`) reaches the service every time.

mod common;

use std::io::Write;
use std::net::SocketAddr;

use common::forward::{ack, arr, map, read_reply, s, uint};
use common::nginx::Nginx;

/// nginx as a caching proxy of `upstream`.
fn caching_proxy(upstream: SocketAddr) -> Nginx {
    Nginx::start("cache", |d, addr| {
        format!(
            r#"    proxy_cache_path {d}/cache levels=1:2 keys_zone=vivo:1m max_size=10m inactive=10m use_temp_path=off;
    server {{
        listen {addr};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache vivo;
            proxy_cache_key $scheme$proxy_host$request_uri;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}"#
        )
    })
}

/// Publishes one message with the record `{"n":n}` through the Forward input, acknowledged.
fn publish(fwd: SocketAddr, n: u64) {
    let mut stream = common::forward::connect(fwd);
    let chunk = format!("c{n}");
    let message = arr(&[
        s("cache"),
        arr(&[arr(&[uint(1_700_000_000), map(&[("n", uint(n))])])]),
        map(&[("chunk", s(&chunk))]),
    ]);
    stream.write_all(&message).unwrap();
    assert_eq!(read_reply(&mut stream), ack(&chunk));
}

/// Reads the requests the service answered 200, straight from it. The read is itself a 200
/// the service counts, after it rendered the value: each call adds one to the next call's.
fn answered(http: SocketAddr) -> u64 {
    common::binary::metric(
        http,
        "vivo_read_requests_total{output=\"vivo_exporter.0\",status=\"200\"}",
    )
}

#[test]
fn closed_ranges_are_served_from_nginx_cache_open_reads_never() {
    let (_service, fwd, http) = common::forward::forward_service("    http_cache_max_age 60");
    for n in 0..4 {
        publish(fwd, n);
    }
    assert_eq!(
        common::binary::next_id(http),
        4,
        "the range 0..=2 is closed"
    );
    let nginx = caching_proxy(http);
    let direct = common::get(http, "/logs?from=0&to=2");
    assert_eq!(direct.status, 200);
    assert_eq!(direct.header("Cache-Control"), Some("public, max-age=60"));
    assert_eq!(direct.lines().len(), 3);

    // A closed range: fetched once (MISS, the service answers it), then a HIT that never
    // reaches the service, with the same bytes and headers.
    let before = answered(http);
    let first = common::get(nginx.addr, "/logs?from=0&to=2");
    assert_eq!(first.status, 200, "{}", nginx.error_log());
    assert_eq!(first.header("X-Cache-Status"), Some("MISS"));
    let after_first = answered(http);
    assert_eq!(
        after_first - before,
        2,
        "the miss and the counter read reached the service"
    );
    let second = common::get(nginx.addr, "/logs?from=0&to=2");
    assert_eq!(second.status, 200);
    assert_eq!(second.header("X-Cache-Status"), Some("HIT"));
    let after_second = answered(http);
    assert_eq!(
        after_second - after_first,
        1,
        "only the counter read reached the service"
    );
    assert_eq!(first.body, direct.body);
    assert_eq!(second.body, direct.body);
    assert_eq!(second.header("Vivo-Stream-End-ID"), Some("2"));
    assert_eq!(second.header("ETag"), direct.header("ETag"));

    // New entries do not change a closed range: still a hit, still the same bytes.
    publish(fwd, 4);
    let third = common::get(nginx.addr, "/logs?from=0&to=2");
    assert_eq!(third.header("X-Cache-Status"), Some("HIT"));
    assert_eq!(third.body, direct.body);
    assert_eq!(answered(http) - after_second, 1);

    // An open read is `no-store`: nginx passes every one to the service, and each sees what
    // was published since.
    let mut seen = 0;
    for n in 5..8 {
        let before = answered(http);
        let open = common::get(nginx.addr, "/logs");
        assert_eq!(open.status, 200);
        assert_eq!(open.header("Cache-Control"), Some("no-store"));
        let status = open.header("X-Cache-Status");
        assert!(
            matches!(status, Some("MISS" | "BYPASS")),
            "an open read was {status:?}"
        );
        assert_eq!(
            answered(http) - before,
            2,
            "the open read reached the service"
        );
        let lines = open.lines();
        assert!(lines.len() > seen, "the open read is not stale");
        assert_eq!(
            lines.last().unwrap(),
            &format!(
                "[[1700000000000000000,{{\"_tag\":\"cache\"}}],{{\"n\":{}}}]",
                n - 1
            )
        );
        seen = lines.len();
        publish(fwd, n);
    }
    drop(nginx);
}
