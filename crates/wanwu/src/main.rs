//! The `wanwu` binary: command line and wiring only.
fn main() {}
