//! The three GitHub tools as `tools/list` shows them.

use crate::tools::spec::{Annotations, GroupId, ToolSpec, object_schema};
use serde_json::{Map, Value, json};

/// The arguments every GitHub tool takes to choose repositories.
fn repo_properties() -> Map<String, Value> {
    let props = json!({
        "visibility": {"type": "string", "enum": ["public", "private"],
                       "description": "only public or only private repositories (default: both)"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25,
                  "description": "repositories fetched, following GitHub's pages"},
        "include": {"type": "array", "items": {"type": "string"},
                    "description": "keep repositories whose full name contains one of these (any case)"},
        "exclude": {"type": "array", "items": {"type": "string"},
                    "description": "drop repositories whose full name contains one of these (any case)"},
        "top": {"type": "integer", "minimum": 1, "description": "answer only the first N, after ranking"},
        "page": {"type": "integer", "minimum": 1, "default": 1, "description": "first GitHub page to read"},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 100,
                     "description": "items per GitHub page (default: limit)"},
    });
    match props {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn with(mut props: Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        props.extend(extra);
    }
    Value::Object(props)
}

pub fn specs() -> Vec<ToolSpec> {
    let query = json!({"query": {"type": "string", "minLength": 1, "description": "what you are looking for"}});
    let spec = |name, description, input_schema| ToolSpec {
        name,
        group: GroupId::Github,
        description,
        input_schema,
        annotations: Annotations::REMOTE_READ,
    };
    vec![
        spec(
            "ide_agents_github_repos",
            "List the token owner's GitHub repositories (GET /user/repos), filtered by include/exclude. \
             Needs GITHUB_TOKEN or GITHUB_PERSONAL_ACCESS_TOKEN.",
            object_schema(Value::Object(repo_properties()), &[]),
        ),
        spec(
            "ide_agents_github_rank_repos",
            "Rank the token owner's repositories against a query (the ULTRA ranker when enabled, \
             else stars, forks and a query match), then keep the top ones.",
            object_schema(with(repo_properties(), query.clone()), &["query"]),
        ),
        spec(
            "ide_agents_github_rank_all",
            "Rank repositories and the issues and pull requests of the first five together against \
             a query; scores also normalised to 0-10.",
            object_schema(
                with(
                    repo_properties(),
                    json!({
                        "query": query["query"],
                        "state": {"type": "string", "enum": ["open", "closed"], "default": "open"},
                        "items_per_repo": {"type": "integer", "minimum": 1, "maximum": 50, "default": 30},
                        "page": {"type": "integer", "minimum": 1, "default": 1,
                                 "description": "page of each repository's issues (repositories are read from page 1)"},
                        "since": {"type": "string", "description": "only issues updated at or after this ISO 8601 time"},
                    }),
                ),
                &["query"],
            ),
        ),
    ]
}
