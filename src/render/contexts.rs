//! cmetrics / ctraces payloads: one JSON line per context.
//!
//! A metrics or traces batch holds one or more concatenated msgpack contexts. Every one of them
//! is rendered, each as its own line (spec §13.8); Fluent Bit kept only the first and silently
//! lost the rest (§11.4).

use super::json::Renderer;
use super::msgpack::{peek_head, Head};
use super::{RenderError, RenderOptions};

impl Renderer {
    /// Renders every context in `payload`, each as one JSON line ending in `\n`, and returns how
    /// many there were. An empty payload, or a context that is not a map (cmetrics and ctraces
    /// contexts always are), is an error and leaves `out` as it was.
    pub fn write_contexts(
        &mut self,
        out: &mut Vec<u8>,
        payload: &[u8],
    ) -> Result<usize, RenderError> {
        if payload.is_empty() {
            return Err(RenderError::EmptyPayload);
        }
        self.guarded(out, |r, out| {
            let mut rest = payload;
            let mut count = 0;
            while !rest.is_empty() {
                r.context(out, &mut rest)?;
                count += 1;
            }
            Ok(count)
        })
    }

    /// Renders the one context at the front of `input` as a line, advancing past it. Used for
    /// the `fluentd_compat` shape, where contexts sit inside Forward entries. On error `out` is
    /// left as it was.
    pub fn write_context(
        &mut self,
        out: &mut Vec<u8>,
        input: &mut &[u8],
    ) -> Result<(), RenderError> {
        self.guarded(out, |r, out| r.context(out, input))
    }

    fn context(&mut self, out: &mut Vec<u8>, input: &mut &[u8]) -> Result<(), RenderError> {
        let head = peek_head(input)?;
        if !matches!(head, Head::Map(_)) {
            return Err(RenderError::Shape {
                what: "cmetrics/ctraces context",
                expected: "map",
                found: head.type_name(),
            });
        }
        self.value(input, out, 0)?;
        out.push(b'\n');
        Ok(())
    }
}

/// One-off form of [`Renderer::write_contexts`].
pub fn write_contexts(
    out: &mut Vec<u8>,
    payload: &[u8],
    opts: RenderOptions,
) -> Result<usize, RenderError> {
    Renderer::new(opts).write_contexts(out, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: RenderOptions = RenderOptions {
        escape_unicode: true,
    };

    #[test]
    fn every_context_is_a_line() {
        // {"a":1} {"b":[]} back to back.
        let payload = [0x81, 0xa1, b'a', 0x01, 0x81, 0xa1, b'b', 0x90];
        let mut out = Vec::new();
        assert_eq!(write_contexts(&mut out, &payload, OPTS), Ok(2));
        assert_eq!(out, b"{\"a\":1}\n{\"b\":[]}\n");
    }

    #[test]
    fn empty_truncated_or_non_map_payloads_are_errors() {
        let mut out = Vec::new();
        assert_eq!(
            write_contexts(&mut out, &[], OPTS),
            Err(RenderError::EmptyPayload)
        );
        assert_eq!(
            write_contexts(&mut out, &[0x81, 0xa1, b'a', 0x01, 0x81], OPTS),
            Err(RenderError::Truncated)
        );
        assert!(matches!(
            write_contexts(&mut out, &[0x81, 0xa1, b'a', 0x01, 0x92, 0x01, 0x02], OPTS),
            Err(RenderError::Shape { .. })
        ));
        assert!(out.is_empty());
    }
}
