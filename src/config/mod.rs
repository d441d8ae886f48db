//! Loads vivo-exporter's configuration: a Fluent Bit configuration file, classic or YAML, limited
//! to what vivo-exporter runs (`[SERVICE]`, the `dummy`, `forward`, `opentelemetry` and `http`
//! inputs and the `vivo_exporter` output), so that an existing Fluent Bit file keeps working
//! unchanged.
//!
//! Both formats are read into one located intermediate form (`document`), which is then typed and
//! validated (`validate`), so a bad value is reported with its file, line and key either way.

mod classic;
mod document;
mod error;
mod http_input;
mod input;
mod listener;
mod loader;
mod opentelemetry;
mod output;
mod service;
mod validate;
pub mod values;
mod yaml;

use std::path::Path;

pub use error::ConfigError;
pub use http_input::HttpInput;
pub use input::{DummyInput, ForwardInput, InputConfig};
pub use listener::{HttpListener, Secret};
pub use opentelemetry::OpenTelemetryInput;
pub use output::VivoOutputConfig;
pub use service::ServiceConfig;

/// The configuration used when no file is given: Forward in on 24224, OTLP on 4318 (HTTP, and
/// gRPC too) and 4317 (gRPC), everything served on 2025.
/// Kept as classic text so that it goes through (and is tested by) the same parser as user files.
pub const DEFAULT_CONFIG: &str = "\
[SERVICE]
    flush     1
    log_level info

[INPUT]
    name   forward
    listen 0.0.0.0
    port   24224

[INPUT]
    name   opentelemetry
    listen 0.0.0.0
    port   4318

[OUTPUT]
    name   vivo_exporter
    match  *
    host   0.0.0.0
    port   2025
";

/// The origin recorded for [`Config::embedded_default`].
const EMBEDDED_ORIGIN: &str = "embedded default configuration";

/// The two Fluent Bit configuration syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// The classic `[SECTION]` / `key value` format.
    Classic,
    /// The YAML format (`service:`, `pipeline:`).
    Yaml,
}

impl ConfigFormat {
    /// Picks the format as Fluent Bit does: `.yaml` / `.yml` files are YAML, anything else classic.
    pub fn from_path(path: &Path) -> ConfigFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") => {
                ConfigFormat::Yaml
            }
            _ => ConfigFormat::Classic,
        }
    }
}

/// The whole, validated configuration of one vivo-exporter process.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The `[SERVICE]` settings.
    pub service: ServiceConfig,
    /// The inputs, in file order.
    pub inputs: Vec<InputConfig>,
    /// The `vivo_exporter` outputs, in file order (at least one).
    pub outputs: Vec<VivoOutputConfig>,
    /// Where the configuration came from (the file path, or "embedded default configuration"),
    /// for log lines.
    pub origin: String,
}

impl Config {
    /// Loads the configuration file at `path` (with its includes), in the format its extension
    /// names.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut doc = document::Document::default();
        loader::parse_file(path, &mut doc)?;
        doc.expand_variables();
        validate::build(&doc, &path.display().to_string())
    }

    /// Parses configuration `text` of `format`; `origin` names it in errors, and includes are
    /// resolved relative to its folder.
    pub fn parse(text: &str, format: ConfigFormat, origin: &str) -> Result<Config, ConfigError> {
        let mut doc = document::Document::default();
        loader::parse_text(text, format, origin, &mut doc, 0)?;
        doc.expand_variables();
        validate::build(&doc, origin)
    }

    /// The configuration of [`DEFAULT_CONFIG`], for running without a file.
    pub fn embedded_default() -> Config {
        Config::parse(DEFAULT_CONFIG, ConfigFormat::Classic, EMBEDDED_ORIGIN)
            .expect("the embedded default configuration is valid (checked by its unit test)")
    }
}

#[cfg(test)]
mod tests;
