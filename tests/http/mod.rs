//! The HTTP API against a real server on 127.0.0.1 (an ephemeral port), with a real HTTP
//! client: every endpoint, every error status, the spec's examples, and the allowlist taking
//! effect on the next request.
//!
//! The server trusts 127.0.0.0/8 as a proxy writing `X-Forwarded-For`, so each request picks its
//! client address with that header while the traffic stays on loopback.

mod endpoints;
mod errors;
mod harness;
mod hostile;
mod keys;
mod layer;
