//! Running the real `vivo-exporter` binary: start it, learn its port from its log line, stop it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `vivo-exporter` process, killed when dropped.
pub struct Running {
    pub child: Child,
    pub http: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` to a fresh file `name` under the temp folder, for `-c`.
pub fn temp_config(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vivo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The binary under test.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vivo-exporter"))
}

/// Starts the binary with `args` and waits for its `listening iface=… tcp_port=…` line.
pub fn spawn(args: &[&str]) -> Running {
    let mut child = binary()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vivo-exporter");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let log_writer = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening iface=").nth(1) {
                if line.contains("output:vivo_exporter") {
                    let mut parts = rest.split(" tcp_port=");
                    let ip = parts.next().unwrap_or("").to_string();
                    let port = parts.next().unwrap_or("").trim().to_string();
                    let _ = port_tx.send(format!("{ip}:{port}"));
                }
            }
            log_writer.lock().unwrap().push(line);
        }
    });
    let addr = port_rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("no listening line; log: {:?}", log.lock().unwrap()));
    Running {
        child,
        http: addr.parse().expect("address in the listening line"),
        log,
    }
}
