//! The OpenTelemetry input (OTLP over HTTP and gRPC), configured as Fluent Bit's
//! `opentelemetry` input: each request becomes one stream entry per tag, rendered in the shapes
//! Fluent Bit's `opentelemetry` input and `vivo_exporter` give (`shared/spec/otlp-mapping.md`),
//! with the recommended fixes of its §5.
//!
//! - [`json`]: writing JSON from OTLP values, with the render module's text rules;
//! - [`logs`]: log requests as era-A log lines;
//! - [`metrics`]: metrics requests as cmetrics JSON contexts;
//! - [`traces`]: trace requests as a ctraces JSON context.

pub mod batch;
pub mod decode;
pub mod grpc;
pub mod http;
pub mod json;
pub mod listener;
pub mod logs;
pub mod metrics;
pub mod traces;
