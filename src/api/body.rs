//! Response bodies: the stored entries of a stream read, or a small fixed text.

use crate::http::MAX_BODY_PIECE;
use crate::stream::Snapshot;
use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A response body: `Bytes` pieces handed to actix as they are, with their total length known
/// up front (so the response carries `Content-Length`, HEAD included).
pub struct ApiBody {
    pieces: std::vec::IntoIter<Bytes>,
    remaining: u64,
}

impl ApiBody {
    /// The entries `ids` (or nothing for `None`) of `snapshot`, as handles onto the stored
    /// segments: no rendering, no concatenation, no copy of entry data by our code. Pieces are
    /// at most [`MAX_BODY_PIECE`] long, so actix's write buffer keeps its size.
    pub fn entries(snapshot: &Snapshot, ids: Option<RangeInclusive<u64>>) -> Self {
        let pieces = ids.map_or_else(Vec::new, |ids| snapshot.pieces(ids, MAX_BODY_PIECE));
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

impl MessageBody for ApiBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.remaining)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self.get_mut();
        Poll::Ready(this.pieces.next().map(|piece| {
            this.remaining -= piece.len() as u64;
            Ok(piece)
        }))
    }
}
