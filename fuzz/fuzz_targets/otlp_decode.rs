//! An OTLP/HTTP request body through `otlp::decode::decode_body` and the renderers
//! `render_logs`, `render_metrics` and `render_traces`, as a worker handles it.
//!
//! Input: one selector byte, then the body. Selector bits 0-1: the signal (0 logs, 1 metrics,
//! 2 traces, 3 logs); bit 2: OTLP/JSON instead of protobuf; bits 3-4: the content encoding
//! (identity, gzip, zstd, deflate); bit 5: `logs_body_key` set.
//!
//! Checks: no panic; what renders is valid JSON lines, as many as reported, the same values with
//! `escape_unicode` on and off (ASCII-only when on); the message re-encoded as protobuf and
//! decoded again renders byte for byte the same (JSON and protobuf give the same lines, §5.3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use vivo_exporter::ingest::otlp::decode::{decode_body, Compression, Format};
use vivo_exporter::ingest::otlp::logs::{render_logs, LogShape};
use vivo_exporter::ingest::otlp::metrics::render_metrics;
use vivo_exporter::ingest::otlp::traces::render_traces;
use vivo_exporter::render::RenderLimits;
use vivo_fuzz::same_values;

/// `buffer_max_size` for the fuzz runs: what a body may inflate to.
const LIMIT: usize = 1 << 20;
const LIMITS: RenderLimits = RenderLimits {
    max_entry_bytes: 4 << 20,
    max_records: 20_000,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = if selector & 4 != 0 {
        Format::Json
    } else {
        Format::Protobuf
    };
    let compression = match (selector >> 3) & 3 {
        0 => Compression::Identity,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        _ => Compression::Deflate,
    };
    let body_key = (selector & 32 != 0).then_some("log");
    match selector & 3 {
        1 => check::<ExportMetricsServiceRequest>(body, compression, format, |m, escape| {
            let mut out = Vec::new();
            let rendered = render_metrics(m, escape, &mut out);
            Some((rendered.contexts, out))
        }),
        2 => check::<ExportTraceServiceRequest>(body, compression, format, |t, escape| {
            let mut out = Vec::new();
            let rendered = render_traces(t, escape, &mut out);
            Some((rendered.contexts, out))
        }),
        _ => check::<ExportLogsServiceRequest>(body, compression, format, |l, escape| {
            let shape = LogShape {
                tag: "v1_logs",
                metadata_key: "otlp",
                body_key,
                escape_unicode: escape,
                now_ns: 1_700_000_000_000_000_000,
                limits: LIMITS,
            };
            let mut out = Vec::new();
            let lines = render_logs(l, shape, &mut out).ok()?;
            Some((usize::try_from(lines).unwrap_or(usize::MAX), out))
        }),
    }
});

/// Decodes `body` as an `M` and checks what `render` (`None`: over the limits) makes of it.
fn check<M>(
    body: &[u8],
    compression: Compression,
    format: Format,
    render: impl Fn(&M, bool) -> Option<(usize, Vec<u8>)>,
) where
    M: Message + Default + serde::de::DeserializeOwned,
{
    let Ok(request) = decode_body::<M>(body, compression, format, LIMIT, "request") else {
        return;
    };
    let escaped = render(&request, true);
    let raw = render(&request, false);
    let (Some((lines, escaped)), Some((raw_lines, raw))) = (escaped, raw) else {
        return;
    };
    assert_eq!(lines, raw_lines, "line counts differ with escape_unicode");
    let values = same_values(&escaped, &raw, false);
    assert_eq!(
        values, lines,
        "the renderer reported {lines} lines but wrote {values}"
    );

    let again = M::decode(request.encode_to_vec().as_slice())
        .expect("a decoded request re-encodes to valid protobuf");
    let (_, again) = render(&again, true).expect("the re-decoded request renders");
    assert!(
        again == escaped,
        "the request renders differently after a protobuf round trip:\n{}\n{}",
        vivo_fuzz::show(&escaped),
        vivo_fuzz::show(&again)
    );
}
