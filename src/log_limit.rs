//! Rate-limited log lines for problems that can repeat at the rate clients misbehave (bad
//! connections, failed accepts): the first line of a kind is written at once, the following
//! ones within the interval are only counted, and the next line after the interval says how
//! many were left out. A flood of 10,000 bad connections is a few lines, not 10,000.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after a line of one kind the next one waits.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// The log limiter of one component.
#[derive(Debug, Default)]
pub struct LogLimit {
    /// Per kind: when its last line was written, and how many were left out since.
    kinds: Mutex<HashMap<String, (Instant, u64)>>,
}

impl LogLimit {
    /// Writes `line` at `level` unless a line of `kind` was written less than [`INTERVAL`] ago;
    /// the line written after a quiet spell says how many were left out.
    pub fn log(&self, level: log::Level, kind: &str, line: impl FnOnce() -> String) {
        if level > log::max_level() {
            return;
        }
        let now = Instant::now();
        let suppressed = {
            let Ok(mut kinds) = self.kinds.lock() else {
                return;
            };
            match kinds.get_mut(kind) {
                Some((last, skipped)) if now.duration_since(*last) < INTERVAL => {
                    *skipped += 1;
                    return;
                }
                Some((last, skipped)) => {
                    *last = now;
                    std::mem::take(skipped)
                }
                None => {
                    kinds.insert(kind.to_string(), (now, 0));
                    0
                }
            }
        };
        match suppressed {
            0 => log::log!(level, "{}", line()),
            n => log::log!(
                level,
                "{} (and {n} more like it in the last {}s)",
                line(),
                INTERVAL.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_interval_are_counted_not_written() {
        log::set_max_level(log::LevelFilter::Trace);
        let limit = LogLimit::default();
        let mut written = Vec::new();
        for _ in 0..1000 {
            limit.log(log::Level::Warn, "bad", || {
                written.push(());
                "bad connection".into()
            });
        }
        assert_eq!(written.len(), 1);
        let kinds = limit.kinds.lock().expect("lock");
        assert_eq!(kinds.get("bad").map(|k| k.1), Some(999));
        drop(kinds);
        // Another kind has its own allowance.
        limit.log(log::Level::Warn, "other", || {
            written.push(());
            "other".into()
        });
        assert_eq!(written.len(), 2);
    }
}
