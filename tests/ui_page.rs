//! The live view page `/ui`: its answer (HTML, never cached, a policy that allows only the
//! page's own inline script and style and connections to its own origin, the token asked for
//! as on every read), and the page itself in headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven by Selenium from `tests/clients/ui_page_driver.py`): opened with
//! `?access_token=`, it follows the three streams; entries published through the Forward input
//! after it connected appear as rows (time, tag, metadata, body) and documents, escaped; the
//! filter hides rows, pause holds new rows back until resumed, clear empties the views, at most
//! 2,000 log rows are kept, and a gap notice is shown when entries asked for were evicted.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use base64::Engine;
use common::forward::{arr, event_time, forward_input, map, s, send_acked, send_new, uint};
use common::nginx::Nginx;
use common::vectors;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TOKEN: &str = "ui-page-token";
const AUTH: &str = "Authorization: Bearer ui-page-token";

/// The service: one Forward input; the output asks for `TOKEN` and keeps 400 KB per stream.
fn service() -> (vivo_exporter::service::Service, SocketAddr, SocketAddr) {
    common::forward::forward_service(&format!(
        "    http_auth_token {TOKEN}\n    stream_queue_size 400K"
    ))
}

/// A service like [`service`] whose read API is on `port` (0: any free one).
fn service_on(port: u16) -> (vivo_exporter::service::Service, SocketAddr, SocketAddr) {
    let config = format!(
        "[SERVICE]\n    flush 0.05\n    log_level warn\n\n{}\n[OUTPUT]\n    \
         name vivo_exporter\n    match *\n    host 127.0.0.1\n    port {port}\n    \
         http_auth_token {TOKEN}\n",
        forward_input("")
    );
    let service = common::start(&config);
    let fwd = service.forward_addrs()[0];
    let http = common::http_addr(&service);
    (service, fwd, http)
}

/// `GET target` with the token.
fn read(http: SocketAddr, target: &str) -> common::Response {
    common::request(http, "GET", target, &[AUTH])
}

/// A Forward-mode message of `tag` with `entries` (already encoded), acknowledged as `chunk`.
fn message(tag: &str, entries: Vec<Vec<u8>>, chunk: &str) -> Vec<u8> {
    arr(&[s(tag), arr(&entries), map(&[("chunk", s(chunk))])])
}

/// A log entry at 1700000000 s with `record` (already encoded).
fn entry(record: Vec<u8>) -> Vec<u8> {
    arr(&[uint(1_700_000_000), record])
}

/// Sends one message with the record `{"message": text}` under `tag` and waits for its ack.
fn publish(fwd: SocketAddr, tag: &str, text: &str) {
    let chunk = format!("c-{text}");
    let record = map(&[("message", s(text))]);
    send_acked(fwd, &message(tag, vec![entry(record)], &chunk), &chunk);
}

/// Sends a vector's Forward bytes and waits until `path` holds `n` lines.
fn publish_vector(fwd: SocketAddr, http: SocketAddr, name: &str, path: &str, n: usize) {
    let _connection = send_new(fwd, &vectors::read(name, ".forward.msgpack"));
    common::wait_for(Duration::from_secs(10), || {
        let response = read(http, path);
        (response.status == 200 && response.lines().len() >= n).then_some(())
    });
}

#[test]
fn the_page_answer() {
    let (_service, _fwd, http) = service();
    // The page asks for the token as every read does: in the query here.
    let refused = common::get(http, "/ui");
    assert_eq!(refused.status, 401);
    let page = common::get(http, &format!("/ui?access_token={TOKEN}"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("Cache-Control"), Some("no-store"));
    assert_eq!(page.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(page.header("Referrer-Policy"), Some("no-referrer"));
    let html = page.text();
    assert!(html.starts_with("<!doctype html>"), "{html:.100}");
    assert!(html.contains("<title>vivo-exporter live view</title>"));
    // The policy: the page's own inline script and style by hash (computed here from the
    // body served), connections to its origin, nothing else.
    let inline = |open: &str, close: &str| {
        let start = html.find(open).expect("an inline block") + open.len();
        let end = start + html[start..].find(close).expect("its end");
        let digest = Sha256::digest(&html.as_bytes()[start..end]);
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    let expected = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'",
        inline("<script>", "</script>"),
        inline("<style>", "</style>")
    );
    assert_eq!(page.header("Content-Security-Policy"), Some(&*expected));
    // The token's other places work too.
    assert_eq!(read(http, "/ui").status, 200);
    let cookie = format!("Cookie: vivo_token={TOKEN}");
    assert_eq!(common::request(http, "GET", "/ui", &[&cookie]).status, 200);
    // HEAD: the same headers, no body; other methods as on every route.
    let head = common::request(http, "HEAD", "/ui", &[AUTH]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(&*html.len().to_string())
    );
    assert_eq!(head.header("Content-Security-Policy"), Some(&*expected));
    let post = common::request(http, "POST", "/ui", &[AUTH, "Content-Length: 0"]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(common::request(http, "OPTIONS", "/ui", &[]).status, 204);
    // The root keeps its text; the 404 names the page.
    assert_eq!(read(http, "/").text(), "Fluent Bit Vivo Exporter\n");
    let missing = read(http, "/nope");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains(" /ui, "), "{}", missing.text());
}

/// The browser, through `ui_page_driver.py`: one JSON command a line, one JSON reply a line.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
}

impl Browser {
    fn start() -> Browser {
        for (path, package) in [
            ("/usr/bin/chromium", "chromium"),
            ("/usr/bin/chromedriver", "chromium-driver"),
        ] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: apt-get install {package} (.ci/run does)"
            );
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients/ui_page_driver.py");
        let mut child = common::python()
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the page driver");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, replies) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser {
            stdin: child.stdin.take(),
            child,
            replies,
        };
        // Starting Chromium is the slow part; a missing selenium fails here, loudly.
        browser.reply(Duration::from_secs(60), "start");
        browser
    }

    fn reply(&mut self, timeout: Duration, what: &str) -> Value {
        let line = self.replies.recv_timeout(timeout).unwrap_or_else(|_| {
            panic!(
                "the page driver did not answer {what} within {timeout:?} (its error is \
                 above; is selenium in target/test-venv? .ci/run installs it)"
            )
        });
        let reply: Value = serde_json::from_str(&line).expect("a JSON reply");
        assert_eq!(reply["ok"], true, "{what}: {}", reply["error"]);
        reply
    }

    /// Sends `command` and returns the reply; waits inside the driver are bounded by its
    /// `timeout` (10 s unless given).
    fn call(&mut self, command: Value) -> Value {
        let wait = command["timeout"].as_f64().unwrap_or(10.0);
        let stdin = self.stdin.as_mut().expect("the driver's stdin");
        writeln!(stdin, "{command}").expect("send a command to the page driver");
        stdin.flush().unwrap();
        self.reply(
            Duration::from_secs_f64(wait + 20.0),
            &command["cmd"].to_string(),
        )
    }

    fn rows(&mut self, view: &str) -> Vec<Value> {
        let reply = self.call(json!({"cmd": "rows", "view": view}));
        reply["rows"].as_array().expect("rows").clone()
    }

    fn wait_row(&mut self, view: &str, contains: &str, hidden: bool) -> Vec<Value> {
        let reply = self
            .call(json!({"cmd": "wait_row", "view": view, "contains": contains, "hidden": hidden}));
        reply["rows"].as_array().expect("rows").clone()
    }

    fn open(&mut self, url: &str) {
        self.call(json!({"cmd": "open", "url": url}));
        self.call(json!({"cmd": "wait_states", "state": "live", "timeout": 20}));
    }

    /// What the browser's console holds (errors such as policy violations land there).
    fn console(&mut self) -> Vec<Value> {
        let reply = self.call(json!({"cmd": "console"}));
        reply["entries"].as_array().expect("entries").clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End of input makes the driver quit Chromium; kill it only if it does not.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The row whose text contains `needle`.
fn row<'a>(rows: &'a [Value], needle: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["text"].as_str().unwrap_or("").contains(needle))
        .unwrap_or_else(|| panic!("no row contains {needle:?}: {rows:#?}"))
}

#[test]
fn the_page_in_chromium() {
    let started = Instant::now();
    let (_service, fwd, http) = service();
    let mut browser = Browser::start();
    browser.open(&format!("http://{http}/ui?access_token={TOKEN}"));

    // Published after the page connected: a log record with metadata, a nanosecond time and
    // markup in its body, another tag, a metrics and a traces vector.
    let body = "hello <b>world</b> & <script>document.title='x'</script>";
    let tagged = arr(&[
        arr(&[
            event_time(1_700_000_000, 123_456_789),
            map(&[("host", s("h1"))]),
        ]),
        map(&[("message", s(body))]),
    ]);
    send_acked(fwd, &message("ui.web", vec![tagged], "first"), "first");
    let stored = read(http, "/logs").lines();
    assert_eq!(
        stored,
        [format!(
            "[[1700000000123456789,{{\"_tag\":\"ui.web\",\"host\":\"h1\"}}],\
             {{\"message\":\"{body}\"}}]"
        )]
    );
    publish(fwd, "ui.other", "second row");
    publish_vector(fwd, http, "metrics-01", "/metrics", 1);
    publish_vector(fwd, http, "traces-01", "/traces", 1);

    let rows = browser.wait_row("logs", "second row", false);
    let first = row(&rows, "hello");
    assert_eq!(
        first["cells"],
        json!([
            "0",
            "2023-11-14T22:13:20.123456789Z",
            "ui.web",
            "{\"host\":\"h1\"}",
            format!("{{\"message\":\"{body}\"}}")
        ])
    );
    assert_eq!(row(&rows, "second row")["cells"][2], "ui.other");
    // The markup is text: no element was made from it, and the script did not run.
    let made = browser.call(json!({"cmd": "count", "selector": "#rows-logs b, #rows-logs script"}));
    assert_eq!(made["count"], 0);
    let title = browser.call(json!({"cmd": "title"}));
    assert_eq!(title["title"], "vivo-exporter live view");
    // Documents: pretty-printed, every digit of integers past 2^53 kept.
    let metrics = browser.wait_row("metrics", "14422074905289377809", false);
    assert_eq!(metrics.len(), 1, "{metrics:#?}");
    let doc = metrics[0]["text"].as_str().unwrap();
    assert!(doc.starts_with("entry 0"), "{doc:.200}");
    assert!(doc.contains("\"name\": \"uptime\""), "{doc:.400}");
    assert!(doc.contains("\"ts\": 1795629416836007052"), "{doc:.400}");
    assert!(
        doc.contains("{\n  \"meta\": {\n    \"cmetrics\": {},"),
        "{doc:.200}"
    );
    let traces = browser.wait_row("traces", "5b8efff798038103d269b633813fc60c", false);
    assert!(row(&traces, "checkout-lib")["text"]
        .as_str()
        .unwrap()
        .contains("\"service.name\": \"checkout\""));

    // The filter hides the rows that do not contain its text (any case), in every view.
    browser.call(json!({"cmd": "type_filter", "text": "UI.Other"}));
    let rows = browser.wait_row("logs", "hello", true);
    assert_eq!(row(&rows, "second row")["hidden"], false);
    browser.wait_row("metrics", "uptime", true);
    browser.call(json!({"cmd": "type_filter", "text": ""}));
    browser.wait_row("logs", "hello", false);
    browser.wait_row("metrics", "uptime", false);

    // Pause: new rows are held back (the page says how many) until resumed.
    browser.call(json!({"cmd": "click", "id": "pause"}));
    publish(fwd, "ui.web", "while paused");
    let held = browser.call(json!({"cmd": "wait_held", "n": 1}));
    assert_eq!(held["status"], "paused: 1 new rows held");
    let rows = browser.rows("logs");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows
        .iter()
        .all(|r| !r["text"].as_str().unwrap().contains("while paused")));
    browser.call(json!({"cmd": "click", "id": "pause"}));
    let rows = browser.wait_row("logs", "while paused", false);
    assert_eq!(rows.len(), 3);

    // Clear empties every view; what comes next is shown alone.
    browser.call(json!({"cmd": "click", "id": "clear"}));
    for view in ["logs", "metrics", "traces"] {
        assert_eq!(browser.rows(view), Vec::<Value>::new(), "{view}");
    }
    publish(fwd, "ui.web", "after clear");
    let rows = browser.wait_row("logs", "after clear", false);
    assert_eq!(rows.len(), 1, "{rows:#?}");

    // At most 2,000 log rows are kept: the newest.
    let records = (0..2500u64)
        .map(|n| entry(map(&[("n", uint(n))])))
        .collect();
    send_acked(fwd, &message("ui.bulk", records, "bulk"), "bulk");
    let rows = browser.wait_row("logs", "{\"n\":2499}", false);
    assert_eq!(rows.len(), 2000);
    assert_eq!(rows[0]["cells"][4], "{\"n\":500}");
    assert_eq!(rows[1999]["cells"][4], "{\"n\":2499}");
    let count = browser.call(json!({"cmd": "text", "selector": "#count-logs"}));
    assert_eq!(count["text"], "2000");

    // Rows past the bound that arrive while paused are dropped, and the page says how many.
    browser.call(json!({"cmd": "click", "id": "pause"}));
    let records = (0..2500u64)
        .map(|n| entry(map(&[("n", uint(n))])))
        .collect();
    send_acked(fwd, &message("ui.bulk", records, "bulk2"), "bulk2");
    let held = browser.call(json!({"cmd": "wait_held", "n": 2000}));
    assert_eq!(held["status"], "paused: 2000 new rows held");
    browser.call(json!({"cmd": "click", "id": "pause"}));
    let rows = browser.wait_row("logs", "dropped", false);
    assert_eq!(rows.len(), 2000);
    assert_eq!(rows[0]["kind"], "notice");
    assert_eq!(
        rows[0]["text"],
        "501 rows arrived while paused and were dropped (a view keeps 2000 rows)"
    );
    assert_eq!(rows[1]["cells"][4], "{\"n\":501}");
    assert_eq!(rows[1999]["cells"][4], "{\"n\":2499}");

    // A gap: entries the page asks for (?from=1) were evicted; it says which. (`from=0`
    // would ask for no lower bound, as on every read: the oldest held.) Padding entries push
    // out everything before them, the bulk entries too, so the notice is not itself pushed
    // out of the view by the rows after it.
    let next: u64 = common::request(http, "HEAD", "/logs", &[AUTH])
        .header("Vivo-Stream-Next-ID")
        .and_then(|id| id.parse().ok())
        .expect("Vivo-Stream-Next-ID");
    let last_bulk = next - 1;
    let pad = "p".repeat(100_000);
    let mut n = 0;
    let oldest = loop {
        let record = map(&[("pad", s(&pad))]);
        send_acked(
            fwd,
            &message("ui.pad", vec![entry(record)], &format!("pad{n}")),
            &format!("pad{n}"),
        );
        n += 1;
        let oldest: u64 = common::request(http, "HEAD", "/logs", &[AUTH])
            .header("Vivo-Stream-Oldest-ID")
            .and_then(|id| id.parse().ok())
            .expect("Vivo-Stream-Oldest-ID");
        if oldest > last_bulk {
            break oldest;
        }
        assert!(n < 20, "the bulk entries were not evicted");
    };
    browser.open(&format!("http://{http}/ui?access_token={TOKEN}&from=1"));
    let rows = browser.wait_row("logs", "gap:", false);
    assert_eq!(rows[0]["kind"], "notice");
    assert_eq!(
        rows[0]["text"],
        format!(
            "gap: entries 1 to {} were evicted before this page got them",
            oldest - 1
        )
    );
    assert_eq!(rows[1]["kind"], "entry");
    assert_eq!(rows[1]["id"], oldest);

    // Nothing was refused by the policy, no script error.
    let console = browser.console();
    assert!(
        console.iter().all(|e| e["level"] != "SEVERE"),
        "{console:#?}"
    );
    eprintln!("the page test took {:?}", started.elapsed());
}

#[test]
fn the_page_follows_a_restart() {
    let (first, fwd, http) = service_on(0);
    let mut browser = Browser::start();
    browser.open(&format!("http://{http}/ui?access_token={TOKEN}"));
    publish(fwd, "ui.web", "before the restart");
    browser.wait_row("logs", "before the restart", false);
    // The service goes away: every stream says so and keeps trying.
    first.stop();
    browser.call(json!({"cmd": "wait_states", "state": "reconnecting", "timeout": 20}));
    // A new start on the same port: IDs begin again, under a new generation. The page
    // notices, says so, and shows the new start's entries from its ID 0.
    let (_second, fwd, again) = service_on(http.port());
    assert_eq!(again, http);
    browser.call(json!({"cmd": "wait_states", "state": "live", "timeout": 30}));
    publish(fwd, "ui.web", "after the restart");
    let rows = browser.wait_row("logs", "after the restart", false);
    let summary: Vec<(Value, Value)> = rows
        .iter()
        .map(|r| (r["kind"].clone(), r["id"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("entry"), json!(0)),
            (json!("notice"), Value::Null),
            (json!("entry"), json!(0)),
        ],
        "{rows:#?}"
    );
    assert_eq!(
        rows[1]["text"],
        "the service restarted: entry IDs start again from 0"
    );
    assert!(rows[2]["text"]
        .as_str()
        .unwrap()
        .contains("after the restart"));
}

/// nginx proxying `/vivo/` to `upstream` (no caching).
fn prefix_proxy(upstream: SocketAddr) -> Nginx {
    Nginx::start("ui", |_, addr| {
        format!(
            "    server {{ listen {addr}; location /vivo/ {{ proxy_pass http://{upstream}/; \
             proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}"
        )
    })
}

#[test]
fn the_page_behind_a_proxy_under_a_prefix() {
    // The page's stream URLs are relative: opened as /vivo/ui, it follows /vivo/logs, which
    // the proxy passes on as /logs (and SSE is not held back in nginx's buffers).
    let (_service, fwd, http) = service_on(0);
    let proxy = prefix_proxy(http);
    let mut browser = Browser::start();
    browser.open(&format!(
        "http://{}/vivo/ui?access_token={TOKEN}",
        proxy.addr
    ));
    publish(fwd, "ui.proxied", "through the proxy");
    let rows = browser.wait_row("logs", "through the proxy", false);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["cells"][2], "ui.proxied");
    // nginx logs a request once it is over, so the open event streams are not in its log
    // yet; the probes before them are. (The page can reach nothing but its own origin.)
    let log = std::fs::read_to_string(proxy.dir.join("access.log")).expect("nginx's access log");
    for stream in ["logs", "metrics", "traces"] {
        assert!(
            log.contains(&format!("\"HEAD /vivo/{stream}?from=")),
            "the {stream} stream was not probed through the proxy: {log}"
        );
    }
}
