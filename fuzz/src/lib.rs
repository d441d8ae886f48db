//! What the fuzz targets check, shared between them: that rendered output is valid JSON lines
//! (parsed by serde_json, stricter than "no panic"), and an independent msgpack length oracle
//! for the framer.
//!
//! A check that fails panics with a message naming the property, so libFuzzer records the input
//! as a crash.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Deepest JSON nesting a rendered line may have: the renderer's msgpack cap, plus the era-A
/// line's own wrapping (`[[ts,{meta}],body]`) and the cmetrics/ctraces context levels.
pub const MAX_JSON_DEPTH: usize = vivo_exporter::render::MAX_DEPTH + 16;

/// Parses `text` as exactly one JSON value with serde_json and returns it. Also refuses what
/// serde_json accepts but a strict reader would not: an object with a repeated key
/// (`check_duplicates`), and nesting deeper than [`MAX_JSON_DEPTH`].
pub fn parse_json(text: &[u8], check_duplicates: bool) -> Result<serde_json::Value, String> {
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    Strict {
        depth: 0,
        check_duplicates,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut de).map_err(|e: serde_json::Error| e.to_string())
}

/// Splits `out` into lines and checks each one is one JSON value (see [`parse_json`]); returns
/// the values. Every line, the last included, must end in `\n`.
pub fn json_lines(out: &[u8], check_duplicates: bool) -> Vec<serde_json::Value> {
    if out.is_empty() {
        return Vec::new();
    }
    assert!(
        out.ends_with(b"\n"),
        "rendered output does not end in a newline: {}",
        show(out)
    );
    out[..out.len() - 1]
        .split(|&b| b == b'\n')
        .map(|line| {
            parse_json(line, check_duplicates)
                .unwrap_or_else(|e| panic!("rendered line is not valid JSON ({e}): {}", show(line)))
        })
        .collect()
}

/// The two renderings of one input, with `json.escape_unicode` on and off, must be the same JSON
/// values, and the escaped one must be pure ASCII. Returns the number of lines.
///
/// A map key that was an array or a map is rendered as its own JSON text in a string, written
/// with the same escaping, so such keys are compared by the value their text parses to.
pub fn same_values(escaped: &[u8], raw: &[u8], check_duplicates: bool) -> usize {
    assert!(
        escaped.is_ascii(),
        "escape_unicode on wrote non-ASCII bytes: {}",
        show(escaped)
    );
    let a: Vec<_> = json_lines(escaped, check_duplicates)
        .into_iter()
        .map(normalize_keys)
        .collect();
    let b: Vec<_> = json_lines(raw, check_duplicates)
        .into_iter()
        .map(normalize_keys)
        .collect();
    assert_eq!(
        a, b,
        "escape_unicode on and off render different JSON values"
    );
    a.len()
}

/// `value` with every object key that is the JSON text of an array or object replaced by the
/// canonical text of what it parses to (recursively).
pub fn normalize_keys(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, v)| (normalize_key(key), normalize_keys(v)))
                .collect(),
        ),
        other => other,
    }
}

fn normalize_key(key: String) -> String {
    if !(key.starts_with('[') || key.starts_with('{')) {
        return key;
    }
    match parse_json(key.as_bytes(), false) {
        Ok(parsed) => format!("\u{1}{}", normalize_keys(parsed)),
        Err(_) => key,
    }
}

/// At most 2,000 characters of `bytes`, for a panic message.
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]);
    format!("{text:?} ({} bytes)", bytes.len())
}

struct Strict {
    depth: usize,
    check_duplicates: bool,
}

impl Strict {
    fn child(&self) -> Strict {
        Strict {
            depth: self.depth + 1,
            check_duplicates: self.check_duplicates,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_JSON_DEPTH {
            return Err(de::Error::custom("nesting deeper than the renderer allows"));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(E::custom("a number out of the f64 range"))
        }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.check_duplicates && !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate object key {key:?}")));
            }
            map.next_value_seed(self.child())?;
        }
        Ok(())
    }
}

/// What an independent msgpack reader makes of the front of `buf`.
#[derive(Debug, PartialEq, Eq)]
pub enum Oracle {
    /// One whole object of this many bytes.
    Complete(usize),
    /// The buffer ends inside the object.
    Incomplete,
    /// The reserved marker 0xc1.
    Reserved,
}

/// Length of the msgpack object at the front of `buf`, from the msgpack spec's format table
/// (written here without looking at the service's decoder). No depth cap: containers are
/// counted, not recursed into.
pub fn msgpack_len(buf: &[u8]) -> Oracle {
    let mut pos = 0usize;
    let mut outstanding: u64 = 1;
    while outstanding > 0 {
        let Some(&marker) = buf.get(pos) else {
            return Oracle::Incomplete;
        };
        let be = |at: usize, n: usize| -> Option<u64> {
            let bytes = buf.get(at..at.checked_add(n)?)?;
            Some(bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
        };
        // (bytes of header after the marker, payload length, children)
        let (extra, payload, children): (usize, u64, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0, 0),
            0x80..=0x8f => (0, 0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, 0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (0, u64::from(marker & 0x1f), 0),
            0xc1 => return Oracle::Reserved,
            0xc4 | 0xd9 => match be(pos + 1, 1) {
                Some(n) => (1, n, 0),
                None => return Oracle::Incomplete,
            },
            0xc5 | 0xda => match be(pos + 1, 2) {
                Some(n) => (2, n, 0),
                None => return Oracle::Incomplete,
            },
            0xc6 | 0xdb => match be(pos + 1, 4) {
                Some(n) => (4, n, 0),
                None => return Oracle::Incomplete,
            },
            // ext 8/16/32: length, then the type byte, then the data.
            0xc7 => match be(pos + 1, 1) {
                Some(n) => (1, n + 1, 0),
                None => return Oracle::Incomplete,
            },
            0xc8 => match be(pos + 1, 2) {
                Some(n) => (2, n + 1, 0),
                None => return Oracle::Incomplete,
            },
            0xc9 => match be(pos + 1, 4) {
                Some(n) => (4, n + 1, 0),
                None => return Oracle::Incomplete,
            },
            0xca => (0, 4, 0),
            0xcb => (0, 8, 0),
            0xcc | 0xd0 => (0, 1, 0),
            0xcd | 0xd1 => (0, 2, 0),
            0xce | 0xd2 => (0, 4, 0),
            0xcf | 0xd3 => (0, 8, 0),
            // fixext 1/2/4/8/16: the type byte, then the data.
            0xd4 => (0, 2, 0),
            0xd5 => (0, 3, 0),
            0xd6 => (0, 5, 0),
            0xd7 => (0, 9, 0),
            0xd8 => (0, 17, 0),
            0xdc => match be(pos + 1, 2) {
                Some(n) => (2, 0, n),
                None => return Oracle::Incomplete,
            },
            0xdd => match be(pos + 1, 4) {
                Some(n) => (4, 0, n),
                None => return Oracle::Incomplete,
            },
            0xde => match be(pos + 1, 2) {
                Some(n) => (2, 0, 2 * n),
                None => return Oracle::Incomplete,
            },
            0xdf => match be(pos + 1, 4) {
                Some(n) => (4, 0, 2 * n),
                None => return Oracle::Incomplete,
            },
        };
        let end = (pos as u64) + 1 + extra as u64 + payload;
        if end > buf.len() as u64 {
            return Oracle::Incomplete;
        }
        pos = end as usize;
        outstanding = outstanding - 1 + children;
    }
    Oracle::Complete(pos)
}

/// A small deterministic generator (xorshift64*), seeded from the input, for choices such as
/// how a byte stream is cut into reads: the same input always makes the same choices.
pub struct Choices(u64);

impl Choices {
    /// Seeded with an FNV-1a hash of `data`.
    pub fn from_input(data: &[u8]) -> Self {
        let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        Choices(hash | 1)
    }

    /// The next number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n
    }
}
