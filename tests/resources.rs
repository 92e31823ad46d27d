//! Resources through the real daemon: listing, pagination, reading in both eras, both forms
//! (MCP method and `ide_agents_resource`), confinement, subscriptions, cache hints, reload.

mod common;

use common::{Client, Daemon, daemon};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const INTRO: &str = "# Intro\n\nThe first snippet.\n";

/// A daemon whose working directory holds a kb directory, a build log and a workspace.
fn daemon_with_content(extra: &[(&str, &str)]) -> Daemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("kb")).unwrap();
    std::fs::write(root.join("kb/intro.md"), INTRO).unwrap();
    std::fs::write(root.join("kb/guide.md"), "# Guide\n").unwrap();
    std::fs::write(root.join("kb/notes.txt"), "not markdown").unwrap();
    std::fs::write(root.join("secret.md"), "TOP SECRET").unwrap();
    std::os::unix::fs::symlink(root.join("secret.md"), root.join("kb/escape.md")).unwrap();
    std::fs::create_dir_all(root.join("ws/src")).unwrap();
    std::fs::create_dir_all(root.join("ws/ignored")).unwrap();
    std::fs::write(root.join("ws/.gitignore"), "ignored/\n").unwrap();
    std::fs::write(root.join("ws/src/lib.rs"), "").unwrap();
    std::fs::write(root.join("ws/ignored/big.bin"), "").unwrap();
    std::fs::write(root.join("build.log"), "0123456789abcdefghij").unwrap();
    daemon()
        .dir(dir)
        .env("IDE_AGENTS_KB_DIR", "kb")
        .env("IDE_AGENTS_WORKSPACE", "ws")
        .env("IDE_AGENTS_BUILD_LOG", "build.log")
        .env("IDE_AGENTS_BUILD_LOG_TAIL_BYTES", "10")
        .envs(extra)
        .start()
}

fn kb(d: &Daemon) -> std::path::PathBuf {
    d.dir.path().join("kb")
}

/// Every resource of `resources/list`, following `nextCursor`.
fn list_all(c: &mut Client, modern: bool) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let r = if modern {
            c.call_modern("resources/list", params)
        } else {
            c.call("resources/list", params)
        };
        let result = &r["result"];
        all.extend(result["resources"].as_array().expect("resources").clone());
        pages += 1;
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (all, pages),
        }
    }
}

fn read_text(c: &mut Client, uri: &str) -> String {
    let r = c.call_modern("resources/read", json!({"uri": uri}));
    r["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text for {uri}: {r}"))
        .to_string()
}

#[test]
fn resources_are_listed_in_order_and_paginated() {
    let d = daemon_with_content(&[("IDE_AGENTS_PAGE_SIZE", "2")]);
    let mut c = d.client();
    let (all, pages) = list_all(&mut c, true);
    let names: Vec<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
    // Hidden, non-markdown and escaping files are not listed.
    assert_eq!(
        names,
        [
            "repo.graph",
            "build.logs",
            "kb.snippet",
            "kb.snippet/guide",
            "kb.snippet/intro"
        ]
    );
    assert_eq!(pages, 3);
    assert_eq!(all[4]["uri"], "ide-agents://kb.snippet/intro");
    assert_eq!(all[4]["mimeType"], "text/markdown");
    let bad = c.call_modern("resources/list", json!({"cursor": "prompts:2"}));
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    let t = c.call_modern("resources/templates/list", json!({}));
    assert_eq!(
        t["result"]["resourceTemplates"][0]["uriTemplate"],
        "ide-agents://kb.snippet/{name}"
    );
    // The tool form lists the same names in the same order, unpaginated.
    let tool = c.call_tool("ide_agents_resource", json!({}));
    let tool_names: Vec<&str> = tool["structuredContent"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(tool_names, names);
}

#[test]
fn every_resource_reads_the_same_through_the_method_and_the_tool() {
    let d = daemon_with_content(&[]);
    let mut c = d.client();
    let (all, _) = list_all(&mut c, true);
    for r in &all {
        let uri = r["uri"].as_str().unwrap();
        let name = r["name"].as_str().unwrap();
        let method_text = read_text(&mut c, uri);
        let tool = c.call_tool(
            "ide_agents_resource",
            json!({"method": "get", "name": name}),
        );
        assert_eq!(tool["isError"], false, "{tool}");
        assert_eq!(tool["structuredContent"]["name"], name);
        assert_eq!(
            tool["structuredContent"]["content"], method_text,
            "{name} differs"
        );
    }
    assert_eq!(read_text(&mut c, "ide-agents://kb.snippet/intro"), INTRO);
    // The last 10 bytes of the build log.
    assert_eq!(read_text(&mut c, "ide-agents://build.logs"), "abcdefghij");
    let index = read_text(&mut c, "ide-agents://kb.snippet");
    assert!(index.contains("ide-agents://kb.snippet/guide"), "{index}");
    let graph: Value = serde_json::from_str(&read_text(&mut c, "ide-agents://repo.graph")).unwrap();
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [".", "src", "src/lib.rs"], "{graph}");
    assert_eq!(graph["truncated"], false);
}

#[test]
fn the_graph_is_capped_and_the_build_log_has_a_placeholder_when_unset() {
    let d = daemon().env("IDE_AGENTS_REPO_GRAPH_MAX_NODES", "2").start();
    let mut c = d.client();
    let graph: Value = serde_json::from_str(&read_text(&mut c, "ide-agents://repo.graph")).unwrap();
    assert_eq!(graph["truncated"], true);
    assert_eq!(graph["node_count"], 2);
    let log = read_text(&mut c, "ide-agents://build.logs");
    assert!(log.contains("IDE_AGENTS_BUILD_LOG"), "{log}");
}

#[test]
fn names_outside_the_kb_directory_are_refused_in_both_forms() {
    let d = daemon_with_content(&[]);
    let mut legacy = d.initialized_client();
    let mut modern = d.client();
    let attempts = [
        "ide-agents://kb.snippet/../secret",
        "ide-agents://kb.snippet/..%2fsecret",
        "ide-agents://kb.snippet//etc/passwd",
        "ide-agents://kb.snippet/escape",
        "ide-agents://kb.snippet/missing",
        "ide-agents://nope",
        "file:///etc/passwd",
    ];
    for uri in attempts {
        let r = legacy.call("resources/read", json!({"uri": uri}));
        assert_eq!(r["error"]["code"], -32002, "{uri}: {r}");
        let r = modern.call_modern("resources/read", json!({"uri": uri}));
        assert_eq!(r["error"]["code"], -32602, "{uri}: {r}");
        assert!(!r.to_string().contains("TOP SECRET"));
        let name = uri.strip_prefix("ide-agents://").unwrap_or(uri);
        let t = modern.call_tool(
            "ide_agents_resource",
            json!({"method": "get", "name": name}),
        );
        assert_eq!(t["isError"], true, "{name}: {t}");
        assert_eq!(t["structuredContent"]["error"]["code"], "not_found", "{t}");
        assert!(!t.to_string().contains("TOP SECRET"));
    }
    // A link that leads out is told apart from a missing name in neither form.
    let mut said = |name: &str| {
        let t = modern.call_tool(
            "ide_agents_resource",
            json!({"method": "get", "name": format!("kb.snippet/{name}")}),
        );
        t["content"][0]["text"]
            .as_str()
            .unwrap()
            .replace(name, "NAME")
    };
    assert_eq!(said("escape"), said("missing"));
    let t = modern.call_tool("ide_agents_resource", json!({"method": "get"}));
    assert_eq!(
        t["structuredContent"]["error"]["code"], "invalid_arguments",
        "{t}"
    );
}

/// Reads the next notification named `method`, skipping anything else (bounded by the
/// client's read timeout).
fn wait_for_notification(c: &mut Client, method: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert!(Instant::now() < deadline, "no {method} notification");
        let msg = c.read().expect("daemon closed the connection");
        if msg["method"] == method {
            return msg;
        }
    }
}

#[test]
fn a_changed_file_is_read_fresh_and_its_subscribers_are_notified() {
    let d = daemon_with_content(&[]);
    let uri = "ide-agents://kb.snippet/intro";
    let mut watcher = d.initialized_client();
    // Handshaken, subscribed to nothing: told of list changes all the same.
    let mut lister = d.initialized_client();
    let mut reader = d.client();
    assert_eq!(read_text(&mut reader, uri), INTRO);
    let r = watcher.call("resources/subscribe", json!({"uri": uri}));
    assert_eq!(r["result"], json!({}), "{r}");
    // Subscribing to what does not exist is the unknown-resource error.
    let r = watcher.call(
        "resources/subscribe",
        json!({"uri": "ide-agents://kb.snippet/../secret"}),
    );
    assert_eq!(r["error"]["code"], -32002, "{r}");

    std::fs::write(
        kb(&d).join("intro.md"),
        "# Intro\n\nRewritten, longer than before.\n",
    )
    .unwrap();
    // The very next read is fresh: reads check the file, they do not wait for the poll.
    assert!(read_text(&mut reader, uri).contains("Rewritten"));
    let n = wait_for_notification(&mut watcher, "notifications/resources/updated");
    assert_eq!(n["params"]["uri"], uri);

    // A new snippet changes the list: every handshaken session hears of it.
    std::fs::write(kb(&d).join("added.md"), "# Added\n").unwrap();
    wait_for_notification(&mut watcher, "notifications/resources/list_changed");
    wait_for_notification(&mut lister, "notifications/resources/list_changed");
    let (all, _) = list_all(&mut reader, true);
    assert!(all.iter().any(|r| r["name"] == "kb.snippet/added"));

    let r = watcher.call("resources/unsubscribe", json!({"uri": uri}));
    assert_eq!(r["result"], json!({}));
    // Subscriptions are a legacy-session feature.
    let r = reader.call_modern("resources/subscribe", json!({"uri": uri}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
}

#[test]
fn stateless_results_carry_a_real_decreasing_ttl() {
    let d = daemon_with_content(&[]);
    let mut c = d.client();
    let uri = "ide-agents://kb.snippet/intro";
    let first = c.call_modern("resources/read", json!({"uri": uri}));
    let ttl = |r: &Value| {
        r["result"]["ttlMs"]
            .as_u64()
            .unwrap_or_else(|| panic!("{r}"))
    };
    let t1 = ttl(&first);
    assert!(t1 > 0 && t1 <= 60_000, "{first}");
    assert_eq!(first["result"]["cacheScope"], "private");
    let deadline = Instant::now() + Duration::from_secs(10);
    let t2 = loop {
        let again = ttl(&c.call_modern("resources/read", json!({"uri": uri})));
        if again < t1 {
            break again;
        }
        assert!(Instant::now() < deadline, "ttlMs never decreased from {t1}");
    };
    assert!(t2 < t1);
    // The build log is a live tail: no time to reuse it, though the daemon caches it.
    let log = c.call_modern("resources/read", json!({"uri": "ide-agents://build.logs"}));
    assert_eq!(log["result"]["ttlMs"], 0, "{log}");
    assert_eq!(log["result"]["cacheScope"], "private");
    let listed = c.call_modern("resources/list", json!({}));
    assert!(ttl(&listed) <= 60_000);
    let prompts = c.call_modern("prompts/list", json!({}));
    assert!(ttl(&prompts) <= 60_000);
    // Legacy results carry no hints.
    let mut legacy = d.initialized_client();
    let r = legacy.call("resources/read", json!({"uri": uri}));
    assert!(r["result"].get("ttlMs").is_none(), "{r}");

    // A reload drops the cache: the next read is a fresh load with the whole TTL again.
    let reload = c.call_tool("ide_agents_reload", json!({}));
    let s = &reload["structuredContent"];
    assert_eq!(s["reloaded"], true, "{reload}");
    assert_eq!(
        s["thresholds"],
        json!({"rate_limited": 10, "approval_requested": 20, "tool_failure": 15})
    );
    let after = ttl(&c.call_modern("resources/read", json!({"uri": uri})));
    assert_eq!(after, 60_000);
}

#[test]
fn capabilities_and_instructions_name_resources_and_prompts() {
    let d = daemon_with_content(&[]);
    let mut c = d.client();
    let r = c.call(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    let caps = &r["result"]["capabilities"];
    assert_eq!(
        caps["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    assert_eq!(caps["prompts"], json!({"listChanged": false}));
    assert_eq!(caps["completions"], json!({}));
    // What a stateless client is offered: no subscriptions, which need a legacy session.
    let discovered = c.call("server/discover", json!({}));
    assert_eq!(
        discovered["result"]["capabilities"]["resources"],
        json!({"subscribe": false, "listChanged": false})
    );
    assert_eq!(
        discovered["result"]["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    let i = c.call_tool("ide_agents_server_instructions", json!({}));
    let s = &i["structuredContent"];
    assert!(
        s["resources"]
            .as_array()
            .unwrap()
            .contains(&json!("kb.snippet/intro")),
        "{s}"
    );
    assert!(
        s["prompts"]
            .as_array()
            .unwrap()
            .contains(&json!("diff_review")),
        "{s}"
    );
}

#[test]
fn kb_names_complete_by_prefix() {
    let d = daemon_with_content(&[]);
    let mut c = d.client();
    let complete = |c: &mut Client, value: &str| {
        let r = c.call_modern(
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "ide-agents://kb.snippet/{name}"},
                   "argument": {"name": "name", "value": value}}),
        );
        r["result"]["completion"]["values"].clone()
    };
    assert_eq!(complete(&mut c, "in"), json!(["intro"]));
    assert_eq!(complete(&mut c, ""), json!(["guide", "intro"]));
    assert_eq!(complete(&mut c, "zz"), json!([]));
    let bad = c.call_modern(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "ide-agents://other/{x}"},
               "argument": {"name": "x", "value": ""}}),
    );
    assert_eq!(bad["error"]["code"], -32602);
}

#[test]
fn snippets_of_any_file_name_are_listed_as_uris_and_read_in_either_spelling() {
    let d = daemon_with_content(&[]);
    std::fs::write(kb(&d).join("with space.md"), "spaced\n").unwrap();
    std::fs::write(kb(&d).join("héllo.md"), "accented\n").unwrap();
    std::fs::write(kb(&d).join("bin.md"), b"ok \xff\xfe bad").unwrap();
    std::fs::write(kb(&d).join("line\nbreak.md"), "no\n").unwrap();
    let mut c = d.client();
    let (all, _) = list_all(&mut c, true);
    let listed: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["uri"].as_str().unwrap()))
        .collect();
    for entry in [
        (
            "kb.snippet/with space",
            "ide-agents://kb.snippet/with%20space",
        ),
        ("kb.snippet/héllo", "ide-agents://kb.snippet/h%C3%A9llo"),
        ("kb.snippet/bin", "ide-agents://kb.snippet/bin"),
    ] {
        assert!(listed.contains(&entry), "{entry:?} not in {listed:?}");
    }
    // A control character would break the URI and the index: such a file is not served.
    assert!(!listed.iter().any(|(n, _)| n.contains('\n')), "{listed:?}");
    for uri in [
        "ide-agents://kb.snippet/with%20space",
        "ide-agents://kb.snippet/with space",
        "ide-agents://kb.snippet/with%20space.md",
    ] {
        assert_eq!(read_text(&mut c, uri), "spaced\n", "{uri}");
    }
    assert_eq!(
        read_text(&mut c, "ide-agents://kb.snippet/h%C3%A9llo"),
        "accented\n"
    );
    // Bytes that are not UTF-8 read as U+FFFD, in both forms.
    assert_eq!(
        read_text(&mut c, "ide-agents://kb.snippet/bin"),
        "ok \u{fffd}\u{fffd} bad"
    );
    let tool = c.call_tool(
        "ide_agents_resource",
        json!({"method": "get", "name": "kb.snippet/bin"}),
    );
    assert_eq!(
        tool["structuredContent"]["content"], "ok \u{fffd}\u{fffd} bad",
        "{tool}"
    );
    let index = read_text(&mut c, "ide-agents://kb.snippet");
    assert!(
        index.contains("- [with space](ide-agents://kb.snippet/with%20space)"),
        "{index}"
    );
    // Traversal spelled encoded is still traversal.
    let r = c.call_modern(
        "resources/read",
        json!({"uri": "ide-agents://kb.snippet/%2e%2e%2fsecret"}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[test]
fn a_file_named_with_a_percent_escape_is_not_taken_for_the_name_it_decodes_to() {
    let d = daemon_with_content(&[]);
    std::fs::write(kb(&d).join("Release%20notes.md"), "escaped name\n").unwrap();
    std::fs::write(kb(&d).join("Release notes.md"), "spaced name\n").unwrap();
    let mut c = d.client();
    let tool = c.call_tool("ide_agents_resource", json!({"method": "list"}));
    let listed = tool["structuredContent"]["resources"].as_array().unwrap();
    // Each listed name and each listed URI reads its own file, in both forms.
    for (name, text) in [
        ("kb.snippet/Release%20notes", "escaped name\n"),
        ("kb.snippet/Release notes", "spaced name\n"),
    ] {
        let entry = listed
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {tool}"));
        let got = c.call_tool(
            "ide_agents_resource",
            json!({"method": "get", "name": name}),
        );
        assert_eq!(got["structuredContent"]["content"], text, "{got}");
        assert_eq!(read_text(&mut c, entry["uri"].as_str().unwrap()), text);
    }
}

#[test]
fn a_snippet_subscribed_under_its_md_name_is_notified_under_that_name() {
    let d = daemon_with_content(&[]);
    let mut watcher = d.initialized_client();
    let (plain, alias) = (
        "ide-agents://kb.snippet/intro",
        "ide-agents://kb.snippet/intro.md",
    );
    for uri in [alias, plain] {
        let r = watcher.call("resources/subscribe", json!({"uri": uri}));
        assert_eq!(r["result"], json!({}), "{r}");
    }
    std::fs::write(kb(&d).join("intro.md"), "# Intro\n\nChanged.\n").unwrap();
    // One notification for each URI the client subscribed under.
    let first = wait_for_notification(&mut watcher, "notifications/resources/updated");
    let second = wait_for_notification(&mut watcher, "notifications/resources/updated");
    assert_eq!(
        (
            first["params"]["uri"].as_str(),
            second["params"]["uri"].as_str()
        ),
        (Some(plain), Some(alias))
    );
    // Unsubscribing under one spelling ends the subscription under both.
    let r = watcher.call("resources/unsubscribe", json!({"uri": plain}));
    assert_eq!(r["result"], json!({}), "{r}");
    let graph = "ide-agents://repo.graph";
    let r = watcher.call("resources/subscribe", json!({"uri": graph}));
    assert_eq!(r["result"], json!({}), "{r}");
    // The snippet changes first: a notification for it would come before the graph's,
    // in the same poll (URIs are polled in order) or an earlier one.
    std::fs::write(kb(&d).join("intro.md"), "# Intro\n\nChanged again.\n").unwrap();
    std::fs::write(d.dir.path().join("ws/added.rs"), "").unwrap();
    let next = wait_for_notification(&mut watcher, "notifications/resources/updated");
    assert_eq!(next["params"]["uri"], graph, "{next}");
}

#[test]
fn a_fifo_as_build_log_or_prompt_override_is_not_opened_and_blocks_no_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("prompts")).unwrap();
    for fifo in ["build.log", "prompts/diff_review.md"] {
        let path = std::ffi::CString::new(dir.path().join(fifo).to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "{fifo}");
    }
    // One worker: a read that blocked would stall every connection.
    let d = daemon()
        .dir(dir)
        .env("IDE_AGENTS_WORKERS", "1")
        .env("IDE_AGENTS_BUILD_LOG", "build.log")
        .env("IDE_AGENTS_PROMPTS_DIR", "prompts")
        .start();
    let mut c = d.client();
    let log = read_text(&mut c, "ide-agents://build.logs");
    assert!(log.contains("not a regular file"), "{log}");
    let r = c.call_modern(
        "prompts/get",
        json!({"name": "diff_review", "arguments": {"diff": "+x"}}),
    );
    let text = r["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("+x"), "the built-in text, rendered: {r}");
    assert_eq!(d.client().call("ping", json!({}))["result"], json!({}));
}

#[test]
fn a_cursor_stays_valid_when_snippets_are_removed_between_pages() {
    let d = daemon_with_content(&[("IDE_AGENTS_PAGE_SIZE", "3")]);
    for name in ["a", "b", "c", "d"] {
        std::fs::write(kb(&d).join(format!("{name}.md")), name).unwrap();
    }
    let mut c = d.client();
    // repo.graph, build.logs, kb.snippet | a, b, c | d, guide, intro
    let first = c.call_modern("resources/list", json!({}));
    let cursor = first["result"]["nextCursor"].as_str().unwrap().to_string();
    let second = c.call_modern("resources/list", json!({"cursor": cursor}));
    let names: Vec<&str> = second["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["kb.snippet/a", "kb.snippet/b", "kb.snippet/c"]);
    let cursor = second["result"]["nextCursor"].as_str().unwrap().to_string();
    // Two snippets of the pages already read go away before the last page is asked for.
    std::fs::remove_file(kb(&d).join("a.md")).unwrap();
    std::fs::remove_file(kb(&d).join("b.md")).unwrap();
    let third = c.call_modern("resources/list", json!({"cursor": cursor}));
    let names: Vec<&str> = third["result"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("{third}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["kb.snippet/d", "kb.snippet/guide", "kb.snippet/intro"]
    );
}

#[test]
fn a_kb_directory_that_is_a_symlink_re_pointed_is_read_afresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    for (version, text) in [("kb-v1", "# Guide v1\n"), ("kb-v2", "# Guide v2\n")] {
        std::fs::create_dir(root.join(version)).unwrap();
        std::fs::write(root.join(version).join("guide.md"), text).unwrap();
    }
    std::os::unix::fs::symlink("kb-v1", root.join("kb")).unwrap();
    let d = daemon().dir(dir).env("IDE_AGENTS_KB_DIR", "kb").start();
    let mut c = d.client();
    let uri = "ide-agents://kb.snippet/guide";
    assert_eq!(read_text(&mut c, uri), "# Guide v1\n");
    // Re-pointed the way deploy tools do it: a new link renamed over the old one.
    let root = d.dir.path();
    std::os::unix::fs::symlink("kb-v2", root.join("kb.new")).unwrap();
    std::fs::rename(root.join("kb.new"), root.join("kb")).unwrap();
    assert_eq!(read_text(&mut c, uri), "# Guide v2\n");
}

#[test]
fn a_snippet_read_through_a_symlink_follows_the_link_as_it_is_now() {
    let d = daemon_with_content(&[]);
    let mut c = d.client();
    let alias = kb(&d).join("alias.md");
    let uri = "ide-agents://kb.snippet/alias";
    std::os::unix::fs::symlink("intro.md", &alias).unwrap();
    assert_eq!(read_text(&mut c, uri), INTRO);
    // Retargeted: the file it led to did not change, the link did.
    std::fs::remove_file(&alias).unwrap();
    std::os::unix::fs::symlink("guide.md", &alias).unwrap();
    assert_eq!(read_text(&mut c, uri), "# Guide\n");
    // Led out of the directory, then removed: not served from the cache either time.
    std::fs::remove_file(&alias).unwrap();
    std::os::unix::fs::symlink("../secret.md", &alias).unwrap();
    let r = c.call_modern("resources/read", json!({"uri": uri}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    std::fs::remove_file(&alias).unwrap();
    let r = c.call_modern("resources/read", json!({"uri": uri}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[test]
fn a_huge_snippet_is_served_cut_and_cached_once() {
    let d = daemon_with_content(&[]);
    let big = "x".repeat(3 * 1024 * 1024);
    std::fs::write(kb(&d).join("big.md"), &big).unwrap();
    let mut c = d.client();
    let text = read_text(&mut c, "ide-agents://kb.snippet/big");
    let (kept, note) = text.split_once("\n\n[cut here").expect("a cut note");
    assert_eq!(kept.len(), 1024 * 1024);
    assert!(note.contains("the file is 3145728 bytes"), "{note}");
    // The tool form serves the same text from the same entry.
    let t = c.call_tool(
        "ide_agents_resource",
        json!({"method": "get", "name": "kb.snippet/big"}),
    );
    assert_eq!(t["structuredContent"]["content"], text.as_str());
    let (_, s) = d.status_json();
    let bytes = s["cache"]["bytes"].as_u64().unwrap();
    assert!(
        bytes < 1024 * 1024 + 64 * 1024,
        "one copy of the text is kept: {bytes} bytes"
    );
}
