//! Which repositories a GitHub tool works on: the repository arguments, read once, and the
//! include/exclude filter. `top` is applied by the caller, after any ranking.

use crate::tools::arg_str;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct RepoQuery {
    pub visibility: Option<String>,
    pub limit: usize,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub top: Option<usize>,
    pub page: u64,
    pub per_page: usize,
}

pub const DEFAULT_LIMIT: usize = 25;

impl RepoQuery {
    /// From arguments already validated against the schema.
    pub fn from_args(args: &Map<String, Value>) -> RepoQuery {
        let number = |k: &str| args.get(k).and_then(Value::as_u64);
        let words = |k: &str| -> Vec<String> {
            args.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_lowercase)
                        .collect()
                })
                .unwrap_or_default()
        };
        let limit = number("limit").map_or(DEFAULT_LIMIT, |n| n as usize);
        RepoQuery {
            visibility: arg_str(args, "visibility").map(String::from),
            limit,
            include: words("include"),
            exclude: words("exclude"),
            top: number("top").map(|n| n as usize),
            page: number("page").unwrap_or(1),
            per_page: number("per_page").map_or(limit.min(100), |n| n as usize),
        }
    }

    /// Whether a repository passes include/exclude (matched against its full name).
    pub fn admits(&self, repo: &Value) -> bool {
        let name = repo["full_name"].as_str().unwrap_or("").to_lowercase();
        let included = self.include.is_empty() || self.include.iter().any(|w| name.contains(w));
        included && !self.exclude.iter().any(|w| name.contains(w))
    }

    /// Cuts a ranked or listed answer to `top`.
    pub fn cut<T>(&self, mut items: Vec<T>) -> Vec<T> {
        if let Some(top) = self.top {
            items.truncate(top);
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query(args: Value) -> RepoQuery {
        RepoQuery::from_args(args.as_object().unwrap())
    }

    #[test]
    fn defaults_and_per_page_follow_limit() {
        let q = query(json!({}));
        assert_eq!((q.limit, q.per_page, q.page, q.top), (25, 25, 1, None));
        let q = query(json!({"limit": 7, "per_page": 3, "page": 2, "top": 1}));
        assert_eq!((q.limit, q.per_page, q.page, q.top), (7, 3, 2, Some(1)));
    }

    #[test]
    fn include_and_exclude_match_the_full_name_in_any_case() {
        let q = query(json!({"include": ["Rust"], "exclude": ["old"]}));
        assert!(q.admits(&json!({"full_name": "me/rust-lib"})));
        assert!(!q.admits(&json!({"full_name": "me/old-rust"})));
        assert!(!q.admits(&json!({"full_name": "me/python"})));
        assert!(query(json!({})).admits(&json!({"full_name": "me/x"})));
    }
}
