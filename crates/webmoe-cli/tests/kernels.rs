//! Which kernel forms run, as `webmoe adapter` and `webmoe bench` report them, and
//! `WEBMOE_PORTABLE=1` forcing the portable ones.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn webmoe_json(args: &[&str], portable: bool) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webmoe"));
    cmd.args(args).env("XDG_RUNTIME_DIR", std::env::var("XDG_RUNTIME_DIR").unwrap_or_else(|_| "/tmp".into()));
    if portable {
        cmd.env("WEBMOE_PORTABLE", "1");
    } else {
        cmd.env_remove("WEBMOE_PORTABLE");
    }
    let out = cmd.output().expect("run webmoe");
    assert!(out.status.success(), "webmoe {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn webmoe_portable_leaves_out_subgroups_and_f16() {
    let a = webmoe_json(&["adapter", "--json"], true);
    assert_eq!(a["features"]["subgroups"], false, "{a}");
    assert_eq!(a["features"]["shader_f16"], false, "{a}");
    assert_eq!(a["kernels"]["portable"], true, "{a}");
    assert!(!a["kernels"]["matvec"]["reduce"].as_str().unwrap_or("").starts_with("subgroup"), "{a}");
}

#[test]
fn adapter_and_bench_name_the_same_forms() {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/oracle/mixtral-q4_0/model.gguf");
    let a = webmoe_json(&["adapter", "--json"], false);
    let b = webmoe_json(&["bench", "-m", &model.display().to_string(), "-p", "2", "-n", "2", "-r", "1", "--json"], false);
    assert!(a["kernels"]["matvec"]["rows"].as_u64().is_some(), "{a}");
    assert_eq!(a["kernels"], b["kernels"], "adapter {a}\nbench {b}");
}
