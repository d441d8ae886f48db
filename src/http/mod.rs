//! What every HTTP listener of the service shares: how an actix-web server is built and run
//! ([`server`]), the same with gRPC connections split off on one port ([`split`]), and how a
//! request body is read within a limit ([`body`]).

pub mod body;
pub mod server;
pub mod split;

pub use server::{bind, BoundServer, HttpSettings, RunningServer, MAX_BODY_PIECE, WRITE_BUFFER};
