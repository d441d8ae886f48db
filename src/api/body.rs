//! The response body of a stream read: the stored entries, handed out as they are.

use crate::stream::Snapshot;
use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest piece handed to the HTTP layer at once: it copies each piece into its write buffer,
/// so this bounds that buffer's size per connection.
const MAX_PIECE: usize = 64 * 1024;

/// Streams the entries of an ID range as `Bytes` handles onto the stored segments: no
/// rendering, no concatenation, no copy of entry data on our side. The length is known up
/// front, so the response carries `Content-Length`.
pub struct EntriesBody {
    pieces: std::vec::IntoIter<Bytes>,
    length: u64,
}

impl EntriesBody {
    /// A body for `ids` (or an empty one for `None`) out of `snapshot`.
    pub fn new(snapshot: &Snapshot, ids: Option<RangeInclusive<u64>>) -> Self {
        let pieces = ids.map_or_else(Vec::new, |ids| snapshot.pieces(ids, MAX_PIECE));
        EntriesBody {
            length: pieces.iter().map(|p| p.len() as u64).sum(),
            pieces: pieces.into_iter(),
        }
    }
}

impl MessageBody for EntriesBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.length)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.get_mut().pieces.next().map(Ok))
    }
}
