//! `[INPUT] name http`: JSON records over HTTP, with the keys and defaults of Fluent Bit's
//! `http` input, plus `time_key`.

use super::document::Section;
use super::error::ConfigError;
use super::input::{common_key, unknown_key, INPUT_MAX_CONNECTIONS};
use super::listener::{HttpListener, ListenerKeys};
use super::opentelemetry::{body_size, response_code};
use super::values;

/// Settings of an `http` input.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpInput {
    /// `listen`.
    pub listen: String,
    /// `port`.
    pub port: u16,
    /// `tag`: the tag of every record, instead of the one the URL path gives.
    pub tag: Option<String>,
    /// `tag_key`: a record field whose string value becomes the record's tag.
    pub tag_key: Option<String>,
    /// `time_key`: a record field holding the record's time (seconds, fractional allowed, or
    /// an RFC 3339 text); records without it get the time of arrival.
    pub time_key: Option<String>,
    /// `buffer_max_size`: the largest request body, compressed and inflated.
    pub buffer_max_size: usize,
    /// `buffer_chunk_size`: the first allocation for a request body.
    pub buffer_chunk_size: usize,
    /// `successful_response_code`: 201 (Fluent Bit's default), 200 or 204.
    pub successful_response_code: u16,
    /// `mem_buf_limit`: the request bodies all connections may hold at once, being read.
    pub mem_buf_limit: usize,
    /// The listener's limits, timeouts, TLS and token.
    pub listener: HttpListener,
}

impl Default for HttpInput {
    fn default() -> Self {
        HttpInput {
            listen: "0.0.0.0".to_string(),
            port: 9880,
            tag: None,
            tag_key: None,
            time_key: None,
            buffer_max_size: 4_000_000,
            buffer_chunk_size: 512_000,
            successful_response_code: 201,
            mem_buf_limit: HTTP_MEM_BUF_LIMIT,
            listener: HttpListener::with_max_connections(INPUT_MAX_CONNECTIONS),
        }
    }
}

/// The default `mem_buf_limit` of the HTTP inputs: request bodies being read at once.
pub const HTTP_MEM_BUF_LIMIT: usize = 64 * 1024 * 1024;

/// Types one `[INPUT] name http` section.
pub(crate) fn http(section: &Section) -> Result<HttpInput, ConfigError> {
    let mut input = HttpInput::default();
    let mut listener_keys = ListenerKeys::default();
    for property in &section.properties {
        if listener_keys.http_key(property, "", &mut input.listener)? {
            continue;
        }
        if property.key == "mem_buf_limit" {
            input.mem_buf_limit = body_size(property)?;
            continue;
        }
        if common_key(property)? {
            continue;
        }
        match property.key.as_str() {
            "listen" => input.listen = property.parse(values::host)?,
            "port" => input.port = property.parse(values::unsigned)?,
            "tag" => input.tag = Some(property.parse(values::text)?),
            "tag_key" => input.tag_key = Some(property.parse(values::text)?),
            "time_key" => input.time_key = Some(property.parse(values::text)?),
            "buffer_max_size" => input.buffer_max_size = body_size(property)?,
            "buffer_chunk_size" => input.buffer_chunk_size = body_size(property)?,
            "successful_response_code" => {
                input.successful_response_code = property.parse(response_code)?
            }
            _ => return Err(unknown_key(property, "http")),
        }
    }
    input.listener.tls = listener_keys.finish(section)?;
    Ok(input)
}
