//! End-to-end tests of the `newshound` binary. One test binary, one module per area.

mod alerts;
mod config;
mod corpus;
mod crash;
mod daemon;
mod fetch;
mod fuzz_regressions;
mod hostile;
mod ingest;
mod secure;
mod smtp_server;
mod soak;
mod support;
mod test_rule;
mod tls;
