//! `repo.graph`: the workspace as directory and file nodes joined by containment edges.
//!
//! The walk honours `.gitignore` (also outside a git checkout), `.ignore` and git's global
//! excludes through the `ignore` crate (ripgrep's walker), skips hidden entries, visits
//! names in sorted order so the graph is deterministic, and stops at the node cap.

use serde_json::{Value, json};
use std::path::Path;

pub fn build(root: &Path, max_nodes: usize) -> Value {
    let walker = ignore::WalkBuilder::new(root)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut truncated = false;
    for entry in walker {
        // An unreadable directory is left out; the rest of the graph is still useful.
        let Ok(entry) = entry else { continue };
        if nodes.len() >= max_nodes {
            truncated = true;
            break;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let id = node_id(rel);
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        nodes.push(json!({"id": id, "kind": if is_dir { "dir" } else { "file" }}));
        if entry.depth() > 0 {
            let parent = rel.parent().map_or_else(|| ".".to_string(), node_id);
            edges.push(json!({"from": parent, "to": id}));
        }
    }
    json!({
        "root": root.to_string_lossy(),
        "nodes": nodes,
        "edges": edges,
        "node_count": nodes.len(),
        "truncated": truncated,
    })
}

/// A node's id: its path relative to the root with `/` separators; the root is `.`.
fn node_id(rel: &Path) -> String {
    let s = rel.to_string_lossy();
    if s.is_empty() {
        ".".into()
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_edges_gitignore_and_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/inner")).unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
        std::fs::write(root.join("src/main.rs"), "").unwrap();
        std::fs::write(root.join("src/inner/x.rs"), "").unwrap();
        std::fs::write(root.join("build.log"), "").unwrap();
        std::fs::write(root.join("README.md"), "").unwrap();
        let g = build(root, 100);
        let ids: Vec<&str> = g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                ".",
                "README.md",
                "src",
                "src/inner",
                "src/inner/x.rs",
                "src/main.rs"
            ]
        );
        assert_eq!(g["truncated"], false);
        assert!(
            g["edges"]
                .as_array()
                .unwrap()
                .contains(&json!({"from": "src/inner", "to": "src/inner/x.rs"}))
        );
        assert_eq!(g["nodes"][2]["kind"], "dir");
        let capped = build(root, 3);
        assert_eq!(capped["node_count"], 3);
        assert_eq!(capped["truncated"], true);
    }
}
