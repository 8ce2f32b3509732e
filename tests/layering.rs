//! Checks the dependency rules of DESIGN.md §2 with `cargo metadata`: edges point down
//! only (binary → httpd/net/providers → core → vfs), and net and httpd never import each
//! other.

use std::collections::{BTreeMap, BTreeSet};

fn workspace_edges() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut edges = BTreeMap::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().unwrap_or_default().to_string();
        let deps: BTreeSet<String> = pkg["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .filter(|n| n.starts_with("sftpgo"))
            .map(str::to_string)
            .collect();
        edges.insert(name, deps);
    }
    edges
}

#[test]
fn dependency_edges_point_down_only() {
    let edges = workspace_edges();
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("sftpgo-vfs", &[][..]),
        ("sftpgo-core", &["sftpgo-vfs"][..]),
        ("sftpgo-providers", &["sftpgo-core"][..]),
        ("sftpgo-net", &["sftpgo-core", "sftpgo-vfs"][..]),
        ("sftpgo-httpd", &["sftpgo-core", "sftpgo-vfs"][..]),
        (
            "sftpgo",
            &[
                "sftpgo-core",
                "sftpgo-vfs",
                "sftpgo-providers",
                "sftpgo-net",
                "sftpgo-httpd",
            ][..],
        ),
    ]);
    assert_eq!(
        edges.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        allowed.keys().copied().collect::<BTreeSet<_>>(),
        "workspace members changed: update DESIGN.md and this test together"
    );
    for (pkg, deps) in &edges {
        let ok = allowed[pkg.as_str()];
        for d in deps {
            assert!(
                ok.contains(&d.as_str()),
                "{pkg} must not depend on {d} (DESIGN.md §2)"
            );
        }
    }
}
