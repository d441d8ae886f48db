//! OTLP/HTTP request bodies into OTLP messages: the content encoding (gzip, zstd, deflate) is
//! undone with a cap on the inflated size, then the body is read as protobuf or as OTLP/JSON
//! (simd-json, with `opentelemetry-proto`'s serde mapping of the OTLP/JSON rules: hex IDs,
//! camelCase keys, 64-bit integers as strings).
//!
//! Runs on the worker pool: an HTTP thread only checks the headers and collects the bytes.

use std::io::Read;

use serde::de::DeserializeOwned;

/// How the body is encoded (`Content-Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf` (or `application/protobuf`).
    Protobuf,
    /// `application/json`: OTLP/JSON.
    Json,
}

/// How the body is compressed (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    Identity,
    /// gzip (one or more members).
    Gzip,
    /// zstd (one or more frames).
    Zstd,
    /// zlib-wrapped deflate (`deflate`, as HTTP defines it).
    Deflate,
}

/// Why a body could not be decoded: the request is answered 400 (or 413 for a body that
/// inflates past the cap).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The compressed body inflates beyond the input's `buffer_max_size`.
    #[error("the body inflates beyond {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The compressed body is corrupt.
    #[error("the {codec} body cannot be decompressed: {source}")]
    Decompress {
        /// `gzip`, `zstd` or `deflate`.
        codec: &'static str,
        /// What the decoder said.
        #[source]
        source: std::io::Error,
    },
    /// The body is not a valid protobuf message of the endpoint's type.
    #[error("the body is not a valid protobuf {message}: {source}")]
    Protobuf {
        /// The message type expected.
        message: &'static str,
        /// What prost said.
        #[source]
        source: prost::DecodeError,
    },
    /// The body is not valid OTLP/JSON.
    #[error("the body is not valid OTLP/JSON: {0}")]
    Json(String),
}

impl DecodeError {
    /// A short machine-friendly label for counters (`reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Decompress { .. } => "decompress",
            DecodeError::Protobuf { .. } => "protobuf",
            DecodeError::Json(_) => "json",
        }
    }
}

impl Compression {
    /// The codec a `Content-Encoding` value names; `None` for one not supported.
    pub fn from_header(value: Option<&str>) -> Option<Compression> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Some(Compression::Identity),
            Some("gzip") | Some("x-gzip") => Some(Compression::Gzip),
            Some("zstd") => Some(Compression::Zstd),
            Some("deflate") => Some(Compression::Deflate),
            Some(_) => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Identity => "identity",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Deflate => "deflate",
        }
    }
}

/// The body with its content encoding undone, at most `limit` bytes.
pub fn inflate(body: &[u8], codec: Compression, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let failed = |source| DecodeError::Decompress {
        codec: codec.name(),
        source,
    };
    match codec {
        Compression::Identity => out.extend_from_slice(body),
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(body)
                .take(cap)
                .read_to_end(&mut out)
                .map_err(failed)?;
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(body)
                .map_err(failed)?
                .take(cap)
                .read_to_end(&mut out)
                .map_err(failed)?;
        }
        Compression::Deflate => {
            flate2::read::ZlibDecoder::new(body)
                .take(cap)
                .read_to_end(&mut out)
                .map_err(failed)?;
        }
    }
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes one OTLP request message of type `M` (named `message` in errors) from a body as it
/// arrived: inflated first (at most `limit` bytes), except that a plain protobuf body is
/// decoded where it lies, without a copy.
pub fn decode_body<M>(
    body: &[u8],
    compression: Compression,
    format: Format,
    limit: usize,
    message: &'static str,
) -> Result<M, DecodeError>
where
    M: prost::Message + Default + DeserializeOwned,
{
    match (compression, format) {
        (Compression::Identity, Format::Protobuf) => {
            M::decode(body).map_err(|source| DecodeError::Protobuf { message, source })
        }
        _ => decode(inflate(body, compression, limit)?, format, message),
    }
}

/// Decodes one OTLP request message of type `M` (named `message` in errors) from `body`.
pub fn decode<M>(mut body: Vec<u8>, format: Format, message: &'static str) -> Result<M, DecodeError>
where
    M: prost::Message + Default + DeserializeOwned,
{
    match format {
        Format::Protobuf => {
            M::decode(body.as_slice()).map_err(|source| DecodeError::Protobuf { message, source })
        }
        Format::Json => simd_json::serde::from_slice::<M>(&mut body)
            .map_err(|e| DecodeError::Json(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use std::io::Write;

    const SPEC_JSON: &str = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cart"}}]},
 "scopeLogs":[{"scope":{"name":"lib","version":"1.0"},"logRecords":[
  {"timeUnixNano":"1700000000123456789","observedTimeUnixNano":"1700000000200000000","severityNumber":9,
   "severityText":"INFO","body":{"stringValue":"hello"},"traceId":"5b8efff798038103d269b633813fc60c",
   "spanId":"eee19b7ec3c1b174","attributes":[{"key":"n","value":{"intValue":"42"}}],"flags":1}]}]}]}"#;

    #[test]
    fn otlp_json_and_protobuf_give_the_same_message() {
        let from_json: ExportLogsServiceRequest =
            decode(SPEC_JSON.as_bytes().to_vec(), Format::Json, "logs").expect("JSON");
        let record = &from_json.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(record.severity_number, 9);
        assert_eq!(record.trace_id[..2], [0x5b, 0x8e]);
        assert_eq!(record.span_id.len(), 8);
        assert_eq!(
            record.attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.value.clone()),
            Some(Value::IntValue(42))
        );
        let bytes = prost::Message::encode_to_vec(&from_json);
        let from_protobuf: ExportLogsServiceRequest =
            decode(bytes, Format::Protobuf, "logs").expect("protobuf");
        assert_eq!(from_protobuf, from_json);
    }

    #[test]
    fn every_content_encoding_inflates_and_the_cap_holds() {
        let body = SPEC_JSON.as_bytes();
        let gzip = {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(body).expect("gzip");
            enc.finish().expect("gzip")
        };
        let deflate = {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(body).expect("deflate");
            enc.finish().expect("deflate")
        };
        let zstd = zstd::encode_all(body, 1).expect("zstd");
        for (codec, data) in [
            (Compression::Gzip, gzip),
            (Compression::Deflate, deflate),
            (Compression::Zstd, zstd),
            (Compression::Identity, body.to_vec()),
        ] {
            assert_eq!(inflate(&data, codec, body.len()).expect("inflates"), body);
            assert!(matches!(
                inflate(&data, codec, body.len() - 1),
                Err(DecodeError::TooLarge { .. })
            ));
        }
        // A bomb: 64 MB of zeros in a few KB stops at the cap.
        let bomb = zstd::encode_all(&vec![0u8; 64 << 20][..], 19).expect("zstd");
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(
            inflate(&bomb, Compression::Zstd, 1 << 20),
            Err(DecodeError::TooLarge { limit }) if limit == 1 << 20
        ));
        assert!(matches!(
            inflate(b"not gzip", Compression::Gzip, 100),
            Err(DecodeError::Decompress { codec: "gzip", .. })
        ));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert!(matches!(
            decode::<ExportLogsServiceRequest>(
                b"{\"resourceLogs\":".to_vec(),
                Format::Json,
                "logs"
            ),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode::<ExportLogsServiceRequest>(vec![0x0a, 0xff], Format::Protobuf, "logs"),
            Err(DecodeError::Protobuf { .. })
        ));
        assert_eq!(
            Compression::from_header(Some(" GZIP ")),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::from_header(None), Some(Compression::Identity));
        assert_eq!(Compression::from_header(Some("br")), None);
    }
}
