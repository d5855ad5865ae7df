//! Helpers shared by the end-to-end tests.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs the real `newshound` binary with `args`, feeding `stdin` when given.
pub fn newshound(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(args)
        .env_remove("NEWSHOUND_CONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the newshound binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes())
            .expect("stdin accepts the text");
    }
    drop(pipe);
    child.wait_with_output().expect("newshound runs to the end")
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
