//! What every HTTP listener of the service shares: how an actix-web server is built and run
//! ([`server`]), and how a request body is read within a limit ([`body`]).

pub mod body;
pub mod server;

pub use server::{bind, BoundServer, HttpSettings, RunningServer, MAX_BODY_PIECE, WRITE_BUFFER};
