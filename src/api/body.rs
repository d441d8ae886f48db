//! Response bodies: the stored entries of a stream read, or a small fixed text.

use crate::stream::Snapshot;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest piece handed to the HTTP layer at once. hyper queues pieces and writes them with
/// vectored writes, without copying, so this only caps one `writev` element.
const MAX_PIECE: usize = 256 * 1024;

/// A response body: `Bytes` pieces sent as they are, with their total length known up front
/// (so the response carries `Content-Length`).
pub struct ApiBody {
    pieces: std::vec::IntoIter<Bytes>,
    remaining: u64,
}

impl ApiBody {
    /// The entries `ids` (or nothing for `None`) of `snapshot`, as handles onto the stored
    /// segments: no rendering, no concatenation, no copy of entry data.
    pub fn entries(snapshot: &Snapshot, ids: Option<RangeInclusive<u64>>) -> Self {
        let pieces = ids.map_or_else(Vec::new, |ids| snapshot.pieces(ids, MAX_PIECE));
        Self::from_pieces(pieces)
    }

    /// A body of one piece of text.
    pub fn text(text: impl Into<Bytes>) -> Self {
        Self::from_pieces(vec![text.into()])
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_pieces(Vec::new())
    }

    fn from_pieces(pieces: Vec<Bytes>) -> Self {
        ApiBody {
            remaining: pieces.iter().map(|p| p.len() as u64).sum(),
            pieces: pieces.into_iter(),
        }
    }
}

impl Body for ApiBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.pieces.next().map(|piece| {
            this.remaining -= piece.len() as u64;
            Ok(Frame::data(piece))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
