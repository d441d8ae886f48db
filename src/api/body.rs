//! Response bodies: the stored entries of a stream read, a small fixed text, or a live follow
//! ([`super::follow::FollowBody`]) that goes on as entries are published.

use super::era_bc::EraBcBody;
use super::follow::FollowBody;
use crate::http::MAX_BODY_PIECE;
use crate::stream::Snapshot;
use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use std::convert::Infallible;
use std::ops::RangeInclusive;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A response body. A fixed one is `Bytes` pieces handed to actix as they are, with their
/// total length known up front (so the response carries `Content-Length`, HEAD included); a
/// live one has no length and is sent chunked.
pub enum ApiBody {
    /// A complete answer.
    Fixed {
        /// What is left to send.
        pieces: std::vec::IntoIter<Bytes>,
        /// Its length.
        remaining: u64,
    },
    /// A follow (NDJSON or Server-Sent Events).
    Live(Box<FollowBody>),
    /// Era-B/C log objects, rendered as they are sent (`/api/v1/logs`).
    EraBc(Box<EraBcBody>),
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
        ApiBody::Fixed {
            remaining: pieces.iter().map(|p| p.len() as u64).sum(),
            pieces: pieces.into_iter(),
        }
    }
}

impl MessageBody for ApiBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        match self {
            ApiBody::Fixed { remaining, .. } => BodySize::Sized(*remaining),
            ApiBody::Live(_) | ApiBody::EraBc(_) => BodySize::Stream,
        }
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        match self.get_mut() {
            ApiBody::Fixed { pieces, remaining } => Poll::Ready(pieces.next().map(|piece| {
                *remaining -= piece.len() as u64;
                Ok(piece)
            })),
            ApiBody::Live(follow) => follow.poll_piece(cx).map(|piece| piece.map(Ok)),
            ApiBody::EraBc(body) => Poll::Ready(body.next_piece().map(Ok)),
        }
    }
}
