//! Subcommands of the `unravel` program, one module each.

pub mod analyze;
pub mod bench;
pub mod eval;
pub mod experiment;
pub mod forward;
pub mod model_args;
pub mod model_dir;
pub mod parity;
pub mod plot;
pub mod presets;
pub mod summary;
pub mod train;
