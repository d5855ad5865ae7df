//! End-to-end tests of the `newshound` binary. One test binary, one module per area.

mod corpus;
mod support;
mod test_rule;
