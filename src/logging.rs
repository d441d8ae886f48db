//! Log lines in Fluent Bit's shape (`[2026/11/25 18:42:28] [ info] message`, on stderr), held
//! back until the configuration has said how much to log.
//!
//! The configuration is read before its `log_level` is known, and reading it can log (an
//! `@INCLUDE` that matches nothing, an ignored key). Those lines are kept in memory and written
//! by [`release`] once the level is set, if the level lets them through: `log_level off` in the
//! file silences them as it silences everything else.

use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The logger: env_logger's formatting, with a buffer in front until [`release`].
struct HeldBack {
    inner: env_logger::Logger,
    /// `Some` until released: the records logged so far, as (level, target, text).
    held: Mutex<Option<Vec<(Level, String, String)>>>,
}

impl Log for HeldBack {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.matches(record) {
            return;
        }
        if let Ok(mut held) = self.held.lock() {
            if let Some(held) = held.as_mut() {
                held.push((
                    record.level(),
                    record.target().to_string(),
                    record.args().to_string(),
                ));
                return;
            }
        }
        self.inner.log(record);
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

static LOGGER: std::sync::OnceLock<HeldBack> = std::sync::OnceLock::new();

/// Installs the logger, holding every line back until [`release`]. Call once, first thing.
pub fn init() {
    let inner = env_logger::Builder::new()
        .filter_level(LevelFilter::Trace)
        // actix's own start/stop chatter ("starting 2 workers") says nothing the service's
        // lines do not; its warnings and errors still show.
        .filter_module("actix_server", LevelFilter::Warn)
        .filter_module("actix_http", LevelFilter::Warn)
        .format(|out, record| {
            use std::io::Write;
            let level = match record.level() {
                Level::Error => "error",
                Level::Warn => " warn",
                Level::Info => " info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let stamp = now.replace('-', "/").replace('T', " ").replace('Z', "");
            writeln!(out, "[{stamp}] [{level}] {}", record.args())
        })
        .build();
    let logger = LOGGER.get_or_init(|| HeldBack {
        inner,
        held: Mutex::new(Some(Vec::new())),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(LevelFilter::Trace);
    }
}

/// Sets the level for the rest of the run and writes the held-back lines it lets through.
pub fn release(level: LevelFilter) {
    log::set_max_level(level);
    let Some(logger) = LOGGER.get() else { return };
    let held = logger.held.lock().ok().and_then(|mut held| held.take());
    for (line_level, target, text) in held.unwrap_or_default() {
        if line_level <= level {
            logger.inner.log(
                &Record::builder()
                    .level(line_level)
                    .target(&target)
                    .args(format_args!("{text}"))
                    .build(),
            );
        }
    }
}
