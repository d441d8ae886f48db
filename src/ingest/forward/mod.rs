//! Fluent Forward protocol input: framing of the TCP byte stream into messages ([`frame`]) and
//! decoding of one message into a renderable batch ([`message`]).

pub mod batch;
pub mod connection;
pub mod frame;
pub mod handshake;
pub mod listener;
pub mod message;
pub mod options;
pub mod payload;
