//! nginx (the system package, installed by `.ci/run`) as a reverse proxy in front of the
//! service: in a temp prefix of its own (config, logs, temp paths, pid file), on a loopback port
//! picked by binding port 0 first, killed and its folder removed when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx.
pub struct Nginx {
    child: Child,
    /// Its prefix: `access.log` and `error.log` are here.
    pub dir: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Nginx {
    /// Starts nginx with `name` in its folder's name and, inside `http { }` after the log and
    /// temp paths, what `http` makes of the prefix and the listen address (a `server` block,
    /// a `proxy_cache_path`); waits until it accepts connections.
    pub fn start(name: &str, http: impl FnOnce(&str, SocketAddr) -> String) -> Nginx {
        assert!(
            std::path::Path::new(NGINX).exists(),
            "{NGINX} is missing: apt-get install nginx (.ci/run does)"
        );
        let dir = std::env::temp_dir().join(format!("vivo-{name}-nginx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create nginx's temp prefix");
        let addr: SocketAddr = ([127, 0, 0, 1], super::binary::free_port()).into();
        let d = dir.display().to_string();
        let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map(|kind| format!("    {kind}_temp_path {d}/{kind}_temp;\n"))
            .concat();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
             http {{\n    access_log {d}/access.log;\n{temp_paths}{}\n}}\n",
            http(&d, addr)
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let mut nginx = Nginx { child, dir, addr };
        super::wait_for(Duration::from_secs(10), || {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!(
                    "nginx exited ({status}) before listening: {}",
                    nginx.error_log()
                );
            }
            TcpStream::connect(addr).ok()
        });
        nginx
    }

    /// What nginx logged about itself.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
