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

#[cfg(test)]
mod tests {
    use super::*;

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
