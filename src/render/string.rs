//! JSON string literals from arbitrary bytes, with Fluent Bit's escaping rules.
//!
//! Runs of plain printable ASCII are copied with one `extend_from_slice`; only quotes,
//! backslashes, control characters and non-ASCII take the slow path.

/// Bytes copied verbatim: printable ASCII except `"` and `\`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as a quoted JSON string.
///
/// `"` `\` and the control characters `\n` `\r` `\t` `\b` `\f` get short escapes; other bytes
/// below 0x20 and 0x7F become `\u00XX`; `/` is left alone. Valid UTF-8 is written as lowercase
/// `\uXXXX` escapes (surrogate pairs above U+FFFF) when `escape_unicode` is set, raw otherwise.
///
/// Deliberate difference from Fluent Bit: each ill-formed UTF-8 sequence (by the Unicode
/// "maximal subpart" rule, the same as `String::from_utf8_lossy`) becomes one U+FFFD, where
/// Fluent Bit silently drops bytes or decodes overlong forms. The output is always valid UTF-8
/// and valid JSON.
pub fn write_str(out: &mut Vec<u8>, bytes: &[u8], escape_unicode: bool) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut rest = bytes;
    loop {
        let plain_len = plain_prefix_len(rest);
        let (plain, tail) = rest.split_at(plain_len);
        out.extend_from_slice(plain);
        let Some(&first) = tail.first() else { break };
        let consumed = if first < 0x80 {
            write_ascii_escape(out, first);
            1
        } else {
            let (scalar, len) = decode_utf8(tail);
            match (scalar, escape_unicode) {
                (Some(c), true) => write_unicode_escape(out, c),
                (Some(_), false) => out.extend_from_slice(tail.get(..len).unwrap_or_default()),
                (None, true) => out.extend_from_slice(b"\\ufffd"),
                (None, false) => out.extend_from_slice("\u{fffd}".as_bytes()),
            }
            len
        };
        rest = tail.get(consumed..).unwrap_or_default();
    }
    out.push(b'"');
}

/// How many leading bytes of `s` are plain (copied verbatim), eight at a time.
///
/// Each 8-byte word is tested with SWAR bit tricks for a byte below 0x20, at or above 0x7F, `"`
/// or `\`. The "has a zero byte" trick can flag a byte *after* a true match (a borrow carries
/// upwards), never before one, so the lowest flagged byte is exactly the first non-plain byte.
fn plain_prefix_len(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut done = 0;
    for word in s.chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let flagged = (w.wrapping_sub(ONES * 0x20) & !w & HIGHS) // below 0x20
            | (w & HIGHS) // 0x80 and above
            | has_zero(w ^ (ONES * 0x7f))
            | has_zero(w ^ (ONES * u64::from(b'"')))
            | has_zero(w ^ (ONES * u64::from(b'\\')));
        if flagged != 0 {
            return done + (flagged.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + s[done..]
        .iter()
        .position(|&b| !PLAIN[usize::from(b)])
        .unwrap_or(s.len() - done)
}

/// Appends `bytes` as a quoted JSON string of lowercase hex digits.
pub fn write_hex_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2 + 2);
    out.push(b'"');
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
    out.push(b'"');
}

/// The escape of one ASCII byte that is not plain.
fn write_ascii_escape(out: &mut Vec<u8>, b: u8) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        _ => {
            write_u4(out, u32::from(b));
            return;
        }
    };
    out.push(b'\\');
    out.push(short);
}

/// `\uXXXX` for a BMP scalar, a surrogate pair above U+FFFF.
fn write_unicode_escape(out: &mut Vec<u8>, scalar: u32) {
    if scalar < 0x1_0000 {
        write_u4(out, scalar);
    } else {
        let v = scalar - 0x1_0000;
        write_u4(out, 0xd800 + (v >> 10));
        write_u4(out, 0xdc00 + (v & 0x3ff));
    }
}

/// `\u` and four lowercase hex digits of a 16-bit unit.
fn write_u4(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[(unit >> 12 & 0xf) as usize],
        HEX[(unit >> 8 & 0xf) as usize],
        HEX[(unit >> 4 & 0xf) as usize],
        HEX[(unit & 0xf) as usize],
    ]);
}

/// Decodes the UTF-8 sequence at the start of `s` (whose first byte is ≥ 0x80).
///
/// Returns the scalar and its length, or `None` and the length of the maximal ill-formed subpart
/// to replace with one U+FFFD (Unicode §3.9, table 3-7: no overlongs, no surrogates, nothing above
/// U+10FFFF).
fn decode_utf8(s: &[u8]) -> (Option<u32>, usize) {
    let Some(&lead) = s.first() else {
        return (None, 0);
    };
    let (continuations, second_range, initial) = match lead {
        0xc2..=0xdf => (1, 0x80..=0xbf, u32::from(lead & 0x1f)),
        0xe0 => (2, 0xa0..=0xbf, u32::from(lead & 0x0f)),
        0xe1..=0xec | 0xee..=0xef => (2, 0x80..=0xbf, u32::from(lead & 0x0f)),
        0xed => (2, 0x80..=0x9f, u32::from(lead & 0x0f)),
        0xf0 => (3, 0x90..=0xbf, u32::from(lead & 0x07)),
        0xf1..=0xf3 => (3, 0x80..=0xbf, u32::from(lead & 0x07)),
        0xf4 => (3, 0x80..=0x8f, u32::from(lead & 0x07)),
        _ => return (None, 1),
    };
    let mut scalar = initial;
    for i in 1..=continuations {
        let allowed = if i == 1 {
            second_range.clone()
        } else {
            0x80..=0xbf
        };
        match s.get(i) {
            Some(&b) if allowed.contains(&b) => scalar = scalar << 6 | u32::from(b & 0x3f),
            _ => return (None, i),
        }
    }
    (Some(scalar), continuations + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scan_agrees_with_the_table() {
        for b in 0..=255u8 {
            for len in [1usize, 7, 8, 9, 16, 23] {
                for at in 0..len {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    let expected = if PLAIN[usize::from(b)] { len } else { at };
                    assert_eq!(
                        plain_prefix_len(&s),
                        expected,
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    fn render(bytes: &[u8], escape_unicode: bool) -> String {
        let mut out = Vec::new();
        write_str(&mut out, bytes, escape_unicode);
        String::from_utf8(out).expect("output is UTF-8")
    }

    #[test]
    fn short_and_control_escapes() {
        assert_eq!(render(b"a\"b\\c/d", true), r#""a\"b\\c/d""#);
        assert_eq!(render(b"\n\r\t\x08\x0c", true), r#""\n\r\t\b\f""#);
        assert_eq!(
            render(b"bell\x07 del\x7f nul\x00 esc\x1b", true),
            r#""bell\u0007 del\u007f nul\u0000 esc\u001b""#
        );
        assert_eq!(render(b"", true), r#""""#);
    }

    #[test]
    fn unicode_escaped_or_raw() {
        let text = "é 日本 🚀 \u{ffff} \u{10ffff}";
        assert_eq!(
            render(text.as_bytes(), true),
            r#""\u00e9 \u65e5\u672c \ud83d\ude80 \uffff \udbff\udfff""#
        );
        assert_eq!(render(text.as_bytes(), false), format!("\"{text}\""));
        assert_eq!(
            render("\u{1d11e} \u{1f642}".as_bytes(), true),
            r#""\ud834\udd1e \ud83d\ude42""#
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        // The same substitution as String::from_utf8_lossy, for a range of ill-formed inputs.
        let inputs: &[&[u8]] = &[
            b"\x00\x01hi\xff",
            b"\xc1\xb1",
            b"\xe0\x80\x80",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xf0\x9f\x98",
            b"\xee\xe1\x9b~\xc3\xc1\xb1t",
            b"[\x8e\xff\xf7\x98\x03\x81\x03\xd2i\xb63\x81?\xc6\x0c",
            b"\xc3",
            b"\xe2\x82",
        ];
        for &input in inputs {
            let lossy = String::from_utf8_lossy(input);
            let raw = render(input, false);
            let expected_raw = serde_json::to_string(&lossy).expect("serialize");
            assert_eq!(raw, expected_raw, "{input:?}");
            let escaped = render(input, true);
            let back: String = serde_json::from_str(&escaped).expect("valid JSON");
            assert_eq!(back, lossy, "{input:?}");
            assert!(escaped.is_ascii());
        }
        assert_eq!(render(b"\x00\x01hi\xff", true), r#""\u0000\u0001hi\ufffd""#);
        assert_eq!(render(b"~\xc1\xb1t", true), r#""~\ufffd\ufffdt""#);
    }

    #[test]
    fn hex_strings() {
        let mut out = Vec::new();
        write_hex_str(&mut out, &[0x01, 0x7f, 0x80, 0xff]);
        assert_eq!(out, br#""017f80ff""#);
    }
}
