//! Prompts and their completions through the real daemon, in both forms.

mod common;

use common::daemon;
use serde_json::{Value, json};

/// Arguments that satisfy every prompt: each argument gets a recognisable value.
fn arguments_for(prompt: &Value) -> Value {
    let mut args = serde_json::Map::new();
    for a in prompt["arguments"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        args.insert(name.into(), json!(format!("<{name} value>")));
    }
    Value::Object(args)
}

#[test]
fn every_prompt_is_the_same_through_the_method_and_the_tool() {
    let d = daemon().start();
    let mut c = d.client();
    let listed = c.call_modern("prompts/list", json!({}));
    let prompts = listed["result"]["prompts"].as_array().unwrap().clone();
    let names: Vec<&str> = prompts
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "diff_review",
            "hotfix_plan",
            "rank_github_all",
            "rank_github_repos",
            "rank_top_bug_prs",
            "test_failures"
        ]
    );
    let tool_list = c.call_tool("ide_agents_prompt", json!({"method": "list"}));
    assert_eq!(tool_list["structuredContent"]["prompts"], json!(prompts));
    for p in &prompts {
        let name = p["name"].as_str().unwrap();
        let args = arguments_for(p);
        let r = c.call_modern("prompts/get", json!({"name": name, "arguments": args}));
        let result = &r["result"];
        let text = result["messages"][0]["content"]["text"].as_str().unwrap();
        for value in args.as_object().unwrap().values() {
            assert!(text.contains(value.as_str().unwrap()), "{name}: {text}");
        }
        assert!(!text.contains("{{"), "{name} left a placeholder: {text}");
        assert_eq!(result["messages"][0]["role"], "user");
        // The tool form, with the slash-command spelling of the name.
        let t = c.call_tool(
            "ide_agents_prompt",
            json!({"method": "get", "name": format!("/{name}"), "arguments": args}),
        );
        let s = &t["structuredContent"];
        assert_eq!(s["name"], name, "{t}");
        assert_eq!(s["messages"], result["messages"], "{name}");
        assert_eq!(s["description"], result["description"]);
    }
}

#[test]
fn missing_arguments_and_unknown_prompts_are_invalid_params() {
    let d = daemon().start();
    let mut legacy = d.initialized_client();
    let r = legacy.call("prompts/get", json!({"name": "diff_review"}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("diff"));
    let r = legacy.call("prompts/get", json!({"name": "no_such_prompt"}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r = legacy.call("prompts/get", json!({"name": "rank_top_bug_prs"}));
    assert!(
        r["result"]["messages"][0]["content"]["text"].is_string(),
        "{r}"
    );
    assert!(r["result"].get("ttlMs").is_none());
    let mut c = d.client();
    let t = c.call_tool(
        "ide_agents_prompt",
        json!({"method": "get", "name": "diff_review"}),
    );
    assert_eq!(
        t["structuredContent"]["error"]["code"], "invalid_arguments",
        "{t}"
    );
    let t = c.call_tool(
        "ide_agents_prompt",
        json!({"method": "get", "name": "nope"}),
    );
    assert_eq!(t["structuredContent"]["error"]["code"], "not_found", "{t}");
}

#[test]
fn a_file_in_the_prompts_dir_overrides_the_builtin_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("prompts")).unwrap();
    let file = dir.path().join("prompts/diff_review.md");
    std::fs::write(&file, "Team review rules. Diff: {{diff}}").unwrap();
    let d = daemon()
        .dir(dir)
        .env("IDE_AGENTS_PROMPTS_DIR", "prompts")
        .start();
    let mut c = d.client();
    let get = |c: &mut common::Client| {
        let r = c.call_modern(
            "prompts/get",
            json!({"name": "diff_review", "arguments": {"diff": "+x"}}),
        );
        r["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(get(&mut c), "Team review rules. Diff: +x");
    // Edits take effect on the next get, without a reload.
    std::fs::write(&file, "Changed rules, longer. Diff: {{diff}}").unwrap();
    assert_eq!(get(&mut c), "Changed rules, longer. Diff: +x");
    // An empty file (an editor's new buffer saved) is no prompt: the built-in text serves.
    std::fs::write(&file, " \n").unwrap();
    assert!(get(&mut c).starts_with("Review the following change"));
    std::fs::remove_file(&file).unwrap();
    assert!(get(&mut c).starts_with("Review the following change"));
}

#[test]
fn prompt_arguments_complete_from_their_suggestions() {
    let d = daemon().start();
    let mut c = d.client();
    let r = c.call_modern(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "rank_github_repos"},
               "argument": {"name": "query", "value": "PER"}}),
    );
    assert_eq!(
        r["result"]["completion"],
        json!({"values": ["performance"], "total": 1, "hasMore": false})
    );
    let r = c.call_modern(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "diff_review"},
               "argument": {"name": "diff", "value": ""}}),
    );
    assert_eq!(r["result"]["completion"]["values"], json!([]));
    let r = c.call_modern(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "nope"},
               "argument": {"name": "query", "value": ""}}),
    );
    assert_eq!(r["error"]["code"], -32602);
}
