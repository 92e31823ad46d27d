//! The catalog: every tool this daemon serves, in a fixed order, with its `tools/list`
//! pages serialized once at start-up (the list never changes while the daemon runs).

use super::{GroupId, ToolSpec};
use crate::protocol::{cursor, lifecycle};
use bytes::Bytes;
use serde_json::{Value, json};
// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::HashMap;
use std::sync::LazyLock;

/// Schemas are cached by clients for this long in the stateless era.
pub const SCHEMA_TTL_MS: u64 = 300_000;

/// Every tool definition, sorted by name: the listing order.
static ALL_TOOLS: LazyLock<Vec<ToolSpec>> = LazyLock::new(|| {
    let mut all = super::core::specs();
    all.extend(super::backend::specs());
    all.extend(super::ultra::specs());
    all.extend(super::ml::specs());
    all.extend(super::github::specs());
    all.sort_by_key(|t| t.name);
    all
});

/// One pre-serialized page of `tools/list`.
struct Page {
    legacy: Bytes,
    modern: Bytes,
    groups: Vec<GroupId>,
}

pub struct Catalog {
    tools: Vec<&'static ToolSpec>,
    by_name: HashMap<&'static str, &'static ToolSpec>,
    pages: Vec<Page>,
    page_size: usize,
}

/// A `tools/list` answer: the serialized result and the groups its tools belong to.
pub struct ListedPage<'a> {
    pub result: &'a Bytes,
    pub groups: &'a [GroupId],
}

impl Catalog {
    /// The tools of the groups `enabled` admits, paged by `page_size`.
    pub fn new(enabled: impl Fn(GroupId) -> bool, page_size: usize) -> Catalog {
        let tools: Vec<&'static ToolSpec> = ALL_TOOLS.iter().filter(|t| enabled(t.group)).collect();
        let by_name = tools.iter().map(|t| (t.name, *t)).collect();
        let page_size = page_size.max(1);
        let mut pages = Vec::new();
        let mut start = 0;
        loop {
            let (chunk, next) = cursor::page(
                "tools",
                &tools,
                Some(&cursor::encode("tools", start)),
                page_size,
            )
            .unwrap_or((&[], None));
            pages.push(Page::build(chunk, next.as_deref()));
            match next {
                Some(_) => start += page_size,
                None => break,
            }
        }
        Catalog {
            tools,
            by_name,
            pages,
            page_size,
        }
    }

    pub fn get(&self, name: &str) -> Option<&'static ToolSpec> {
        self.by_name.get(name).copied()
    }

    /// The group of a tool this daemon knows but does not serve (its group is off), so an
    /// unknown-tool error can say how to turn it on. Only on that error's path.
    pub fn left_out(&self, name: &str) -> Option<GroupId> {
        let tool = ALL_TOOLS.iter().find(|t| t.name == name)?;
        self.get(name).is_none().then_some(tool.group)
    }

    pub fn tools(&self) -> &[&'static ToolSpec] {
        &self.tools
    }

    pub fn has_group(&self, group: GroupId) -> bool {
        self.tools.iter().any(|t| t.group == group)
    }

    /// The page a cursor points at; `Err` for a cursor this list did not hand out.
    pub fn list_page(&self, cursor: Option<&str>, modern: bool) -> Result<ListedPage<'_>, String> {
        let index = match cursor {
            None => 0,
            Some(c) => cursor::decode("tools", c)
                .filter(|offset| {
                    offset % self.page_size == 0 && offset / self.page_size < self.pages.len()
                })
                .map(|offset| offset / self.page_size)
                .ok_or_else(|| format!("invalid cursor {c:?} for tools/list"))?,
        };
        let page = &self.pages[index];
        Ok(ListedPage {
            result: if modern { &page.modern } else { &page.legacy },
            groups: &page.groups,
        })
    }
}

impl Page {
    fn build(tools: &[&'static ToolSpec], next: Option<&str>) -> Page {
        let mut result =
            json!({ "tools": tools.iter().map(|t| t.to_json()).collect::<Vec<Value>>() });
        if let Some(next) = next {
            result["nextCursor"] = next.into();
        }
        let legacy = Bytes::from(serde_json::to_vec(&result).unwrap_or_default());
        result["ttlMs"] = SCHEMA_TTL_MS.into();
        result["cacheScope"] = "private".into();
        lifecycle::decorate_modern(&mut result);
        let modern = Bytes::from(serde_json::to_vec(&result).unwrap_or_default());
        let mut groups: Vec<GroupId> = tools.iter().map(|t| t.group).collect();
        groups.dedup();
        Page {
            legacy,
            modern,
            groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bytes: &Bytes) -> (Vec<String>, Option<String>) {
        let v: Value = serde_json::from_slice(bytes).unwrap();
        let names = v["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        (names, v["nextCursor"].as_str().map(String::from))
    }

    #[test]
    fn pages_list_every_tool_once_in_order() {
        let catalog = Catalog::new(|_| true, 2);
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = catalog.list_page(cursor.as_deref(), false).unwrap();
            let (names, next) = names(page.result);
            all.extend(names);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let want: Vec<String> = catalog.tools().iter().map(|t| t.name.to_string()).collect();
        assert_eq!(all, want);
        assert!(catalog.list_page(Some("tools:1"), false).is_err());
        assert!(catalog.list_page(Some("nope"), false).is_err());
    }

    #[test]
    fn modern_pages_carry_cache_hints() {
        let catalog = Catalog::new(|_| true, 100);
        let v: Value =
            serde_json::from_slice(catalog.list_page(None, true).unwrap().result).unwrap();
        assert_eq!(v["ttlMs"], SCHEMA_TTL_MS);
        assert_eq!(v["cacheScope"], "private");
        let legacy: Value =
            serde_json::from_slice(catalog.list_page(None, false).unwrap().result).unwrap();
        assert!(legacy.get("ttlMs").is_none());
    }

    #[test]
    fn a_tool_of_a_group_that_is_off_is_known_as_left_out() {
        let core_only = Catalog::new(|g| g == GroupId::Core, 100);
        assert!(core_only.get("ide_agents_ultra_rank").is_none());
        assert_eq!(
            core_only.left_out("ide_agents_ultra_rank"),
            Some(GroupId::Ultra)
        );
        assert_eq!(core_only.left_out("ide_agents_healthz"), None, "served");
        assert_eq!(core_only.left_out("ide_agents_nope"), None, "no such tool");
    }

    #[test]
    fn every_schema_is_a_closed_object() {
        for tool in Catalog::new(|_| true, 100).tools() {
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            assert!(
                tool.input_schema.get("properties").is_some(),
                "{}",
                tool.name
            );
            assert!(tool.name.starts_with("ide_agents_"), "{}", tool.name);
        }
    }
}
