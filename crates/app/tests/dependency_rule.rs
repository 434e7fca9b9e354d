//! The dependency rule of the README ("Crates"), checked against the workspace's manifests:
//! the core depends on no crate of the workspace; adapters and inbound HTTP on the core only;
//! the composition root on those; only hosts (the Lambdas, the dev server, the bench) and tests
//! on the composition root. A Lambda crate's library — its handlers — names no adapter and not
//! the composition root: only its `main.rs` does. Dev-dependencies are not checked: tests may
//! use any crate.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const LAMBDAS: [&str; 5] = [
    "create-order",
    "orders-api",
    "payment-webhook",
    "post-payment-worker",
    "cleanup",
];

/// Which workspace crates each crate may depend on (normal dependencies).
fn allowed(name: &str) -> Option<&'static [&'static str]> {
    const ADAPTERS_AND_HTTP: [&str; 5] = [
        "oms-core",
        "oms-http",
        "oms-memory",
        "oms-aws",
        "oms-providers",
    ];
    Some(match name {
        "oms-core" => &[],
        "oms-memory" | "oms-aws" | "oms-providers" | "oms-http" => &["oms-core"],
        "oms-app" => &ADAPTERS_AND_HTTP,
        n if LAMBDAS.contains(&n) => &["oms-core", "oms-http", "oms-app"],
        // Hosts and tests: the dev server mounts the Lambdas' routers; the bench and the
        // black-box tests drive everything.
        "dev-server" | "oms-bench" | "oms-e2e" => return None,
        _ => &[],
    })
}

/// Each workspace crate's normal dependencies on other workspace crates.
fn workspace_graph() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
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
    let members: Vec<&str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| members.contains(d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), deps)
        })
        .collect()
}

#[test]
fn every_arrow_between_crates_points_the_allowed_way() {
    let graph = workspace_graph();
    assert!(graph.len() >= 13, "the whole workspace was read: {graph:?}");
    let mut wrong = Vec::new();
    for (name, deps) in &graph {
        let Some(may) = allowed(name) else { continue };
        for d in deps.iter().filter(|d| !may.contains(&d.as_str())) {
            wrong.push(format!("{name} -> {d}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies that break the rule in README.md (\"Crates\"): {}",
        wrong.join(", ")
    );
}

#[test]
fn a_lambdas_handlers_name_no_adapter_only_its_main_wires_them() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut wrong = Vec::new();
    for lambda in LAMBDAS {
        let src = crates.join(lambda).join("src");
        for entry in std::fs::read_dir(&src).expect("src") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "main.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for adapter in ["oms_app", "oms_aws", "oms_memory", "oms_providers"] {
                if text.contains(&format!("{adapter}::")) {
                    wrong.push(format!("{} uses {adapter}", path.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A Lambda built on its own (`cargo build --release -p <function>`): only the worker, which
/// stores invoices, and orders-api, which pre-signs links to digital products' files, compile
/// the S3 client. (Built together, the others still do not link it: nothing they run
/// constructs one.)
#[test]
fn only_the_worker_and_orders_api_link_the_s3_client() {
    for lambda in LAMBDAS {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                lambda,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.lines().any(|l| l.starts_with("aws-sdk-dynamodb ")),
            "{lambda}: {tree}"
        );
        let s3 = tree.lines().any(|l| l.starts_with("aws-sdk-s3 "));
        assert_eq!(
            s3,
            matches!(lambda, "post-payment-worker" | "orders-api"),
            "{lambda} links aws-sdk-s3: {s3}"
        );
    }
}
