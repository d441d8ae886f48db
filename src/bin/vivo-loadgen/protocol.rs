//! The seam between the driver (connections, pacing, timing) and a wire protocol.
//!
//! The driver knows nothing of any protocol's bytes: it asks a [`Protocol`] for message number
//! `seq`, writes its parts, and, when the message carries an ack token, reads from the connection
//! until [`Protocol::parse_ack`] finds the acknowledgement. Adding a protocol (OTLP/HTTP, the
//! HTTP JSON input, …) means one more implementation of the trait and one more `--protocol`
//! value.

use bytes::Bytes;

/// One wire message: a batch of events, ready to write.
pub struct Message {
    /// The bytes to write, in order. Several parts let a pre-encoded body be shared between
    /// messages without copying it.
    pub parts: Vec<Bytes>,
    /// The token the server's acknowledgement will echo, when this message asks for one.
    pub ack_token: Option<Vec<u8>>,
}

/// An acknowledgement found at the front of the connection's received bytes.
pub struct Ack {
    /// How many bytes it took: the driver drops them before looking for the next one.
    pub consumed: usize,
    /// The token it echoes.
    pub token: Vec<u8>,
}

/// A protocol the generator can speak.
pub trait Protocol: Send + Sync {
    /// The name shown in reports.
    fn name(&self) -> &'static str;

    /// How many events every message carries.
    fn events_per_message(&self) -> u64;

    /// Message number `seq` of the run (numbers are unique across connections), encoding a batch
    /// of [`Protocol::events_per_message`] events.
    fn message(&self, seq: u64) -> Message;

    /// Looks for one complete acknowledgement at the front of `received`: `Ok(None)` when more
    /// bytes are needed, an error when the bytes can never be an acknowledgement.
    fn parse_ack(&self, received: &[u8]) -> Result<Option<Ack>, String>;
}
