//! Test infrastructure shared by the workspace's tests: a moto server per test, free local
//! ports, and the pieces of a scripted local HTTP endpoint (read one request, write an answer).
//!
//! A dev-dependency only; it depends on no workspace crate, so every crate (`postoffice` too)
//! can use it in its tests.

mod http;
mod moto;

pub use http::{
    ReceivedRequest, http_response, read_http_request, read_http_request_blocking,
    write_http_response,
};
pub use moto::{Moto, free_port};
