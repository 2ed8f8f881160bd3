use super::extract;
use crate::manager::{DependencyKind, SkipReason};

crate::manager::test_kit::kit_tests!(Manager::Cargo);

#[test]
fn matches_file_names() {
    assert!(super::matches("Cargo.toml"));
    assert!(super::matches("crates/x/Cargo.lock"));
    assert!(super::matches("rust-toolchain"));
    assert!(super::matches("a/rust-toolchain.toml"));
    assert!(!super::matches("Cargo.toml.orig"));
}

#[test]
fn workspace_inheritance_and_renames() {
    let text = "[workspace.dependencies]\nserde = \"1.0.1\"\n\n[dependencies]\nserde = { workspace = true, optional = true }\njson = { package = \"serde_json\", version = \"1\" }\n";
    let out = extract("Cargo.toml", text);
    let names: Vec<_> = out
        .dependencies
        .iter()
        .map(|d| (d.name.as_str(), d.requirement.as_deref(), d.kind, d.skip))
        .collect();
    assert_eq!(
        names,
        vec![
            ("serde", Some("1.0.1"), DependencyKind::Managed, None),
            (
                "serde",
                None,
                DependencyKind::Optional,
                Some(SkipReason::Workspace)
            ),
            ("serde_json", Some("1"), DependencyKind::Normal, None),
        ]
    );
}

#[test]
fn invalid_toml_is_a_warning_with_line() {
    let out = extract("Cargo.toml", "[dependencies]\nserde = \"1\n");
    assert!(out.dependencies.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings.first().and_then(|w| w.line), Some(2));
}

#[test]
fn lockfile_direct_flags() {
    let text = "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa 1.0.1\", \"ryu\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"itoa\"\nversion = \"0.4.8\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"ryu\"\nversion = \"1.0.18\"\nsource = \"sparse+https://index.example.invalid/\"\n";
    let out = extract("Cargo.lock", text);
    let locks: Vec<_> = out
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.version.as_str(), l.direct))
        .collect();
    assert_eq!(
        locks,
        vec![
            ("itoa", "1.0.1", true),
            ("itoa", "0.4.8", false),
            ("ryu", "1.0.18", true)
        ]
    );
}

#[test]
fn toolchain_files() {
    let out = extract("rust-toolchain", "1.78.0\n");
    let dep = out.dependencies.first().expect("one toolchain");
    assert_eq!(
        (dep.name.as_str(), dep.requirement.as_deref()),
        ("rust", Some("1.78.0"))
    );
    assert_eq!(dep.skip, None);
    let out = extract("rust-toolchain.toml", "[toolchain]\nchannel = \"stable\"\n");
    let dep = out.dependencies.first().expect("one toolchain");
    assert_eq!(dep.skip, Some(SkipReason::NoVersion));
}
