//! Opaque pagination cursors for list methods.
//!
//! A cursor names the offset of the next page and the list it belongs to, so a cursor of
//! one list is refused by another instead of silently skipping items.

/// Encodes the position `offset` in the list called `list`.
pub fn encode(list: &str, offset: usize) -> String {
    format!("{list}:{offset:x}")
}

/// Decodes a cursor of `list`; `None` when it is malformed or belongs to another list.
pub fn decode(list: &str, cursor: &str) -> Option<usize> {
    let (name, offset) = cursor.split_once(':')?;
    if name != list {
        return None;
    }
    usize::from_str_radix(offset, 16).ok()
}

/// One page of `items` starting at the cursor, plus the next cursor when more remain.
pub fn page<'a, T>(
    list: &str,
    items: &'a [T],
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(&'a [T], Option<String>), String> {
    let start = match cursor {
        None => 0,
        Some(c) => match decode(list, c) {
            Some(offset) if offset <= items.len() => offset,
            _ => return Err(format!("invalid cursor {c:?} for {list}")),
        },
    };
    let end = (start + page_size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| encode(list, end));
    Ok((&items[start..end], next))
}

/// One page of `items`, which are sorted by `key`, for a list that may change between pages
/// (resources, as snippets come and go). The cursor names the key of the next page's first
/// item, and a page starts where that key is or would be: an item added or removed since
/// never invalidates a cursor, and never makes a page skip another item.
pub fn page_by_key<'a, T>(
    list: &str,
    items: &'a [T],
    cursor: Option<&str>,
    page_size: usize,
    key: impl Fn(&T) -> String,
) -> Result<(&'a [T], Option<String>), String> {
    let start = match cursor {
        None => 0,
        Some(c) => {
            let from = c
                .strip_prefix(list)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(unhex)
                .ok_or_else(|| format!("invalid cursor {c:?} for {list}"))?;
            items.partition_point(|item| key(item) < from)
        }
    };
    let end = (start + page_size.max(1)).min(items.len());
    let next = items
        .get(end)
        .map(|first| format!("{list}:{}", hex(&key(first))));
    Ok((&items[start..end], next))
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_pages_survive_items_added_and_removed_between_pages() {
        let key = |s: &&str| s.to_string();
        let items = ["a", "b", "c", "d", "e", "f"];
        let (first, next) = page_by_key("r", &items, None, 2, key).unwrap();
        assert_eq!(first, ["a", "b"]);
        let next = next.unwrap();
        // "b" and "c" are removed and "bb" added before the next page is asked for.
        let now = ["a", "bb", "d", "e", "f"];
        let (second, after) = page_by_key("r", &now, Some(&next), 2, key).unwrap();
        assert_eq!(
            second,
            ["d", "e"],
            "nothing at or after the cursor is skipped"
        );
        // A cursor past every item is an empty last page, not an error.
        let (last, none) = page_by_key("r", &["a"], after.as_deref(), 2, key).unwrap();
        assert!(last.is_empty() && none.is_none());
        for bad in ["r:zz", "r:6", "x:61", "garbage", "r:ff"] {
            assert!(
                page_by_key("r", &items, Some(bad), 2, key).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn pages_cover_every_item_once() {
        let items: Vec<u32> = (0..7).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = page("tools", &items, cursor.as_deref(), 3).unwrap();
            seen.extend_from_slice(page);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, items);
    }

    #[test]
    fn foreign_and_malformed_cursors_are_refused() {
        let items = [1, 2, 3];
        assert!(page("tools", &items, Some("prompts:1"), 2).is_err());
        assert!(page("tools", &items, Some("tools:zz"), 2).is_err());
        assert!(page("tools", &items, Some("tools:ff"), 2).is_err());
        assert!(page("tools", &items, Some("garbage"), 2).is_err());
    }
}
