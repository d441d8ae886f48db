//! The era-B/C log format (spec §7.2) of `/api/v1/logs`, made on read from the stored era-A
//! lines and the entry's envelope: one object per entry,
//! `{"source_type":…,"source_name":…,"tag":…,"records":[[[ts,{metadata}],body],…]}`, whose
//! records are the era-A lines without their leading `"_tag"` key.
//!
//! Chosen over a second rendering at ingest: ingest renders once, and only readers of this
//! route pay, one pass over the bytes they read. The envelope (input and tag) is kept per
//! entry beside the logs stream, under the same ID.

use bytes::Bytes;

use crate::stream::Snapshot;

/// The largest piece [`EraBcBody`] yields at a time.
const PIECE_BYTES: usize = 128 * 1024;

/// Appends entry `entry`'s era-B/C object (and its `\n`) to `out`. `envelope` is the entry's
/// head (`{"source_type":…,"tag":…`); without one (a reader that took its snapshot of the logs
/// stream just before an eviction, and of the envelopes just after), the head carries the tag
/// of its first line and `null` for the input.
pub fn render_entry(envelope: Option<&[u8]>, entry: &[u8], out: &mut Vec<u8>) {
    let mut lines = entry.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    match envelope.filter(|head| !head.is_empty()) {
        Some(head) => out.extend_from_slice(head),
        None => {
            let tag = entry
                .split(|&b| b == b'\n')
                .next()
                .and_then(tag_of)
                .unwrap_or(b"\"\"");
            out.extend_from_slice(b"{\"source_type\":null,\"source_name\":null,\"tag\":");
            out.extend_from_slice(tag);
        }
    }
    out.extend_from_slice(b",\"records\":[");
    if let Some(first) = lines.next() {
        record(first, out);
        for line in lines {
            out.push(b',');
            record(line, out);
        }
    }
    out.extend_from_slice(b"]}\n");
}

/// The era-A line `[[ts,{"_tag":"t",…}],body]` as an era-B/C record `[[ts,{…}],body]`.
fn record(line: &[u8], out: &mut Vec<u8>) {
    const TAG_KEY: &[u8] = b"{\"_tag\":";
    let Some(at) = find(line, TAG_KEY) else {
        out.extend_from_slice(line);
        return;
    };
    let value_start = at + TAG_KEY.len();
    let Some(value_len) = string_len(&line[value_start..]) else {
        out.extend_from_slice(line);
        return;
    };
    let after = value_start + value_len;
    out.extend_from_slice(&line[..=at]);
    // `"_tag":"t",` is followed by the record's own keys, `"_tag":"t"}` by the map's end.
    match line.get(after) {
        Some(b',') => out.extend_from_slice(&line[after + 1..]),
        _ => out.extend_from_slice(&line[after..]),
    }
}

/// The quoted `_tag` value of an era-A line.
fn tag_of(line: &[u8]) -> Option<&[u8]> {
    const TAG_KEY: &[u8] = b"{\"_tag\":";
    let start = find(line, TAG_KEY)? + TAG_KEY.len();
    let len = string_len(&line[start..])?;
    Some(&line[start..start + len])
}

/// Where `needle` first occurs in the head of an era-A line (it is near the start).
fn find(line: &[u8], needle: &[u8]) -> Option<usize> {
    let head = &line[..line.len().min(64)];
    head.windows(needle.len()).position(|w| w == needle)
}

/// The length of the JSON string at the start of `text`, quotes included.
fn string_len(text: &[u8]) -> Option<usize> {
    if text.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The era-B/C objects of the entries `ids`, rendered as they are sent, a piece at a time.
pub struct EraBcBody {
    logs: std::sync::Arc<Snapshot>,
    envelopes: std::sync::Arc<Snapshot>,
    next: u64,
    last: u64,
}

impl EraBcBody {
    /// The entries `ids` of `logs`, with their envelopes from `envelopes`.
    pub fn new(
        logs: std::sync::Arc<Snapshot>,
        envelopes: std::sync::Arc<Snapshot>,
        ids: std::ops::RangeInclusive<u64>,
    ) -> Self {
        EraBcBody {
            logs,
            envelopes,
            next: *ids.start(),
            last: *ids.end(),
        }
    }

    /// The next piece, `None` at the end.
    pub fn next_piece(&mut self) -> Option<Bytes> {
        let mut out = Vec::new();
        while self.next <= self.last && out.len() < PIECE_BYTES {
            if let Some(entry) = self.logs.get(self.next) {
                render_entry(self.envelopes.get(self.next), entry, &mut out);
            }
            self.next += 1;
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

/// The era-B/C objects of `ids` in one buffer (a follow's batch).
pub fn render_entries(
    logs: &Snapshot,
    envelopes: &Snapshot,
    ids: std::ops::RangeInclusive<u64>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(entry) = logs.get(id) {
            render_entry(envelopes.get(id), entry, &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(envelope: Option<&str>, entry: &str) -> String {
        let mut out = Vec::new();
        render_entry(envelope.map(str::as_bytes), entry.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spec_7_2_example() {
        let entry = "[[1700000000123456789,{\"_tag\":\"app\"}],{\"log\":\"hello\"}]\n\
                     [[1700000000223456789,{\"_tag\":\"app\"}],{\"log\":\"bye\"}]\n";
        assert_eq!(
            rendered(
                Some("{\"source_type\":\"dummy\",\"source_name\":\"dummy.0\",\"tag\":\"app\""),
                entry
            ),
            "{\"source_type\":\"dummy\",\"source_name\":\"dummy.0\",\"tag\":\"app\",\"records\":\
             [[[1700000000123456789,{}],{\"log\":\"hello\"}],[[1700000000223456789,{}],{\"log\":\"bye\"}]]}\n"
        );
    }

    #[test]
    fn metadata_keys_stay_and_escaped_tags_are_skipped_whole() {
        let entry =
            "[[1,{\"_tag\":\"a\\\"b\",\"otlp\":{\"severity_number\":9}}],{\"log\":\"hi\"}]\n";
        assert_eq!(
            rendered(None, entry),
            "{\"source_type\":null,\"source_name\":null,\"tag\":\"a\\\"b\",\"records\":\
             [[[1,{\"otlp\":{\"severity_number\":9}}],{\"log\":\"hi\"}]]}\n"
        );
    }
}
