//! What every HTTP listener of the service shares: how an actix-web server is built and run
//! ([`server`]), the connection limit of a listener ([`gate`]), the connection type that is
//! plain or TLS ([`io`]), how HTTP/2 with prior knowledge is recognised ([`preface`]), how a
//! request body is read within a limit ([`body`]), and the bearer token check ([`auth`]).

pub mod auth;
pub mod body;
pub mod gate;
pub mod io;
pub mod preface;
pub mod server;

pub use gate::ConnectionGate;
pub use server::{
    bind, BoundServer, GrpcSpawner, HttpSettings, RunningServer, H2, MAX_BODY_PIECE, WRITE_BUFFER,
};
