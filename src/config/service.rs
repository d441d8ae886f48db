//! The `[SERVICE]` section: the few Fluent Bit service settings that change what vivo-exporter
//! does, and the common ones it accepts so that existing Fluent Bit files still load.

use std::time::Duration;

use super::document::Section;
use super::error::ConfigError;
use super::values;

/// Fluent Bit service keys that are accepted for compatibility but change nothing here.
const IGNORED_KEYS: &[&str] = &[
    "http_server",
    "http_listen",
    "http_port",
    "hot_reload",
    "parsers_file",
    "plugins_file",
    "storage.path",
    "storage.sync",
    "storage.metrics",
    "storage.backlog.mem_limit",
    "health_check",
];

/// Process-wide settings, from the `[SERVICE]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// `flush`: how often inputs' buffered records are handed on, as Fluent Bit's flush interval.
    pub flush: Duration,
    /// `log_level`: how much vivo-exporter logs to stderr.
    pub log_level: log::LevelFilter,
    /// `grace`: how long shutdown waits for in-flight work before giving up.
    pub grace: Duration,
    /// `json.escape_unicode`: write non-ASCII text as `\uXXXX` escapes (modern Fluent Bit) rather
    /// than raw UTF-8; both are valid JSON, but the choice changes byte counts.
    pub json_escape_unicode: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            flush: Duration::from_secs(1),
            log_level: log::LevelFilter::Info,
            grace: Duration::from_secs(5),
            json_escape_unicode: true,
        }
    }
}

impl ServiceConfig {
    /// Applies one `[SERVICE]` section; several sections apply in order, later keys winning.
    pub(crate) fn apply(&mut self, section: &Section) -> Result<(), ConfigError> {
        for property in &section.properties {
            match property.key.as_str() {
                "flush" => {
                    let flush = property.parse(values::seconds)?;
                    if flush.is_zero() {
                        return Err(property.error("flush must be greater than 0"));
                    }
                    self.flush = flush;
                }
                "log_level" => self.log_level = property.parse(values::log_level)?,
                "grace" => self.grace = property.parse(values::seconds)?,
                "json.escape_unicode" => {
                    self.json_escape_unicode = property.parse(values::boolean)?
                }
                "json.convert_nan_to_null" => {
                    if !property.parse(values::boolean)? {
                        property.ignore("NaN and infinities are always written as null");
                    }
                }
                "daemon" => {
                    if property.parse(values::boolean)? {
                        return Err(property.error(
                            "daemon mode is not supported, run under a supervisor (systemd, a \
                             container runtime) instead",
                        ));
                    }
                }
                "log_file" => {
                    return Err(property
                        .error("log_file is not supported: vivo-exporter logs to stderr only"))
                }
                key if IGNORED_KEYS.contains(&key) => {
                    property.ignore("a Fluent Bit engine setting")
                }
                key => {
                    return Err(property.error(format!(
                        "unknown service key '{key}' (vivo-exporter understands flush, \
                         log_level, grace and json.escape_unicode)"
                    )))
                }
            }
        }
        Ok(())
    }
}
