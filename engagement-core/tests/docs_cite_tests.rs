//! docs/reliability.md pins each case and each fixed bug to tests by name (`file::`name``):
//! every name it cites is a function somewhere in the workspace, so that a removed or renamed
//! test cannot leave the document citing what no longer runs.

use std::path::{Path, PathBuf};

/// The Rust files under `dir`, but for build output and hidden folders.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_test_reliability_md_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let doc = std::fs::read_to_string(root.join("docs/reliability.md")).expect("the document");
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let sources: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    let cited: Vec<&str> = doc
        .split("::`")
        .skip(1)
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .collect();
    assert!(
        cited.len() > 100,
        "the document cites {} tests",
        cited.len()
    );
    let missing: Vec<&str> = cited
        .into_iter()
        .filter(|name| {
            !sources.contains(&format!("fn {name}(")) && !sources.contains(&format!("fn {name}<"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reliability.md cites tests that do not exist: {missing:?}"
    );
}
