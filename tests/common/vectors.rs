//! The Fluent Bit v4.1.2 Forward vectors in `tests/vectors/` and what our service must make of
//! each: Fluent Bit's entry, byte for byte, except for the deliberate differences of
//! `tests/vectors/README.md` (invalid JSON made valid, invalid UTF-8 as U+FFFD, every context
//! kept), each derived here from the expected file (or, for the contexts Fluent Bit dropped,
//! from the independent reference renderer's output), never from our own code.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// How our output relates to the vector's expected entry.
pub enum Expect {
    /// Byte-identical.
    Identical,
    /// Identical after these (from, to) replacements of the expected text: the only differences.
    Replaced(&'static [(&'static str, &'static str)]),
    /// Fluent Bit kept only the first of `contexts` contexts; we render every one. Our text is
    /// `extra/<name>.all-contexts.ndjson`, every context rendered by the independent reference
    /// renderer (`extra/make_all_contexts.py`), whose first line is Fluent Bit's entry.
    AllContexts { contexts: usize },
}

pub fn deliberate_differences() -> BTreeMap<&'static str, Expect> {
    // logs-11 and logs-12 carry the same chunk: the trace_id/span_id bins hold invalid UTF-8.
    // Fluent Bit writes most invalid bytes b as the raw private-use character U+E000+b and decodes
    // the overlong pair C1 B1 as "q" (\u0071); here every ill-formed subpart becomes U+FFFD.
    // trace_id bytes: 5b 8e ff f7 98 03 81 03 d2 69 b6 33 81 3f c6 0c
    // span_id bytes:  ee e1 9b 7e c3 c1 b1 74
    const OTLP_IDS: &[(&str, &str)] = &[
        (
            "\"trace_id\":\"[\u{e08e}\u{e0ff}\u{e0f7}\u{e098}\\u0003\u{e081}\\u0003\u{e0d2}i\u{e0b6}3\u{e081}?\u{e0c6}\\f\"",
            r#""trace_id":"[\ufffd\ufffd\ufffd\ufffd\u0003\ufffd\u0003\ufffdi\ufffd3\ufffd?\ufffd\f""#,
        ),
        (
            "\"span_id\":\"\u{e0ee}\u{e0e1}\u{e09b}~\u{e0c3}\\u0071t\"",
            r#""span_id":"\ufffd\ufffd~\ufffd\ufffd\ufffdt""#,
        ),
    ];
    BTreeMap::from([
        // NaN/±Inf print as null instead of nan/inf/-inf.
        (
            "logs-08",
            Expect::Replaced(&[(
                r#""f_nan":nan,"f_inf":inf,"f_ninf":-inf,"#,
                r#""f_nan":null,"f_inf":null,"f_ninf":null,"#,
            )]),
        ),
        (
            "metrics-10",
            Expect::Replaced(&[
                (r#""value":nan,"#, r#""value":null,"#),
                (r#""value":inf,"#, r#""value":null,"#),
                (r#""value":-inf,"#, r#""value":null,"#),
            ]),
        ),
        // bin 00 01 68 69 ff: the invalid 0xff becomes U+FFFD instead of vanishing; ext type 5
        // with data 01 7f 80 is lowercase hex instead of invalid \x escapes.
        (
            "logs-09",
            Expect::Replaced(&[
                (
                    r#""bin":"\u0000\u0001hi""#,
                    r#""bin":"\u0000\u0001hi\ufffd""#,
                ),
                (r#""ext":"\x01\x7f\xffffff80""#, r#""ext":"017f80""#),
            ]),
        ),
        // The integer key 42 is quoted.
        (
            "logs-10",
            Expect::Replaced(&[(r#",42:"integer key","#, r#","42":"integer key","#)]),
        ),
        ("logs-11", Expect::Replaced(OTLP_IDS)),
        ("logs-12", Expect::Replaced(OTLP_IDS)),
        // Two contexts in one payload: both are rendered.
        ("metrics-05", Expect::AllContexts { contexts: 2 }),
        ("metrics-06", Expect::AllContexts { contexts: 2 }),
        ("traces-08", Expect::AllContexts { contexts: 2 }),
        ("traces-09", Expect::AllContexts { contexts: 2 }),
    ])
}

pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

pub fn vector_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".forward.msgpack").map(str::to_owned))
        .collect();
    names.sort();
    names
}

pub fn read(name: &str, suffix: &str) -> Vec<u8> {
    fs::read(vectors_dir().join(format!("{name}{suffix}"))).expect("vector file")
}

pub fn read_extra(name: &str, suffix: &str) -> Vec<u8> {
    fs::read(vectors_dir().join("extra").join(format!("{name}{suffix}"))).expect("extra file")
}

pub fn meta(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(name, ".meta.json")).expect("meta.json is JSON")
}

/// The exact entry text our service must serve for vector `name`.
pub fn our_entry(name: &str) -> String {
    let expected = String::from_utf8(read(name, ".expected.ndjson")).expect("expected is UTF-8");
    match deliberate_differences().remove(name) {
        None | Some(Expect::Identical) => expected,
        Some(Expect::Replaced(replacements)) => replacements
            .iter()
            .fold(expected, |text, (from, to)| text.replace(from, to)),
        Some(Expect::AllContexts { .. }) => {
            String::from_utf8(read_extra(name, ".all-contexts.ndjson")).expect("UTF-8")
        }
    }
}
