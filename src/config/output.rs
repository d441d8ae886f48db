//! `[OUTPUT]` sections: the `vivo_exporter` output, the only output vivo-exporter runs.

use super::document::Section;
use super::error::ConfigError;
use super::listener::{HttpListener, ListenerKeys};
use super::values;

/// Settings of one `vivo_exporter` output: which tags it takes and where it serves its streams.
#[derive(Debug, Clone, PartialEq)]
pub struct VivoOutputConfig {
    /// The Fluent Bit instance name, `vivo_exporter.N`, for logs and error messages.
    pub instance: String,
    /// `match`: the wildcard tag pattern of the batches this output takes.
    pub match_pattern: Option<String>,
    /// `match_regex`: a regular expression on tags, instead of `match`.
    pub match_regex: Option<String>,
    /// `empty_stream_on_read`: delete what a read served from the stream.
    pub empty_stream_on_read: bool,
    /// `stream_queue_size`: the byte budget of each of the logs, metrics and traces streams.
    pub stream_queue_size: u64,
    /// `http_cors_allow_origin`: if set, sent as `Access-Control-Allow-Origin` with CORS headers.
    pub http_cors_allow_origin: Option<String>,
    /// `workers`: how many threads render this output's batches.
    pub workers: usize,
    /// `http_server.workers` (era C's key, also `http_workers`): threads serving HTTP reads;
    /// 0 (the default) means one per CPU core.
    pub http_workers: usize,
    /// `host`: the address the HTTP server listens on.
    pub host: String,
    /// `port`: the TCP port the HTTP server listens on.
    pub port: u16,
    /// `max_entry_size`: the most bytes of JSON one entry may render to; `None` (the default)
    /// is `stream_queue_size`. A batch past it is refused while it renders.
    pub max_entry_size: Option<u64>,
    /// `max_entry_records`: the most records one batch (one entry) may hold.
    pub max_entry_records: u64,
    /// `http_cache_max_age`: seconds HTTP caches may keep a closed range (0: `no-store`).
    pub http_cache_max_age: u64,
    /// `http_compression`: compress answers for clients that ask (`Accept-Encoding`).
    pub http_compression: bool,
    /// `http_max_wait`: the longest a long-poll (`wait=`) waits.
    pub http_max_wait: std::time::Duration,
    /// `http_max_entries`: the most entries one read answers with (0: no cap).
    pub http_max_entries: u64,
    /// The read API listener's limits, timeouts, TLS and token (`http_max_connections`,
    /// `http_idle_timeout`, `http_request_timeout`, `http_send_timeout`, `tls*`,
    /// `http_auth_token`).
    pub listener: HttpListener,
}

impl VivoOutputConfig {
    /// The largest entry this output takes: `max_entry_size`, or the stream budget.
    pub fn entry_limit(&self) -> u64 {
        self.max_entry_size.unwrap_or(self.stream_queue_size)
    }
}

impl VivoOutputConfig {
    /// The defaults of the output instance called `instance`.
    fn new(instance: String) -> Self {
        VivoOutputConfig {
            instance,
            match_pattern: None,
            match_regex: None,
            empty_stream_on_read: false,
            stream_queue_size: 20_000_000,
            http_cors_allow_origin: None,
            workers: 1,
            http_workers: 0,
            host: "0.0.0.0".to_string(),
            port: 2025,
            max_entry_size: None,
            max_entry_records: 1_000_000,
            http_max_wait: std::time::Duration::from_secs(60),
            http_max_entries: DEFAULT_MAX_ENTRIES,
            http_cache_max_age: 0,
            http_compression: true,
            listener: HttpListener::with_max_connections(READ_API_MAX_CONNECTIONS),
        }
    }
}

/// The default of `http_max_entries`: far more than a 20 MB stream of Fluent Bit's chunks
/// holds, while a stream of tiny entries is still read in pages of bounded size.
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;

/// The read API's default connection limit: room for many live followers (each one
/// connection), below the descriptor limit the service raises itself to.
pub const READ_API_MAX_CONNECTIONS: usize = 16_384;

/// Types the `[OUTPUT]` section that is the `index`-th output.
pub(crate) fn build(section: &Section, index: usize) -> Result<VivoOutputConfig, ConfigError> {
    let Some(name) = section.properties.iter().rev().find(|p| p.key == "name") else {
        return Err(section.error("output has no 'name' (expected vivo_exporter)"));
    };
    let plugin = name.value.to_ascii_lowercase();
    if plugin != "vivo_exporter" {
        return Err(name.error(format!(
            "unknown output plugin '{plugin}': vivo-exporter supports vivo_exporter"
        )));
    }
    let mut output = VivoOutputConfig::new(format!("vivo_exporter.{index}"));
    let mut listener_keys = ListenerKeys::default();
    for property in &section.properties {
        if listener_keys.http_key(property, "http_", &mut output.listener)? {
            continue;
        }
        match property.key.as_str() {
            "name" | "alias" => {}
            "log_level" => {
                property.parse(values::log_level)?;
                property.ignore("vivo-exporter has one log level, set in [SERVICE]");
            }
            "retry_limit" => property.ignore("the output never retries"),
            "match" => output.match_pattern = Some(property.parse(values::text)?),
            "match_regex" => output.match_regex = Some(property.parse(values::regex)?),
            "empty_stream_on_read" => {
                output.empty_stream_on_read = property.parse(values::boolean)?
            }
            "stream_queue_size" => output.stream_queue_size = property.parse(values::size)?,
            "http_cors_allow_origin" => {
                output.http_cors_allow_origin = Some(property.parse(values::header_value)?)
            }
            "workers" => output.workers = property.parse(values::unsigned_in(1, 256))?,
            "http_server.workers" | "http_workers" => {
                output.http_workers = property.parse(values::unsigned_in(0, 256))?
            }
            "host" => output.host = property.parse(values::host)?,
            "port" => output.port = property.parse(values::unsigned)?,
            "http_cache_max_age" => output.http_cache_max_age = property.parse(values::unsigned)?,
            "http_compression" => output.http_compression = property.parse(values::boolean)?,
            "http_max_wait" => output.http_max_wait = property.parse(values::seconds)?,
            "http_max_entries" => output.http_max_entries = property.parse(values::unsigned)?,
            "max_entry_size" => output.max_entry_size = Some(property.parse(values::size)?),
            "max_entry_records" => {
                output.max_entry_records = property.parse(values::unsigned_in(1, u64::MAX))?
            }
            key => {
                return Err(property.error(format!(
                    "unknown key '{key}' for output plugin 'vivo_exporter'"
                )))
            }
        }
        if output.match_pattern.is_some() && output.match_regex.is_some() {
            return Err(property.error("give either 'match' or 'match_regex', not both"));
        }
    }
    output.listener.tls = listener_keys.finish(section)?;
    if output.match_pattern.is_none() && output.match_regex.is_none() {
        log::warn!(
            "{} line {}: output {} has no 'match' or 'match_regex', so it receives no data",
            section.file,
            section.line,
            output.instance
        );
    }
    Ok(output)
}
