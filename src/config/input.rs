//! `[INPUT]` sections: the Fluent Bit inputs vivo-exporter runs: `dummy`, `forward`,
//! `opentelemetry` (its own module) and `http` (its own module).

use std::path::PathBuf;

use super::document::{Property, Section};
use super::error::ConfigError;
use super::http_input::{http, HttpInput};
use super::opentelemetry::{opentelemetry, OpenTelemetryInput};
use super::values;

/// One configured input, by plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum InputConfig {
    /// Fluent Bit's `dummy`: generates a fixed record, for demos and tests.
    Dummy(DummyInput),
    /// Fluent Bit's `forward`: receives the Forward protocol from Fluent Bit/Fluentd senders.
    Forward(ForwardInput),
    /// Fluent Bit's `opentelemetry`: OTLP over HTTP and gRPC from OpenTelemetry SDKs and
    /// Collectors.
    OpenTelemetry(OpenTelemetryInput),
    /// Fluent Bit's `http`: JSON records posted by scripts, curl and Fluent Bit's `http` output.
    Http(HttpInput),
}

/// Settings of a `dummy` input, with Fluent Bit's defaults and semantics.
#[derive(Debug, Clone, PartialEq)]
pub struct DummyInput {
    /// The tag of the generated records; defaults to the instance name `dummy.N`.
    pub tag: String,
    /// `dummy`: the JSON object generated as each record (validated at load).
    pub dummy: String,
    /// `metadata`: the JSON object generated as each record's metadata (validated at load).
    pub metadata: String,
    /// `rate`: events per second when no interval is set.
    pub rate: u32,
    /// `interval_sec`: with `interval_nsec`, if either is non-zero, one event per that interval
    /// replaces `rate`.
    pub interval_sec: u64,
    /// `interval_nsec`: the nanosecond part of the interval (see `interval_sec`).
    pub interval_nsec: u64,
    /// `samples`: stop after this many events; `None` (key absent or 0) generates forever.
    pub samples: Option<u64>,
    /// `copies`: records generated per tick.
    pub copies: u32,
    /// `start_time_sec`: the seconds the event times start from (they advance with the clock);
    /// `None` (absent or -1) uses the clock.
    pub start_time_sec: Option<i64>,
    /// `start_time_nsec`: the nanoseconds the event times start from; `None` (absent or -1)
    /// uses the clock.
    pub start_time_nsec: Option<i64>,
    /// `fixed_timestamp`: reuse the first event's time for every event.
    pub fixed_timestamp: bool,
    /// `flush_on_startup`: generate an event at start and flush it at once, instead of the first
    /// event after one period.
    pub flush_on_startup: bool,
}

impl Default for DummyInput {
    fn default() -> Self {
        DummyInput {
            tag: "dummy.0".to_string(),
            dummy: r#"{"message":"dummy"}"#.to_string(),
            metadata: "{}".to_string(),
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
}

/// Settings of a `forward` input, with Fluent Bit's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardInput {
    /// `listen`: the address to listen on.
    pub listen: String,
    /// `port`: the TCP port to listen on.
    pub port: u16,
    /// `unix_path`: listen on this Unix socket instead of TCP.
    pub unix_path: Option<PathBuf>,
    /// `unix_perm`: the permission mode of the Unix socket (octal, like `0644`).
    pub unix_perm: Option<u32>,
    /// `tag`: replaces the tag of every received message.
    pub tag: Option<String>,
    /// `tag_prefix`: prepended to the tag of every received message.
    pub tag_prefix: Option<String>,
    /// `buffer_chunk_size`: the connection read buffer's initial and growth size in bytes.
    pub buffer_chunk_size: usize,
    /// `buffer_max_size`: the largest message a connection may send, in bytes.
    pub buffer_max_size: usize,
    /// `shared_key`: enables the Forward secure handshake with this key.
    pub shared_key: Option<String>,
    /// `empty_shared_key`: enables the secure handshake with an empty key.
    pub empty_shared_key: bool,
    /// `self_hostname`: the host name sent in the secure handshake.
    pub self_hostname: String,
    /// `security.users`: (user, password) pairs required by the secure handshake.
    pub security_users: Vec<(String, String)>,
    /// `max_connections`: connections served at once; more are closed as they arrive.
    pub max_connections: usize,
    /// `mem_buf_limit`: bytes of partially received frames held across all connections;
    /// a connection whose frame would pass it is closed.
    pub mem_buf_limit: usize,
    /// `idle_timeout`: a connection that sends nothing for this long is closed.
    pub idle_timeout: std::time::Duration,
    /// `frame_timeout`: a frame that has begun must be complete within this long (and a TLS
    /// handshake too).
    pub frame_timeout: std::time::Duration,
    /// TLS (`tls on`, `tls.crt_file`, `tls.key_file`, `tls.ca_file`), as Fluent Bit's forward
    /// output with `tls on` speaks it.
    pub tls: Option<crate::tls::TlsServer>,
}

impl Default for ForwardInput {
    fn default() -> Self {
        ForwardInput {
            listen: "0.0.0.0".to_string(),
            port: 24224,
            unix_path: None,
            unix_perm: None,
            tag: None,
            tag_prefix: None,
            buffer_chunk_size: 1_024_000,
            buffer_max_size: 6_144_000,
            shared_key: None,
            empty_shared_key: false,
            self_hostname: "localhost".to_string(),
            security_users: Vec::new(),
            max_connections: INPUT_MAX_CONNECTIONS,
            mem_buf_limit: 256_000_000,
            idle_timeout: std::time::Duration::from_secs(300),
            frame_timeout: std::time::Duration::from_secs(30),
            tls: None,
        }
    }
}

/// The default connection limit of every input's listener.
pub const INPUT_MAX_CONNECTIONS: usize = 4096;

/// Counts instances per plugin, as Fluent Bit names them (`dummy.0`, `dummy.1`, ...).
#[derive(Default)]
pub(crate) struct InputBuilder {
    dummies: usize,
}

impl InputBuilder {
    /// Types one `[INPUT]` section.
    pub(crate) fn build(&mut self, section: &Section) -> Result<InputConfig, ConfigError> {
        let Some(name) = section.properties.iter().rev().find(|p| p.key == "name") else {
            return Err(section
                .error("input has no 'name' (expected dummy, forward, opentelemetry or http)"));
        };
        match name.value.to_ascii_lowercase().as_str() {
            "dummy" => {
                let instance = format!("dummy.{}", self.dummies);
                self.dummies += 1;
                dummy(section, instance).map(InputConfig::Dummy)
            }
            "forward" => forward(section).map(InputConfig::Forward),
            "opentelemetry" => opentelemetry(section).map(InputConfig::OpenTelemetry),
            "http" => http(section).map(InputConfig::Http),
            other => Err(name.error(format!(
                "unknown input plugin '{other}': vivo-exporter supports dummy, forward, \
                 opentelemetry, http"
            ))),
        }
    }
}

/// Handles the keys Fluent Bit accepts on every input; returns whether `property` was one.
pub(crate) fn common_key(property: &Property) -> Result<bool, ConfigError> {
    match property.key.as_str() {
        "name" | "alias" => {}
        "log_level" => {
            property.parse(values::log_level)?;
            property.ignore("vivo-exporter has one log level, set in [SERVICE]");
        }
        "mem_buf_limit" => {
            property.parse(values::size)?;
            property.ignore("inputs are not paused on memory use");
        }
        "threaded" => {
            property.parse(values::boolean)?;
            property.ignore("inputs always run on their own tasks");
        }
        "storage.type" => property.ignore("buffering is always in memory"),
        _ => return Ok(false),
    }
    Ok(true)
}

pub(crate) fn unknown_key(property: &Property, plugin: &str) -> ConfigError {
    property.error(format!(
        "unknown key '{}' for input plugin '{plugin}'",
        property.key
    ))
}

/// Fluent Bit's `-1 = unset` start time.
fn start_time(text: &str) -> Result<Option<i64>, String> {
    match values::signed(text)? {
        -1 => Ok(None),
        value if value >= 0 => Ok(Some(value)),
        value => Err(format!(
            "{value} is out of range (expected -1 for unset, or 0 or more)"
        )),
    }
}

fn dummy(section: &Section, instance: String) -> Result<DummyInput, ConfigError> {
    let mut input = DummyInput {
        tag: instance,
        ..DummyInput::default()
    };
    for property in &section.properties {
        if common_key(property)? {
            continue;
        }
        match property.key.as_str() {
            "tag" => input.tag = property.parse(values::text)?,
            "dummy" => input.dummy = property.parse(values::json_object)?,
            "metadata" => input.metadata = property.parse(values::json_object)?,
            "rate" => input.rate = property.parse(values::unsigned_in(1, u32::MAX.into()))?,
            "interval_sec" => input.interval_sec = property.parse(values::unsigned)?,
            "interval_nsec" => input.interval_nsec = property.parse(values::unsigned)?,
            "samples" => {
                let samples: u64 = property.parse(values::unsigned)?;
                input.samples = (samples > 0).then_some(samples);
            }
            "copies" => input.copies = property.parse(values::unsigned_in(1, u32::MAX.into()))?,
            "start_time_sec" => input.start_time_sec = property.parse(start_time)?,
            "start_time_nsec" => input.start_time_nsec = property.parse(start_time)?,
            "fixed_timestamp" => input.fixed_timestamp = property.parse(values::boolean)?,
            "flush_on_startup" => input.flush_on_startup = property.parse(values::boolean)?,
            _ => return Err(unknown_key(property, "dummy")),
        }
    }
    Ok(input)
}

/// Splits a `security.users` value, `USER PASSWORD`.
fn user(text: &str) -> Result<(String, String), String> {
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(user), Some(password), None) => Ok((user.to_string(), password.to_string())),
        _ => Err(format!("expected 'USER PASSWORD', got '{text}'")),
    }
}

fn forward(section: &Section) -> Result<ForwardInput, ConfigError> {
    let mut input = ForwardInput::default();
    let mut last_size_key = None;
    let mut listener_keys = super::listener::ListenerKeys::default();
    for property in &section.properties {
        if listener_keys.tls_key(property)? {
            continue;
        }
        // Fluent Bit's memory limit of an input: here, what its partial frames may hold.
        if property.key == "mem_buf_limit" {
            input.mem_buf_limit = super::opentelemetry::body_size(property)?;
            continue;
        }
        if common_key(property)? {
            continue;
        }
        match property.key.as_str() {
            "listen" => input.listen = property.parse(values::host)?,
            "port" => input.port = property.parse(values::unsigned)?,
            "unix_path" => input.unix_path = Some(property.parse(values::text)?.into()),
            "unix_perm" => input.unix_perm = Some(property.parse(values::octal_mode)?),
            "tag" => input.tag = Some(property.parse(values::text)?),
            "tag_prefix" => input.tag_prefix = Some(property.parse(values::text)?),
            "buffer_chunk_size" | "buffer_max_size" => {
                let size = property.parse(values::size).and_then(|n| {
                    usize::try_from(n).map_err(|_| property.error("size too large"))
                })?;
                if size == 0 {
                    return Err(property.error("the size must be greater than 0"));
                }
                if property.key == "buffer_chunk_size" {
                    input.buffer_chunk_size = size;
                } else {
                    input.buffer_max_size = size;
                }
                last_size_key = Some(property);
            }
            "shared_key" => input.shared_key = Some(property.value.clone()),
            "empty_shared_key" => input.empty_shared_key = property.parse(values::boolean)?,
            "self_hostname" => input.self_hostname = property.parse(values::text)?,
            "security.users" => input.security_users.push(property.parse(user)?),
            "max_connections" => {
                input.max_connections = property.parse(values::unsigned_in(1, 1_000_000))?
            }
            "idle_timeout" => input.idle_timeout = property.parse(values::seconds)?,
            "frame_timeout" => input.frame_timeout = property.parse(values::seconds)?,
            _ => return Err(unknown_key(property, "forward")),
        }
    }
    input.tls = listener_keys.finish(section)?;
    // Only a given size can break the rule (the defaults keep it); blame the last one given.
    if let Some(property) = last_size_key {
        if input.buffer_max_size < input.buffer_chunk_size {
            return Err(property.error(format!(
                "buffer_max_size ({}) must be at least buffer_chunk_size ({})",
                input.buffer_max_size, input.buffer_chunk_size
            )));
        }
    }
    Ok(input)
}
