//! Reading a request body into memory within a limit: refused from its declared
//! `Content-Length` before a byte is buffered, and again as soon as what arrives passes it; and
//! within the input's memory budget, shared by every body being read at once.

use std::sync::Arc;

use actix_web::web::Payload;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::ingest::budget::{FrameBudget, Held};

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is, or declares to be, larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The bodies being read on every connection of the input would pass its `mem_buf_limit`.
    #[error("the input is holding its limit of {limit} bytes of request bodies; retry later")]
    OverBudget {
        /// The input's `mem_buf_limit`.
        limit: usize,
    },
    /// The client went away or sent a broken body.
    #[error("the request body could not be read: {0}")]
    Read(String),
}

/// How a body may be read: its largest size, the first allocation (the buffer grows from
/// there), and the input's budget.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// `buffer_max_size`.
    pub max: usize,
    /// `buffer_chunk_size`.
    pub first_allocation: usize,
    /// `mem_buf_limit`, shared by every connection of the input.
    pub budget: Arc<FrameBudget>,
}

/// Reads the whole body, at most `limits.max` bytes. `declared` is the `Content-Length`, if
/// any. What the buffer holds counts against the input's budget while it is read; the body
/// returned is the caller's (it is soon handed to the pipeline, whose own budget bounds it).
pub async fn read_limited(
    mut payload: Payload,
    declared: Option<u64>,
    limits: &BodyLimits,
) -> Result<Bytes, BodyError> {
    let limit = limits.max;
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let over_budget =
        |e: crate::ingest::budget::OverBudget| BodyError::OverBudget { limit: e.limit };
    let mut held = Held::new(limits.budget.clone());
    if let Some(n) = declared {
        held.hold(n as usize).map_err(over_budget)?;
    }
    let reserve = declared
        .map_or(limits.first_allocation, |n| n as usize)
        .min(limits.first_allocation);
    let mut body = BytesMut::with_capacity(reserve);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
        if declared.is_none() {
            held.hold(body.len()).map_err(over_budget)?;
        }
    }
    Ok(body.freeze())
}
