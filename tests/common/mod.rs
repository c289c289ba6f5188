//! Helpers shared by the command-line tests (`cli.rs`, `experiment_cli.rs`): run the `unravel`
//! binary as a user does, read the JSON line it ends with.

use std::process::Command;

/// Runs `unravel ARGUMENTS…`: (exit status success, stdout, stderr).
pub fn unravel(arguments: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_unravel"))
        .args(arguments)
        .output()
        .expect("the unravel binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The last line of `stdout`, parsed as JSON.
pub fn last_json(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().last().expect("some output");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {line}"))
}
