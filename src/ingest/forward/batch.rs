//! A parsed Forward message as a pipeline batch.

use super::message::ForwardMessage;
use crate::pipeline::Batch;
use crate::render::Renderer;
use crate::signal::Signal;

/// Hands a [`ForwardMessage`] to the pipeline: the worker thread decompresses, validates and
/// renders it, so the connection's task only frames and parses the outer shape.
pub struct ForwardBatch(pub ForwardMessage);

impl Batch for ForwardBatch {
    fn signal(&self) -> Signal {
        self.0.signal()
    }

    fn tag(&self) -> &str {
        self.0.tag()
    }

    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, String> {
        self.0
            .render_with(renderer, out)
            .map(|count| count.lines as u64)
            .map_err(|e| e.to_string())
    }
}
