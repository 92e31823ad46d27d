//! `repo.graph`: the workspace as directory and file nodes joined by containment edges.
//!
//! The walk honours `.gitignore` as git does, `.ignore` and git's global excludes through
//! the `ignore` crate (ripgrep's walker), skips hidden entries, does not follow symlinks,
//! visits names in sorted order so the graph is deterministic, and stops at the node cap.

use serde_json::{Value, json};
use std::path::Path;

pub fn build(root: &Path, max_nodes: usize) -> Value {
    // Git reads the `.gitignore` files of a checkout from its top down and none above it;
    // outside a checkout only the workspace's own apply. Without this, the `*` that a
    // bare-repository dotfiles setup puts in `$HOME/.gitignore` (no `$HOME/.git`) hid
    // every workspace below it. Inside a checkout of `$HOME` itself, git's rules are kept.
    let absolute = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let in_checkout = absolute.ancestors().any(|dir| dir.join(".git").exists());
    let walker = ignore::WalkBuilder::new(root)
        .require_git(in_checkout)
        .parents(in_checkout)
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
        // A symlink is not followed (it may lead out of the workspace, or loop).
        let kind = match entry.file_type() {
            Some(t) if t.is_dir() => "dir",
            Some(t) if t.is_symlink() => "symlink",
            _ => "file",
        };
        nodes.push(json!({"id": id, "kind": kind}));
        if entry.depth() > 0 {
            let parent = rel.parent().map_or_else(|| ".".to_string(), node_id);
            edges.push(json!({"from": parent, "to": id}));
        }
    }
    let mut graph = json!({
        "root": root.to_string_lossy(),
        "nodes": nodes,
        "edges": edges,
        "node_count": nodes.len(),
        "truncated": truncated,
    });
    // An empty graph should not look like an empty workspace.
    if let Err(e) = std::fs::read_dir(root) {
        graph["note"] = json!(format!(
            "The workspace {} cannot be read ({e}); set IDE_AGENTS_WORKSPACE to the project directory.",
            root.display()
        ));
    }
    graph
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
        assert!(g.get("note").is_none());
    }

    fn ids(g: &Value) -> Vec<&str> {
        g["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn ignore_files_above_the_workspace_apply_only_inside_a_checkout() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        // A dotfiles checkout would ignore everything it does not track.
        std::fs::write(home.join(".gitignore"), "*\n").unwrap();
        let plain = home.join("plain");
        std::fs::create_dir_all(plain.join("src")).unwrap();
        std::fs::write(plain.join("src/main.rs"), "").unwrap();
        assert_eq!(ids(&build(&plain, 100)), [".", "src", "src/main.rs"]);

        // A checkout of its own: the home's rules stop at its top.
        let repo = home.join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("app")).unwrap();
        std::fs::write(repo.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(repo.join("app/run.log"), "").unwrap();
        std::fs::write(repo.join("app/lib.rs"), "").unwrap();
        assert_eq!(ids(&build(&repo, 100)), [".", "app", "app/lib.rs"]);
        // A workspace inside the checkout still gets the checkout's rules.
        assert_eq!(ids(&build(&repo.join("app"), 100)), [".", "lib.rs"]);
    }

    #[test]
    fn symlinks_are_nodes_of_their_own_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink("/etc", root.join("etclink")).unwrap();
        std::os::unix::fs::symlink("..", root.join("loop")).unwrap();
        let g = build(root, 100);
        assert_eq!(ids(&g), [".", "etclink", "loop"]);
        assert_eq!(g["nodes"][1]["kind"], "symlink");
        assert_eq!(g["nodes"][2]["kind"], "symlink");
    }

    #[test]
    fn a_workspace_that_cannot_be_read_says_so() {
        let g = build(Path::new("/nonexistent/workspace"), 100);
        assert_eq!(g["node_count"], 0);
        let note = g["note"].as_str().unwrap();
        assert!(note.contains("/nonexistent/workspace"), "{note}");
        assert!(note.contains("IDE_AGENTS_WORKSPACE"), "{note}");
    }
}
