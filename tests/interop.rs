//! Interoperability with a client nobody here wrote: the official MCP Python SDK, talking
//! to the daemon through `ide-agentsd connect`, in both the legacy and stateless eras.
//!
//! The interpreter comes from `IDE_AGENTS_TEST_PYTHON`, else the repository's `.venv`
//! (`scripts/test.sh` creates it with the SDK installed).

mod common;

use common::BIN;
use std::path::PathBuf;
use std::process::Command;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("IDE_AGENTS_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "the interop test needs Python with the `mcp` SDK: run scripts/test.sh, or set IDE_AGENTS_TEST_PYTHON"
    );
    venv
}

#[test]
fn the_official_python_sdk_lists_and_calls_tools_through_connect() {
    // The script reads this snippet back through the SDK.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("kb")).expect("kb dir");
    std::fs::write(
        dir.path().join("kb/intro.md"),
        "# Intro\n\nThe interop snippet body.\n",
    )
    .expect("kb snippet");
    // It runs a command, approved through the SDK's elicitation callback.
    let backend = common::Backend::start();
    let d = common::daemon_for(&backend)
        .dir(dir)
        .env("IDE_AGENTS_KB_DIR", "kb")
        .start();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sdk_client.py");
    let out = Command::new(python())
        .arg(script)
        .arg(BIN)
        .arg(&d.socket)
        .output()
        .expect("run the SDK client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("legacy: protocol 2025-11-25"), "{stdout}");
    assert!(stdout.contains("auto: protocol 2026-07-28"), "{stdout}");
    assert!(stdout.contains("resources ok, prompts ok"), "{stdout}");
    for mode in ["legacy", "auto"] {
        let said = format!("{mode} elicitation: accepted command ran, declined command refused");
        assert!(stdout.contains(&said), "{stdout}");
    }
    assert_eq!(backend.hits("POST /command"), 2);
}
