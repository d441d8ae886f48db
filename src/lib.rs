//! vivo-exporter: a standalone, faster drop-in replacement for Fluent Bit's `vivo_exporter` output.
//!
//! Producers hand batches to ingest listeners; a worker pool renders each batch's JSON lines once;
//! a publisher appends them to per-signal streams whose immutable snapshots HTTP readers serve
//! without locks or copies. `main.rs` only wires the CLI to [`service::Service`].

pub mod api;
pub mod config;
pub mod http;
pub mod ingest;
pub mod log_limit;
pub mod logging;
pub mod output;
pub mod pipeline;
pub mod render;
pub mod service;
pub mod signal;
pub mod stream;
pub mod tag_match;
pub mod telemetry;
pub mod tls;
