//! Support for `tests/interop.rs`: installing and driving the peers under `interop/`,
//! bounded child processes, and tampering with peer tokens.

pub mod http;
pub mod peers;
pub mod process;
pub mod tamper;
