//! Writing JSON from OTLP messages, with the same text rules as the MessagePack renderer
//! (`crate::render`): strings escaped as Fluent Bit escapes them (`\uXXXX` for non-ASCII when
//! `json.escape_unicode` is on), floats as Fluent Bit prints them, NaN and ±Inf as `null`.
//!
//! OTLP `AnyValue`s map onto JSON as Fluent Bit's protobuf path maps them (otlp-mapping §2.5),
//! except bytes: a bytes value is its base64 text (OTLP/JSON's own form), where Fluent Bit
//! prints the raw bytes through its string escaper, which is neither valid text nor reversible.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

pub use crate::render::number::{write_f64, write_i64, write_u64};
pub use crate::render::string::write_hex_str;

/// A JSON writer over an output buffer, with the rendering options of one batch.
pub struct JsonOut<'a> {
    /// The text so far.
    pub out: &'a mut Vec<u8>,
    /// `json.escape_unicode`.
    pub escape_unicode: bool,
}

impl JsonOut<'_> {
    /// Appends raw JSON punctuation or a pre-formatted fragment.
    pub fn raw(&mut self, text: &[u8]) {
        self.out.extend_from_slice(text);
    }

    /// A JSON string of `text` (bytes that are not UTF-8 become U+FFFD).
    pub fn str(&mut self, text: &str) {
        crate::render::string::write_str(self.out, text.as_bytes(), self.escape_unicode);
    }

    /// `"key":` (the key escaped like any string).
    pub fn key(&mut self, key: &str) {
        self.str(key);
        self.out.push(b':');
    }

    /// A float, `null` when not finite.
    pub fn f64(&mut self, value: f64) {
        write_f64(self.out, value);
    }

    /// A signed integer.
    pub fn i64(&mut self, value: i64) {
        write_i64(self.out, value);
    }

    /// An unsigned integer.
    pub fn u64(&mut self, value: u64) {
        write_u64(self.out, value);
    }

    /// `true` or `false`.
    pub fn bool(&mut self, value: bool) {
        self.raw(if value { b"true" } else { b"false" });
    }

    /// Lowercase hex of `bytes` as a string, or `null` when empty (trace and span IDs).
    pub fn hex_or_null(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            self.raw(b"null");
        } else {
            write_hex_str(self.out, bytes);
        }
    }

    /// A string, or `null` when it is empty.
    pub fn str_or_null(&mut self, text: &str) {
        if text.is_empty() {
            self.raw(b"null");
        } else {
            self.str(text);
        }
    }

    /// An `AnyValue`: strings, bools, ints, doubles, arrays and kvlists as JSON; bytes as base64
    /// text; an unset value as `null`.
    pub fn any_value(&mut self, value: Option<&AnyValue>) {
        match value.and_then(|v| v.value.as_ref()) {
            // An index into a profiles string table, which logs, metrics and traces never carry.
            None | Some(Value::StringValueStrindex(_)) => self.raw(b"null"),
            Some(Value::StringValue(s)) => self.str(s),
            Some(Value::BoolValue(b)) => self.bool(*b),
            Some(Value::IntValue(i)) => self.i64(*i),
            Some(Value::DoubleValue(d)) => self.f64(*d),
            Some(Value::BytesValue(bytes)) => {
                self.str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Some(Value::ArrayValue(array)) => {
                self.raw(b"[");
                for (i, item) in array.values.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.any_value(Some(item));
                }
                self.raw(b"]");
            }
            Some(Value::KvlistValue(list)) => self.attributes(&list.values),
        }
    }

    /// A parsed JSON document (simd-json's borrowed value), written again with these rules:
    /// strings re-escaped, floats as Fluent Bit prints them, object keys in their order (a
    /// repeated key keeps its last value, as simd-json's object does).
    pub fn json_value(&mut self, value: &simd_json::BorrowedValue<'_>) {
        use simd_json::{BorrowedValue, StaticNode};
        match value {
            BorrowedValue::Static(StaticNode::Null) => self.raw(b"null"),
            BorrowedValue::Static(StaticNode::Bool(b)) => self.bool(*b),
            BorrowedValue::Static(StaticNode::I64(i)) => self.i64(*i),
            BorrowedValue::Static(StaticNode::U64(u)) => self.u64(*u),
            BorrowedValue::Static(StaticNode::F64(f)) => self.f64(*f),
            BorrowedValue::String(s) => self.str(s),
            BorrowedValue::Array(items) => {
                self.raw(b"[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.json_value(item);
                }
                self.raw(b"]");
            }
            BorrowedValue::Object(map) => {
                self.raw(b"{");
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.key(key);
                    self.json_value(item);
                }
                self.raw(b"}");
            }
        }
    }

    /// Key-value pairs as a JSON object, in order; a repeated key keeps its last value at its
    /// last position, as the MessagePack renderer does for duplicate map keys.
    pub fn attributes(&mut self, pairs: &[KeyValue]) {
        self.raw(b"{");
        // Where each key last appears; for a handful of pairs a scan is cheaper than a map.
        let last: Option<std::collections::HashMap<&str, usize>> = (pairs.len() > 16).then(|| {
            pairs
                .iter()
                .enumerate()
                .map(|(i, p)| (p.key.as_str(), i))
                .collect()
        });
        let is_last = |i: usize, key: &str| match &last {
            Some(last) => last.get(key) == Some(&i),
            None => !pairs[i + 1..].iter().any(|later| later.key == key),
        };
        let mut first = true;
        for (i, pair) in pairs.iter().enumerate() {
            if !is_last(i, &pair.key) {
                continue;
            }
            if !first {
                self.raw(b",");
            }
            first = false;
            self.key(&pair.key);
            self.any_value(pair.value.as_ref());
        }
        self.raw(b"}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn render(pairs: &[KeyValue], escape_unicode: bool) -> String {
        let mut out = Vec::new();
        JsonOut {
            out: &mut out,
            escape_unicode,
        }
        .attributes(pairs);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn every_any_value_kind() {
        let pairs = [
            kv("s", Value::StringValue("héllo \"q\"".into())),
            kv("b", Value::BoolValue(true)),
            kv("i", Value::IntValue(-42)),
            kv("d", Value::DoubleValue(0.5)),
            kv("whole", Value::DoubleValue(3.0)),
            kv("nan", Value::DoubleValue(f64::NAN)),
            kv("raw", Value::BytesValue(vec![1, 2, 0xff])),
            kv(
                "list",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(Value::StringValue("a".into())),
                        },
                        AnyValue {
                            value: Some(Value::IntValue(1)),
                        },
                        AnyValue { value: None },
                    ],
                }),
            ),
            kv(
                "map",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("x", Value::StringValue("y".into()))],
                }),
            ),
            KeyValue {
                key: "unset".into(),
                value: None,
                ..KeyValue::default()
            },
        ];
        assert_eq!(
            render(&pairs, true),
            r#"{"s":"h\u00e9llo \"q\"","b":true,"i":-42,"d":0.5,"whole":3.0,"nan":null,"raw":"AQL/","list":["a",1,null],"map":{"x":"y"},"unset":null}"#
        );
        assert!(render(&pairs, false).starts_with(r#"{"s":"héllo \"q\"","#));
    }

    #[test]
    fn json_documents_are_written_again_with_these_rules() {
        let mut text =
            br#"{"a":1,"b":[true,null,-2,1.0,0.1,"\u00e9\n"],"c":{"d":18446744073709551615}}"#
                .to_vec();
        let value = simd_json::to_borrowed_value(&mut text).expect("JSON");
        let mut out = Vec::new();
        JsonOut {
            out: &mut out,
            escape_unicode: true,
        }
        .json_value(&value);
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            r#"{"a":1,"b":[true,null,-2,1.0,0.1,"\u00e9\n"],"c":{"d":18446744073709551615}}"#
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let pairs = [
            kv("a", Value::IntValue(1)),
            kv("b", Value::IntValue(2)),
            kv("a", Value::IntValue(3)),
        ];
        assert_eq!(render(&pairs, true), r#"{"b":2,"a":3}"#);
    }
}
