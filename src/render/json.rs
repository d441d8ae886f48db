//! The msgpack → JSON value writer.
//!
//! Values are rendered as they are read. Maps keep their key order; when a key repeats, the last
//! occurrence wins at its own position (`{"a":1,"b":2,"a":3}` → `{"b":2,"a":3}`), as in Fluent
//! Bit. Duplicates are found after a map is written by comparing the rendered key texts, so the
//! common duplicate-free map costs one pass and no allocation beyond the renderer's reusable
//! scratch; only a map that really has duplicates is compacted in place.

use super::msgpack::{next_head, Head};
use super::number::{write_f64, write_i64, write_u64};
use super::string::{write_hex_str, write_str};
use super::{RenderError, RenderLimits, RenderOptions, MAX_DEPTH};

/// Maps with up to this many entries are checked for duplicate keys pairwise; larger maps sort
/// their entry indices by key text instead.
const PAIRWISE_MAX: usize = 16;

/// A reusable msgpack → JSON converter.
///
/// It owns the scratch space used for duplicate-key detection, so a worker that keeps one
/// `Renderer` renders any number of records without per-value allocation.
///
/// Representation choices (spec §6 with the §13.9 fixes):
/// - integers exact; `nil`/booleans as JSON; floats as Fluent Bit prints them (`%.1f` for
///   integral values in the `i64` range, else `%.16g`), except NaN and ±Inf → `null`;
/// - `str` and `bin` → JSON strings (`bin` bytes are treated as text exactly like `str`; invalid
///   UTF-8 becomes U+FFFD);
/// - `ext` → **a JSON string of the lowercase hex of its data bytes** (the type code is not
///   shown). Fluent Bit writes `"\x01\x7f\xffffff80"`-style escapes, which are not JSON;
/// - **non-string map keys become JSON strings**: a scalar key is its JSON text in quotes (`42`
///   → `"42"`, `nil` → `"null"`, `1.5` → `"1.5"`), a `bin` key its text, an `ext` key its hex,
///   and an array or map key its compact JSON text as an escaped string. Fluent Bit writes such
///   keys unquoted, which is not JSON. Keys are compared for duplicates by this rendered text.
#[derive(Debug)]
pub struct Renderer {
    opts: RenderOptions,
    limits: RenderLimits,
    /// The entries of every map currently open, innermost last.
    entries: Vec<Entry>,
    /// Scratch for sorting the entry indices of a large map.
    order: Vec<usize>,
}

/// Where one written `key:value` pair sits in the output.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key_start: usize,
    key_end: usize,
    end: usize,
    keep: bool,
}

/// A JSON object whose `{` has been written and whose entries are being appended.
pub(super) struct OpenMap {
    /// Output offset just after the `{`.
    content_start: usize,
    /// Index of this map's first entry in `Renderer::entries`.
    base: usize,
}

impl Renderer {
    /// A renderer with the given options and empty scratch.
    pub fn new(opts: RenderOptions) -> Self {
        Self::with_limits(opts, RenderLimits::default())
    }

    /// A renderer whose batches are held to `limits`.
    pub fn with_limits(opts: RenderOptions, limits: RenderLimits) -> Self {
        Self {
            opts,
            limits,
            entries: Vec::new(),
            order: Vec::new(),
        }
    }

    /// The options this renderer applies.
    pub fn options(&self) -> RenderOptions {
        self.opts
    }

    /// The caps a batch rendered with this renderer is held to.
    pub fn limits(&self) -> RenderLimits {
        self.limits
    }

    /// Renders exactly one msgpack object from the front of `input`, advancing past it.
    ///
    /// On error `out` is left as it was and the position of `input` is unspecified.
    pub fn write_value(&mut self, input: &mut &[u8], out: &mut Vec<u8>) -> Result<(), RenderError> {
        self.guarded(out, |r, out| r.value(input, out, 0))
    }

    /// Runs `f`, undoing its output if it fails, so public entry points never leave half a
    /// document behind.
    pub(super) fn guarded<T>(
        &mut self,
        out: &mut Vec<u8>,
        f: impl FnOnce(&mut Self, &mut Vec<u8>) -> Result<T, RenderError>,
    ) -> Result<T, RenderError> {
        self.entries.clear();
        let start = out.len();
        let result = f(self, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Renders the next value of `input`; `depth` counts the containers around it.
    pub(super) fn value(
        &mut self,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), RenderError> {
        let head = next_head(input)?;
        self.value_from(head, input, out, depth)
    }

    /// Renders a value whose head has already been read.
    fn value_from(
        &mut self,
        head: Head<'_>,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), RenderError> {
        match head {
            Head::Nil => out.extend_from_slice(b"null"),
            Head::Bool(true) => out.extend_from_slice(b"true"),
            Head::Bool(false) => out.extend_from_slice(b"false"),
            Head::Uint(v) => write_u64(out, v),
            Head::Int(v) => write_i64(out, v),
            Head::F32(v) => write_f64(out, f64::from(v)),
            Head::F64(v) => write_f64(out, v),
            Head::Str(s) | Head::Bin(s) => write_str(out, s, self.opts.escape_unicode),
            Head::Ext(_, data) => write_hex_str(out, data),
            Head::Array(n) => {
                if depth >= MAX_DEPTH {
                    return Err(RenderError::TooDeep);
                }
                out.push(b'[');
                for i in 0..n {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.value(input, out, depth + 1)?;
                }
                out.push(b']');
            }
            Head::Map(n) => {
                if depth >= MAX_DEPTH {
                    return Err(RenderError::TooDeep);
                }
                let map = self.open_map(out);
                for _ in 0..n {
                    self.map_entry(&map, input, out, depth + 1)?;
                }
                self.close_map(map, out);
            }
        }
        Ok(())
    }

    /// Renders the next object of `input` as a JSON object key (always a string).
    fn key(
        &mut self,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), RenderError> {
        match next_head(input)? {
            Head::Str(s) | Head::Bin(s) => write_str(out, s, self.opts.escape_unicode),
            Head::Ext(_, data) => write_hex_str(out, data),
            container @ (Head::Array(_) | Head::Map(_)) => {
                // Rare: render the container, then re-emit its text as a string. Escaping can
                // double the text, and keys nested in keys compound that (2^depth bytes from a
                // few bytes of input), so this is where the entry's size cap is enforced.
                let start = out.len();
                self.value_from(container, input, out, depth)?;
                let text = out.split_off(start);
                // The escaped text is at least two quotes longer: refuse before writing it.
                self.within_limit(start.saturating_add(text.len()).saturating_add(2))?;
                write_str(out, &text, self.opts.escape_unicode);
                self.within_limit(out.len())?;
            }
            scalar => {
                out.push(b'"');
                self.value_from(scalar, input, out, depth)?;
                out.push(b'"');
            }
        }
        Ok(())
    }

    /// `Err(TooLarge)` if an output of `len` bytes would pass the entry cap.
    fn within_limit(&self, len: usize) -> Result<(), RenderError> {
        let limit = self.limits.max_entry_bytes;
        if len > limit {
            return Err(RenderError::TooLarge { limit });
        }
        Ok(())
    }

    /// Writes `{` and starts tracking the entries of a new object.
    pub(super) fn open_map(&mut self, out: &mut Vec<u8>) -> OpenMap {
        out.push(b'{');
        OpenMap {
            content_start: out.len(),
            base: self.entries.len(),
        }
    }

    /// Writes the separator before the next entry of `map`.
    fn separate(&self, map: &OpenMap, out: &mut Vec<u8>) {
        if self.entries.len() > map.base {
            out.push(b',');
        }
    }

    /// Appends the next key and value of `input` to `map`; `depth` is theirs.
    fn map_entry(
        &mut self,
        map: &OpenMap,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), RenderError> {
        self.separate(map, out);
        let key_start = out.len();
        self.key(input, out, depth)?;
        let key_end = out.len();
        out.push(b':');
        self.value(input, out, depth)?;
        self.entries.push(Entry {
            key_start,
            key_end,
            end: out.len(),
            keep: true,
        });
        Ok(())
    }

    /// Appends a `"key":"value"` entry built from plain text (such as `_tag`) to `map`.
    pub(super) fn map_text_entry(
        &mut self,
        map: &OpenMap,
        key: &[u8],
        value: &[u8],
        out: &mut Vec<u8>,
    ) {
        self.separate(map, out);
        let key_start = out.len();
        write_str(out, key, self.opts.escape_unicode);
        let key_end = out.len();
        out.push(b':');
        write_str(out, value, self.opts.escape_unicode);
        self.entries.push(Entry {
            key_start,
            key_end,
            end: out.len(),
            keep: true,
        });
    }

    /// Reads a msgpack map from `input` and appends all its entries to `map`, so that they merge
    /// (and deduplicate) with entries already there. `what` names the map in errors.
    pub(super) fn map_entries(
        &mut self,
        map: &OpenMap,
        input: &mut &[u8],
        out: &mut Vec<u8>,
        depth: usize,
        what: &'static str,
    ) -> Result<(), RenderError> {
        let head = next_head(input)?;
        let Head::Map(n) = head else {
            return Err(RenderError::Shape {
                what,
                expected: "map",
                found: head.type_name(),
            });
        };
        for _ in 0..n {
            self.map_entry(map, input, out, depth)?;
        }
        Ok(())
    }

    /// Drops the earlier occurrences of repeated keys, then writes `}`.
    pub(super) fn close_map(&mut self, map: OpenMap, out: &mut Vec<u8>) {
        let entries = &mut self.entries[map.base..];
        if mark_duplicates(entries, out, &mut self.order) {
            compact(entries, map.content_start, out);
        }
        self.entries.truncate(map.base);
        out.push(b'}');
    }
}

/// Clears `keep` on every entry whose key text appears again later; true if any was cleared.
fn mark_duplicates(entries: &mut [Entry], out: &[u8], order: &mut Vec<usize>) -> bool {
    let key = |e: &Entry| &out[e.key_start..e.key_end];
    let n = entries.len();
    let mut found = false;
    if n <= PAIRWISE_MAX {
        for i in 0..n {
            if entries[i + 1..]
                .iter()
                .any(|later| key(later) == key(&entries[i]))
            {
                entries[i].keep = false;
                found = true;
            }
        }
    } else {
        order.clear();
        order.extend(0..n);
        order.sort_unstable_by(|&a, &b| key(&entries[a]).cmp(key(&entries[b])).then(a.cmp(&b)));
        for pair in order.windows(2) {
            if key(&entries[pair[0]]) == key(&entries[pair[1]]) {
                entries[pair[0]].keep = false;
                found = true;
            }
        }
    }
    found
}

/// Rewrites the object body from `content_start` with only the kept entries, in order.
///
/// Kept bytes only ever move towards the start (each entry's old position is at or after its new
/// one), so an in-place `copy_within` is safe.
fn compact(entries: &[Entry], content_start: usize, out: &mut Vec<u8>) {
    let mut write = content_start;
    for e in entries.iter().filter(|e| e.keep) {
        if write > content_start {
            out[write] = b',';
            write += 1;
        }
        out.copy_within(e.key_start..e.end, write);
        write += e.end - e.key_start;
    }
    out.truncate(write);
}

/// Renders exactly one msgpack object from the front of `input` (advancing past it) and appends
/// its JSON text to `out`. A convenience for one-off values; hot paths keep a [`Renderer`].
pub fn write_value(
    input: &mut &[u8],
    out: &mut Vec<u8>,
    opts: RenderOptions,
) -> Result<(), RenderError> {
    Renderer::new(opts).write_value(input, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny msgpack encoder for test inputs.
    mod mp {
        pub fn map(n: u8) -> Vec<u8> {
            vec![0x80 | n]
        }
        pub fn arr(n: u8) -> Vec<u8> {
            vec![0x90 | n]
        }
        pub fn s(text: &str) -> Vec<u8> {
            let mut v = vec![0xd9, text.len() as u8];
            v.extend_from_slice(text.as_bytes());
            v
        }
        pub fn int(v: u8) -> Vec<u8> {
            vec![0xcc, v]
        }
        pub fn f64(x: f64) -> Vec<u8> {
            let mut v = vec![0xcb];
            v.extend_from_slice(&x.to_be_bytes());
            v
        }
        pub fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
            parts.concat()
        }
    }

    fn render_with(bytes: &[u8], opts: RenderOptions) -> Result<String, RenderError> {
        let mut input = bytes;
        let mut out = Vec::new();
        write_value(&mut input, &mut out, opts)?;
        assert!(input.is_empty(), "whole input consumed");
        Ok(String::from_utf8(out).expect("UTF-8 output"))
    }

    fn render(bytes: &[u8]) -> String {
        render_with(bytes, RenderOptions::default()).expect("renders")
    }

    #[test]
    fn scalars() {
        assert_eq!(render(&[0xc0]), "null");
        assert_eq!(render(&[0xc2]), "false");
        assert_eq!(render(&[0xc3]), "true");
        assert_eq!(render(&[0x2a]), "42");
        assert_eq!(render(&[0xe0]), "-32");
        assert_eq!(
            render(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            "18446744073709551615"
        );
        assert_eq!(
            render(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            "-9223372036854775808"
        );
        assert_eq!(render(&[0xca, 0x3f, 0x8c, 0xcc, 0xcd]), "1.100000023841858");
        assert_eq!(render(&mp::f64(f64::NAN)), "null");
        assert_eq!(render(&mp::f64(f64::NEG_INFINITY)), "null");
        assert_eq!(render(&mp::f64(0.1)), "0.1");
        assert_eq!(render(&mp::s("a/b")), r#""a/b""#);
        assert_eq!(render(&[0xc4, 0x03, b'h', b'i', 0xff]), r#""hi\ufffd""#);
        assert_eq!(render(&[0xc7, 0x03, 0x05, 0x01, 0x7f, 0x80]), r#""017f80""#);
        assert_eq!(
            render(&[0xd6, 0x00, 0xde, 0xad, 0xbe, 0xef]),
            r#""deadbeef""#
        );
    }

    #[test]
    fn containers_and_non_canonical_headers() {
        let v = mp::cat(&[mp::arr(3), mp::int(1), mp::map(0), mp::arr(0)]);
        assert_eq!(render(&v), "[1,{},[]]");
        let v = mp::cat(&[
            vec![0xdd, 0, 0, 0, 2],
            vec![0xdf, 0, 0, 0, 1],
            mp::s("k"),
            vec![0xdb, 0, 0, 0, 1, b'v'],
            vec![0xc0],
        ]);
        assert_eq!(render(&v), r#"[{"k":"v"},null]"#);
    }

    #[test]
    fn unicode_option() {
        let v = mp::s("é🚀");
        assert_eq!(render(&v), r#""\u00e9\ud83d\ude80""#);
        assert_eq!(
            render_with(
                &v,
                RenderOptions {
                    escape_unicode: false
                }
            )
            .expect("ok"),
            "\"é🚀\""
        );
    }

    #[test]
    fn duplicate_keys_last_wins_at_last_position() {
        let v = mp::cat(&[
            mp::map(3),
            mp::s("a"),
            mp::int(1),
            mp::s("b"),
            mp::int(2),
            mp::s("a"),
            mp::int(3),
        ]);
        assert_eq!(render(&v), r#"{"b":2,"a":3}"#);
        let v = mp::cat(&[
            mp::map(4),
            mp::s("x"),
            mp::int(1),
            mp::s("x"),
            mp::int(2),
            mp::s("x"),
            mp::int(3),
            mp::s("y"),
            mp::int(4),
        ]);
        assert_eq!(render(&v), r#"{"x":3,"y":4}"#);
        // Nested maps deduplicate independently, and a duplicate whose value is a map works.
        let inner = mp::cat(&[mp::map(2), mp::s("x"), mp::int(1), mp::s("x"), mp::int(2)]);
        let v = mp::cat(&[
            mp::map(3),
            mp::s("n"),
            inner.clone(),
            mp::s("m"),
            mp::int(0),
            mp::s("n"),
            inner,
        ]);
        assert_eq!(render(&v), r#"{"m":0,"n":{"x":2}}"#);
    }

    #[test]
    fn duplicate_keys_in_large_maps() {
        // 40 distinct keys plus repeats of k3 and k39: the sorting path.
        let mut v = vec![0xde, 0, 42];
        for i in 0..40u8 {
            v.extend(mp::s(&format!("k{i}")));
            v.extend(mp::int(i));
        }
        v.extend(mp::cat(&[
            mp::s("k3"),
            mp::int(100),
            mp::s("k39"),
            mp::int(101),
        ]));
        let json = render(&v);
        let mut expected: Vec<String> = (0..40u8)
            .filter(|&i| i != 3 && i != 39)
            .map(|i| format!("\"k{i}\":{i}"))
            .collect();
        expected.push("\"k3\":100".into());
        expected.push("\"k39\":101".into());
        assert_eq!(json, format!("{{{}}}", expected.join(",")));
        // No duplicates: untouched.
        let mut v = vec![0xde, 0, 30];
        for i in 0..30u8 {
            v.extend(mp::s(&format!("k{i}")));
            v.extend(mp::int(i));
        }
        let expected: Vec<String> = (0..30u8).map(|i| format!("\"k{i}\":{i}")).collect();
        assert_eq!(render(&v), format!("{{{}}}", expected.join(",")));
    }

    #[test]
    fn non_string_keys_become_strings() {
        let v = mp::cat(&[
            mp::map(8),
            vec![0x2a],
            mp::s("int"),
            vec![0xc0],
            mp::int(1),
            vec![0xc3],
            mp::int(2),
            mp::f64(1.5),
            mp::int(3),
            vec![0xc4, 1, b'b'],
            mp::int(4),
            vec![0xd4, 0x01, 0xab],
            mp::int(5),
            mp::cat(&[mp::arr(2), mp::int(1), mp::s("q\"")]),
            mp::int(6),
            mp::cat(&[mp::map(1), mp::s("k"), mp::int(7)]),
            mp::int(7),
        ]);
        assert_eq!(
            render(&v),
            r#"{"42":"int","null":1,"true":2,"1.5":3,"b":4,"ab":5,"[1,\"q\\\"\"]":6,"{\"k\":7}":7}"#
        );
        // An integer key collides with the equal string key.
        let v = mp::cat(&[mp::map(2), mp::s("42"), mp::int(1), vec![0x2a], mp::int(2)]);
        assert_eq!(render(&v), r#"{"42":2}"#);
    }

    #[test]
    fn every_output_is_valid_json() {
        let v = mp::cat(&[
            mp::map(3),
            mp::f64(f64::NAN),
            mp::f64(f64::INFINITY),
            vec![0x2a],
            vec![0xc7, 1, 9, 0xff],
            mp::s("s"),
            vec![0xc4, 2, 0xc1, 0xb1],
        ]);
        let json = render(&v);
        assert_eq!(json, r#"{"null":null,"42":"ff","s":"\ufffd\ufffd"}"#);
        serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
    }

    #[test]
    fn truncated_and_invalid_input_is_an_error() {
        let v = mp::cat(&[mp::map(2), mp::s("a"), mp::int(1), mp::s("b"), mp::int(2)]);
        for cut in 0..v.len() {
            assert_eq!(
                render_with(&v[..cut], RenderOptions::default()),
                Err(RenderError::Truncated),
                "cut {cut}"
            );
        }
        assert_eq!(
            render_with(&[0x92, 0x01, 0xc1], RenderOptions::default()),
            Err(RenderError::InvalidMarker)
        );
        // Huge declared sizes are compared with the input, never allocated.
        assert_eq!(
            render_with(&[0xdd, 0xff, 0xff, 0xff, 0xff], RenderOptions::default()),
            Err(RenderError::Truncated)
        );
        assert_eq!(
            render_with(
                &[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01],
                RenderOptions::default()
            ),
            Err(RenderError::Truncated)
        );
        assert_eq!(
            render_with(
                &[0xc6, 0xff, 0xff, 0xff, 0xff, 0x01],
                RenderOptions::default()
            ),
            Err(RenderError::Truncated)
        );
    }

    #[test]
    fn error_leaves_output_untouched() {
        let mut out = b"keep".to_vec();
        let mut input: &[u8] = &[0x92, 0x01];
        assert!(write_value(&mut input, &mut out, RenderOptions::default()).is_err());
        assert_eq!(out, b"keep");
    }

    #[test]
    fn nesting_is_capped() {
        let mut ok = vec![0x91; MAX_DEPTH];
        ok.push(0xc0);
        let json = render(&ok);
        assert_eq!(json.len(), 2 * MAX_DEPTH + 4);
        let mut deep = vec![0x91; MAX_DEPTH + 1];
        deep.push(0xc0);
        assert_eq!(
            render_with(&deep, RenderOptions::default()),
            Err(RenderError::TooDeep)
        );
        let mut deep_maps = Vec::new();
        for _ in 0..=MAX_DEPTH {
            deep_maps.extend(mp::cat(&[mp::map(1), mp::s("k")]));
        }
        deep_maps.push(0xc0);
        assert_eq!(
            render_with(&deep_maps, RenderOptions::default()),
            Err(RenderError::TooDeep)
        );
        // A hostile run of nested key maps is capped too.
        let deep_keys = vec![0x81; 100_000];
        assert_eq!(
            render_with(&deep_keys, RenderOptions::default()),
            Err(RenderError::TooDeep)
        );
    }

    /// `{{…{"x":nil}:nil…}:nil}`: `depth` maps, each the key of the one around it.
    fn nested_key_maps(depth: usize) -> Vec<u8> {
        let mut v = vec![0x81; depth];
        v.extend(mp::s("x"));
        v.extend(std::iter::repeat_n(0xc0, depth));
        v
    }

    #[test]
    fn nested_container_keys_are_capped() {
        // Each level re-escapes the key text below it, so the backslashes double per level.
        assert_eq!(render(&nested_key_maps(1)), r#"{"x":null}"#);
        assert_eq!(render(&nested_key_maps(2)), r#"{"{\"x\":null}":null}"#);
        assert_eq!(
            render(&nested_key_maps(3)),
            r#"{"{\"{\\\"x\\\":null}\":null}":null}"#
        );
        let text = render(&nested_key_maps(16));
        assert_eq!(
            text.len(),
            131_183,
            "about 2^17 bytes from 33 bytes of input"
        );
        serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");

        // 40 levels, 82 bytes of input, would be 2^40 bytes: refused at the cap, output intact.
        let limits = RenderLimits {
            max_entry_bytes: 1 << 20,
            max_records: 10,
        };
        let mut r = Renderer::with_limits(RenderOptions::default(), limits);
        let mut out = b"earlier".to_vec();
        let input = nested_key_maps(40);
        assert_eq!(
            r.write_value(&mut input.as_slice(), &mut out),
            Err(RenderError::TooLarge { limit: 1 << 20 })
        );
        assert_eq!(out, b"earlier");
        // The cap counts what the entry already holds: 16 levels fit 1 MiB, not after 1 MiB.
        let mut out = Vec::new();
        r.write_value(&mut nested_key_maps(16).as_slice(), &mut out)
            .expect("fits");
        let mut out = vec![b' '; 1 << 20];
        assert_eq!(
            r.write_value(&mut nested_key_maps(16).as_slice(), &mut out),
            Err(RenderError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn renderer_is_reusable_after_errors() {
        let mut r = Renderer::new(RenderOptions::default());
        let mut out = Vec::new();
        let bad = mp::cat(&[mp::map(2), mp::s("a"), mp::int(1)]);
        assert!(r.write_value(&mut bad.as_slice(), &mut out).is_err());
        let good = mp::cat(&[mp::map(2), mp::s("a"), mp::int(1), mp::s("a"), mp::int(2)]);
        r.write_value(&mut good.as_slice(), &mut out)
            .expect("renders");
        assert_eq!(out, br#"{"a":2}"#);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Arbitrary bytes never panic the renderer, and whatever it accepts is valid JSON.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            for escape_unicode in [true, false] {
                let mut input = bytes.as_slice();
                let mut out = Vec::new();
                if write_value(&mut input, &mut out, RenderOptions { escape_unicode }).is_ok() {
                    let text = std::str::from_utf8(&out).expect("UTF-8");
                    serde_json::from_str::<serde_json::Value>(text).expect("valid JSON");
                } else {
                    proptest::prop_assert!(out.is_empty());
                }
            }
        }
    }
}
