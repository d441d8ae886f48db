//! Ingest: listeners and generators that turn producers' data into batches for the pipeline.

pub mod budget;
pub mod dummy;
pub mod forward;
pub mod http_json;
pub mod otlp;
