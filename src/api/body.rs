//! The response body of a stream read: the stored entries, handed out as they are.

use crate::stream::Snapshot;
use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Streams the entries of an ID range out of a snapshot it holds, one `Bytes` handle per entry:
/// no rendering, no concatenation, no copy of entry data on our side. The length is known up
/// front, so the response carries `Content-Length`.
pub struct EntriesBody {
    snapshot: Arc<Snapshot>,
    next: u64,
    last: u64,
    length: u64,
}

impl EntriesBody {
    /// A body for `ids` (or an empty one for `None`) out of `snapshot`.
    pub fn new(snapshot: Arc<Snapshot>, ids: Option<RangeInclusive<u64>>) -> Self {
        match ids {
            Some(ids) => EntriesBody {
                length: snapshot.bytes_in(ids.clone()),
                next: *ids.start(),
                last: *ids.end(),
                snapshot,
            },
            None => EntriesBody {
                snapshot,
                next: 1,
                last: 0,
                length: 0,
            },
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
        let this = self.get_mut();
        while this.next <= this.last {
            let id = this.next;
            this.next += 1;
            if let Some(entry) = this.snapshot.get(id) {
                return Poll::Ready(Some(Ok(entry.clone())));
            }
        }
        Poll::Ready(None)
    }
}
