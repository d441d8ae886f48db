//! Reading a request body into memory within a limit: refused from its declared
//! `Content-Length` before a byte is buffered, and again as soon as what arrives passes it.

use actix_web::web::Payload;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is, or declares to be, larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The client went away or sent a broken body.
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// Reads the whole body, at most `limit` bytes. `declared` is the `Content-Length`, if any;
/// `first_allocation` caps how much is reserved up front (the buffer grows from there).
pub async fn read_limited(
    mut payload: Payload,
    declared: Option<u64>,
    limit: usize,
    first_allocation: usize,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let reserve = declared
        .map_or(first_allocation, |n| n as usize)
        .min(first_allocation);
    let mut body = BytesMut::with_capacity(reserve);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
