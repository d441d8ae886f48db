//! A parsed Forward message as a pipeline batch.

use std::sync::Arc;

use super::message::{Deviation, ForwardMessage};
use crate::pipeline::{Batch, Rejection};
use crate::render::Renderer;
use crate::signal::Signal;
use crate::telemetry::Telemetry;

/// Hands a [`ForwardMessage`] to the pipeline: the worker thread decompresses, validates and
/// renders it, so the connection's task only frames and parses the outer shape.
pub struct ForwardBatch {
    /// The message to render.
    pub message: ForwardMessage,
    /// The input instance it came from, for the counters.
    pub instance: Arc<str>,
    /// Where a `size` that disagrees with the entries, and dropped entries, are counted.
    pub telemetry: Arc<Telemetry>,
}

impl Batch for ForwardBatch {
    fn signal(&self) -> Signal {
        self.message.signal()
    }

    fn tag(&self) -> &str {
        self.message.tag()
    }

    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        let count = self
            .message
            .render_with(renderer, out)
            .map_err(|e| Rejection {
                reason: e.reason(),
                detail: e.to_string(),
            })?;
        log::debug!(
            "[input:forward:{}] tag {:?}: {} entries, {} lines, {} group markers, {} bytes of JSON",
            self.instance,
            self.message.tag(),
            count.entries,
            count.lines,
            count.group_markers,
            out.len()
        );
        if let Some(why) = &count.first_drop {
            self.telemetry
                .dropped_entries(&self.instance, why.reason(), count.dropped);
            log::warn!(
                "[input:forward:{}] dropped {} malformed entries of a {}-entry message with tag \
                 {:?}, stored the other {} (first: {why})",
                self.instance,
                count.dropped,
                count.entries,
                self.message.tag(),
                count.entries - count.dropped
            );
        }
        // Advisory only (see `message`): count and note it, store what the message holds.
        if let Some(declared) = self.message.declared_size() {
            if declared != count.entries {
                self.telemetry
                    .tolerated(&self.instance, Deviation::SizeMismatch.reason());
                log::debug!(
                    "[input:forward:{}] options.size is {declared} but the message holds {} \
                     entries; stored what it holds",
                    self.instance,
                    count.entries
                );
            }
        }
        Ok(count.lines as u64)
    }
}
