//! Era-A log lines (spec §7.1): one line per record,
//! `[[<ts_ns>,{"_tag":<tag>,<record metadata…>}],<body>]\n`.
//!
//! `_tag` is always the first metadata key; if the record's own metadata has a `_tag`, the
//! duplicate-key rule keeps the record's value at the record's position, exactly as Fluent Bit's
//! last-wins converter does.
//!
//! Choices where Fluent Bit's behaviour is not worth copying:
//! - **A body that is not a map is rendered as it is** (Fluent Bit's decoder rejects the record);
//!   it is still valid JSON and the Vivo UI shows `record[1]` whatever it is.
//! - **A malformed event rejects the whole batch** with an error (Fluent Bit renders the records
//!   before it and silently drops the rest of the chunk). The stream functions leave `out`
//!   untouched on error, so the caller can refuse the batch loudly.

use super::json::{OpenMap, Renderer};
use super::msgpack::{next_head, Head};
use super::number::write_i64;
use super::scan::skip;
use super::time::decode_timestamp;
use super::{RenderError, RenderOptions};

/// Error label and shape of an event entry.
const EVENT: &str = "log event";
const EVENT_SHAPE: &str = "[time, record] or [[time, metadata], record]";

impl Renderer {
    /// Writes one era-A line from parts: `metadata` is a raw msgpack map (or `None` for no
    /// record metadata) and `body` the raw msgpack record. Each slice must hold exactly one
    /// object. Used for Message mode, where the metadata travels in the options.
    pub fn write_log_record(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        ts_ns: i64,
        metadata: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(), RenderError> {
        self.guarded(out, |r, out| {
            let map = r.line_start(out, tag, ts_ns);
            if let Some(mut metadata) = metadata {
                r.line_metadata(&map, &mut metadata, out)?;
                if !metadata.is_empty() {
                    return Err(RenderError::TrailingBytes("record metadata"));
                }
            }
            let mut body = body;
            r.line_end(map, &mut body, out)?;
            if !body.is_empty() {
                return Err(RenderError::TrailingBytes("record body"));
            }
            Ok(())
        })
    }

    /// Reads one event entry from the front of `entry` — `[time, record]` or
    /// `[[time, metadata], record]`, arrays of any header width but exactly these sizes, as in
    /// Fluent Bit's decoder — and writes its line. Returns `false` for a group marker, which is
    /// skipped (not rendered). On error `out` is left as it was.
    pub fn write_event(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        entry: &mut &[u8],
    ) -> Result<bool, RenderError> {
        self.guarded(out, |r, out| r.event(out, tag, entry))
    }

    /// Writes the lines of concatenated event entries (a PackedForward payload) and returns how
    /// many records were rendered (group markers are not counted). Any malformed entry rejects
    /// the whole stream and leaves `out` as it was.
    pub fn write_event_stream(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        entries: &[u8],
    ) -> Result<usize, RenderError> {
        self.guarded(out, |r, out| {
            let mut rest = entries;
            let mut rendered = 0;
            while !rest.is_empty() {
                if r.event(out, tag, &mut rest)? {
                    rendered += 1;
                }
            }
            Ok(rendered)
        })
    }

    fn event(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        entry: &mut &[u8],
    ) -> Result<bool, RenderError> {
        let root = next_head(entry)?;
        if root != Head::Array(2) {
            return Err(shape_error(EVENT, EVENT_SHAPE, root));
        }
        let (time, has_metadata) = match next_head(entry)? {
            Head::Array(2) => (next_head(entry)?, true),
            header @ Head::Array(_) => {
                return Err(shape_error("log event header", "[time, metadata]", header))
            }
            time => (time, false),
        };
        let time = decode_timestamp(time)?;
        if time.is_group_marker {
            if has_metadata {
                skip(entry)?;
            }
            skip(entry)?;
            return Ok(false);
        }
        let map = self.line_start(out, tag, time.nanos);
        if has_metadata {
            self.line_metadata(&map, entry, out)?;
        }
        self.line_end(map, entry, out)?;
        Ok(true)
    }

    /// Writes `[[<ts>,{"_tag":<tag>` and leaves the metadata object open.
    fn line_start(&mut self, out: &mut Vec<u8>, tag: &str, ts_ns: i64) -> OpenMap {
        out.extend_from_slice(b"[[");
        write_i64(out, ts_ns);
        out.push(b',');
        let map = self.open_map(out);
        self.map_text_entry(&map, b"_tag", tag.as_bytes(), out);
        map
    }

    /// Merges the record's metadata map (read from `input`) into the open metadata object.
    fn line_metadata(
        &mut self,
        map: &OpenMap,
        input: &mut &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        self.map_entries(map, input, out, 2, "record metadata")
    }

    /// Closes the metadata, writes the body read from `input`, and ends the line.
    fn line_end(
        &mut self,
        map: OpenMap,
        input: &mut &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), RenderError> {
        self.close_map(map, out);
        out.extend_from_slice(b"],");
        self.value(input, out, 1)?;
        out.extend_from_slice(b"]\n");
        Ok(())
    }
}

fn shape_error(what: &'static str, expected: &'static str, found: Head<'_>) -> RenderError {
    let found = match found {
        Head::Array(_) => "array of another size",
        other => other.type_name(),
    };
    RenderError::Shape {
        what,
        expected,
        found,
    }
}

/// One-off form of [`Renderer::write_log_record`].
pub fn write_log_record(
    out: &mut Vec<u8>,
    tag: &str,
    ts_ns: i64,
    metadata: Option<&[u8]>,
    body: &[u8],
    opts: RenderOptions,
) -> Result<(), RenderError> {
    Renderer::new(opts).write_log_record(out, tag, ts_ns, metadata, body)
}

/// One-off form of [`Renderer::write_event`].
pub fn write_event(
    out: &mut Vec<u8>,
    tag: &str,
    entry: &mut &[u8],
    opts: RenderOptions,
) -> Result<bool, RenderError> {
    Renderer::new(opts).write_event(out, tag, entry)
}

/// One-off form of [`Renderer::write_event_stream`].
pub fn write_event_stream(
    out: &mut Vec<u8>,
    tag: &str,
    entries: &[u8],
    opts: RenderOptions,
) -> Result<usize, RenderError> {
    Renderer::new(opts).write_event_stream(out, tag, entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: RenderOptions = RenderOptions {
        escape_unicode: true,
    };

    fn event_time(secs: u32, nanos: u32) -> Vec<u8> {
        let mut v = vec![0xd7, 0x00];
        v.extend_from_slice(&secs.to_be_bytes());
        v.extend_from_slice(&nanos.to_be_bytes());
        v
    }

    fn s(text: &str) -> Vec<u8> {
        let mut v = vec![0xa0 | text.len() as u8];
        v.extend_from_slice(text.as_bytes());
        v
    }

    /// `{"log": <msg>}`
    fn body(msg: &str) -> Vec<u8> {
        [vec![0x81], s("log"), s(msg)].concat()
    }

    fn stream(entries: &[Vec<u8>]) -> Result<(usize, String), RenderError> {
        let mut out = Vec::new();
        let n = write_event_stream(&mut out, "app", &entries.concat(), OPTS)?;
        Ok((n, String::from_utf8(out).expect("UTF-8")))
    }

    #[test]
    fn legacy_and_v2_entries() {
        let legacy = [
            vec![0x92],
            event_time(1_700_000_000, 123_456_789),
            body("hello"),
        ]
        .concat();
        let meta = [vec![0x81], s("trace_id"), s("ab12")].concat();
        let v2 = [
            vec![0xdd, 0, 0, 0, 2, 0xdd, 0, 0, 0, 2],
            event_time(1_700_000_000, 223_456_789),
            meta,
            body("bye"),
        ]
        .concat();
        let (n, text) = stream(&[legacy, v2]).expect("renders");
        assert_eq!(n, 2);
        assert_eq!(
            text,
            "[[1700000000123456789,{\"_tag\":\"app\"}],{\"log\":\"hello\"}]\n\
             [[1700000000223456789,{\"_tag\":\"app\",\"trace_id\":\"ab12\"}],{\"log\":\"bye\"}]\n"
        );
    }

    #[test]
    fn record_tag_overrides_at_its_position() {
        let meta = [vec![0x82], s("a"), vec![0x01], s("_tag"), s("mine")].concat();
        let entry = [vec![0x92, 0x92, 0x05], meta, body("x")].concat();
        let (_, text) = stream(&[entry]).expect("renders");
        assert_eq!(
            text,
            "[[5000000000,{\"a\":1,\"_tag\":\"mine\"}],{\"log\":\"x\"}]\n"
        );
    }

    #[test]
    fn group_markers_are_skipped() {
        let group_meta = [vec![0x81], s("schema"), s("otlp")].concat();
        let start = [
            vec![0x92, 0x92],
            event_time(0xffff_ffff, 0),
            group_meta,
            vec![0x80],
        ]
        .concat();
        let record = [
            vec![0x92, 0x92],
            event_time(7, 0),
            vec![0x80],
            body("in group"),
        ]
        .concat();
        let end = [
            vec![0x92, 0x92],
            event_time(0xffff_fffe, 0),
            vec![0x80, 0x80],
        ]
        .concat();
        let (n, text) = stream(&[start.clone(), record, end.clone()]).expect("renders");
        assert_eq!(n, 1);
        assert_eq!(
            text,
            "[[7000000000,{\"_tag\":\"app\"}],{\"log\":\"in group\"}]\n"
        );
        let mut out = Vec::new();
        assert_eq!(
            write_event(&mut out, "app", &mut start.as_slice(), OPTS),
            Ok(false)
        );
        assert!(out.is_empty());
        assert_eq!(stream(&[start, end]).expect("renders").0, 0);
    }

    #[test]
    fn non_map_body_is_rendered_as_is() {
        let entry = [vec![0x92, 0x01], s("plain")].concat();
        assert_eq!(
            stream(&[entry]).expect("renders").1,
            "[[1000000000,{\"_tag\":\"app\"}],\"plain\"]\n"
        );
    }

    #[test]
    fn malformed_entry_rejects_the_whole_batch() {
        let good = [vec![0x92, 0x01], body("ok")].concat();
        let cases: Vec<Vec<u8>> = vec![
            [vec![0x93, 0x01], body("a"), vec![0xc0]].concat(),
            [vec![0x91, 0x01]].concat(),
            [vec![0x81, 0x01, 0x02]].concat(),
            [vec![0x92, 0x93, 0x01, 0x80, 0x80], body("a")].concat(),
            [vec![0x92, 0x92, 0x01, 0x90], body("a")].concat(),
            [vec![0x92], s("t"), body("a")].concat(),
            [vec![0x92, 0x01], body("truncated")[..4].to_vec()].concat(),
        ];
        for bad in cases {
            let mut out = b"prior".to_vec();
            let all = [good.clone(), bad.clone()].concat();
            assert!(
                write_event_stream(&mut out, "app", &all, OPTS).is_err(),
                "{bad:02x?}"
            );
            assert_eq!(out, b"prior");
        }
    }

    #[test]
    fn log_record_from_parts() {
        let meta = [vec![0x82], s("origin"), s("dummy"), s("level"), vec![0x02]].concat();
        let mut out = Vec::new();
        write_log_record(&mut out, "app.msg", 42, Some(&meta), &body("m"), OPTS).expect("renders");
        write_log_record(&mut out, "app.msg", -1, None, &body("n"), OPTS).expect("renders");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "[[42,{\"_tag\":\"app.msg\",\"origin\":\"dummy\",\"level\":2}],{\"log\":\"m\"}]\n\
             [[-1,{\"_tag\":\"app.msg\"}],{\"log\":\"n\"}]\n"
        );
        let mut out = Vec::new();
        assert!(write_log_record(&mut out, "t", 0, Some(&[0x90]), &body("m"), OPTS).is_err());
        assert!(write_log_record(
            &mut out,
            "t",
            0,
            None,
            &[body("m"), vec![0xc0]].concat(),
            OPTS
        )
        .is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn tag_is_escaped() {
        let mut out = Vec::new();
        write_log_record(&mut out, "a\"é", 0, None, &[0x80], OPTS).expect("renders");
        assert_eq!(out, b"[[0,{\"_tag\":\"a\\\"\\u00e9\"}],{}]\n");
    }
}
