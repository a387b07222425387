//! Cursor pagination: lists are ordered by id and continue after the last id seen, so a
//! cursor stays valid while entities are added or removed.

/// Entries per page when no limit is given.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page.
pub const MAX_LIMIT: u32 = 1000;

/// Which page to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Most entries to return (clamped to 1..=[`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
    pub limit: Option<u32>,
    /// Continue after this cursor (the `next_cursor` of the previous page).
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The effective page size.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The entries, ordered by id.
    pub items: Vec<T>,
    /// Cursor of the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in id order: the extra row only
    /// tells that another page follows.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> &str) -> Self {
        let next_cursor = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|last| id(last).to_owned())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    /// The page with every entry mapped by `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
