//! End-to-end tests of the `newshound` binary. One test binary, one module per area.

mod config;
mod corpus;
mod fetch;
mod ingest;
mod support;
mod test_rule;
