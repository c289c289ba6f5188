//! Subcommands of the `unravel` program, one module each.

pub mod bench;
