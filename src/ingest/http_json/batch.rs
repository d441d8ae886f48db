//! One HTTP JSON request as a pipeline batch: inflated, parsed (simd-json) and rendered as era-A
//! log lines on a worker thread, one entry per tag.

use bytes::Bytes;
use simd_json::prelude::*;
use simd_json::BorrowedValue;

use crate::ingest::otlp::decode::{inflate, Compression};
use crate::ingest::otlp::json::JsonOut;
use crate::pipeline::{Batch, Rejection};
use crate::render::Renderer;
use crate::signal::Signal;

/// How a body holds its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyShape {
    /// `application/json`: one object, or an array of objects.
    Json,
    /// `application/x-ndjson`: one object per line.
    NdJson,
    /// `application/x-www-form-urlencoded` (what `curl -d` sends): JSON when it looks like
    /// JSON, otherwise one record of the form's fields.
    Form,
}

/// One posted body.
pub struct HttpJsonBatch {
    /// The tag records get unless `tag_key` names one of their fields.
    pub tag: String,
    /// `tag_key`.
    pub tag_key: Option<String>,
    /// `time_key`.
    pub time_key: Option<String>,
    /// The body as received.
    pub body: Bytes,
    /// How it holds its records.
    pub shape: BodyShape,
    /// Its content encoding.
    pub compression: Compression,
    /// `buffer_max_size`: the most it may inflate to.
    pub limit: usize,
    /// When it arrived, in nanoseconds: the time of records without `time_key`.
    pub received_ns: i64,
}

/// A JSON syntax error, with where it is.
fn syntax(offset: usize, what: impl std::fmt::Display) -> Rejection {
    Rejection {
        reason: "json",
        detail: format!("invalid JSON at byte {offset}: {what}"),
    }
}

impl HttpJsonBatch {
    /// The records of the body, parsed; every one must be an object.
    fn records<'a>(&self, text: &'a mut Vec<u8>) -> Result<Vec<BorrowedValue<'a>>, Rejection> {
        let looks_like_json = matches!(
            text.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{') | Some(b'[')
        );
        if self.shape == BodyShape::Form && !looks_like_json {
            let fields: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(text)
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
            *text = serde_json::Value::Object(fields).to_string().into_bytes();
        }
        match self.shape {
            BodyShape::Json | BodyShape::Form => {
                let value = simd_json::to_borrowed_value(text).map_err(|e| syntax(e.index(), e))?;
                match value {
                    BorrowedValue::Array(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| object(item, &format!("record {i}")))
                        .collect(),
                    other => Ok(vec![object(other, "the body")?]),
                }
            }
            BodyShape::NdJson => {
                let mut records = Vec::new();
                let mut offset = 0;
                for line in text.split_mut(|&b| b == b'\n') {
                    let start = offset;
                    offset += line.len() + 1;
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let value = simd_json::to_borrowed_value(line)
                        .map_err(|e| syntax(start + e.index(), e))?;
                    records.push(object(value, &format!("the line at byte {start}"))?);
                }
                Ok(records)
            }
        }
    }

    /// The tag of one record: its `tag_key` field when that is a string.
    fn tag_of<'r>(&'r self, record: &'r BorrowedValue<'_>) -> &'r str {
        self.tag_key
            .as_deref()
            .and_then(|key| record.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or(&self.tag)
    }

    /// The time of one record in nanoseconds: its `time_key` field (seconds, fractions allowed,
    /// or RFC 3339 text), else the time of arrival.
    fn time_of(&self, record: &BorrowedValue<'_>) -> i64 {
        let Some(value) = self.time_key.as_deref().and_then(|key| record.get(key)) else {
            return self.received_ns;
        };
        // Whole seconds and the fraction apart, so 1700000000.25 is …250000000 exactly.
        let from_seconds = |s: f64| {
            (s.is_finite() && s.abs() < 9.2e9)
                .then(|| s.trunc() as i64 * 1_000_000_000 + (s.fract() * 1e9).round() as i64)
        };
        let parsed = match value {
            BorrowedValue::Static(n) => n.as_f64().and_then(from_seconds),
            BorrowedValue::String(text) => humantime::parse_rfc3339_weak(text)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_nanos()).ok())
                .or_else(|| text.parse::<f64>().ok().and_then(from_seconds)),
            _ => None,
        };
        parsed.unwrap_or(self.received_ns)
    }
}

fn object<'a>(value: BorrowedValue<'a>, what: &str) -> Result<BorrowedValue<'a>, Rejection> {
    match value {
        BorrowedValue::Object(_) => Ok(value),
        _ => Err(Rejection {
            reason: "json",
            detail: format!("{what} is not a JSON object"),
        }),
    }
}

impl Batch for HttpJsonBatch {
    fn signal(&self) -> Signal {
        Signal::Logs
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        self.render_parts(renderer, out, &mut Vec::new())
    }

    fn may_retag(&self) -> bool {
        self.tag_key.is_some()
    }

    fn render_parts(
        &self,
        renderer: &mut Renderer,
        out: &mut Vec<u8>,
        parts: &mut Vec<(usize, String)>,
    ) -> Result<u64, Rejection> {
        let mut text =
            inflate(&self.body, self.compression, self.limit).map_err(|e| Rejection {
                reason: e.reason(),
                detail: e.to_string(),
            })?;
        let records = self.records(&mut text)?;
        let limits = renderer.limits();
        if records.len() as u64 > limits.max_records {
            return Err(Rejection {
                reason: "too_many_records",
                detail: format!(
                    "the body holds more than {} records (max_entry_records)",
                    limits.max_records
                ),
            });
        }
        let mut json = JsonOut {
            out,
            escape_unicode: renderer.options().escape_unicode,
        };
        // One entry per tag, in the order tags first appear; each keeps its records' order.
        let mut groups: Vec<(&str, Vec<&BorrowedValue<'_>>)> = Vec::new();
        let mut group_of: std::collections::HashMap<&str, usize> = Default::default();
        for record in &records {
            let tag = self.tag_of(record);
            let index = *group_of.entry(tag).or_insert_with(|| {
                groups.push((tag, Vec::new()));
                groups.len() - 1
            });
            groups[index].1.push(record);
        }
        let whole = groups.len() == 1 && groups[0].0 == self.tag;
        for (tag, group) in &groups {
            for record in group {
                json.raw(b"[[");
                json.i64(self.time_of(record));
                json.raw(b",{");
                json.key("_tag");
                json.str(tag);
                json.raw(b"}],");
                json.json_value(record);
                json.raw(b"]\n");
                if json.out.len() > limits.max_entry_bytes {
                    return Err(Rejection {
                        reason: "entry_too_large",
                        detail: format!(
                            "the body renders to more than {} bytes of JSON (max_entry_size)",
                            limits.max_entry_bytes
                        ),
                    });
                }
            }
            if !whole {
                parts.push((json.out.len(), tag.to_string()));
            }
        }
        Ok(records.len() as u64)
    }
}
