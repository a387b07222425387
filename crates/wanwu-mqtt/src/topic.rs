//! Topic names, topic filters and shared-subscription filters.

/// Maximum length of a topic name or filter in bytes (the MQTT string limit).
const MAX_TOPIC_LEN: usize = 65_535;

/// True for a valid topic name to publish to: non-empty, no wildcards, no NUL.
pub(crate) fn is_valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= MAX_TOPIC_LEN && !topic.contains(['+', '#', '\0'])
}

/// True for a valid (non-shared) topic filter: `+` fills a whole level, `#` only the last one.
pub(crate) fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > MAX_TOPIC_LEN || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        match level {
            "#" if is_last => {}
            "+" => {}
            _ if level.contains(['+', '#']) => return false,
            _ => {}
        }
    }
    true
}

/// A subscription filter as written by a client: plain or `$share/{group}/{filter}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FilterSpec<'a> {
    /// Share group name, for shared subscriptions.
    pub group: Option<&'a str>,
    /// The topic filter proper.
    pub filter: &'a str,
}

/// Parses and validates a subscription filter; `None` when it is invalid.
pub(crate) fn parse_filter(raw: &str) -> Option<FilterSpec<'_>> {
    if let Some(rest) = raw.strip_prefix("$share/") {
        let (group, filter) = rest.split_once('/')?;
        if group.is_empty() || group.contains(['+', '#']) || !is_valid_filter(filter) {
            return None;
        }
        return Some(FilterSpec {
            group: Some(group),
            filter,
        });
    }
    is_valid_filter(raw).then_some(FilterSpec {
        group: None,
        filter: raw,
    })
}

/// True when `topic` matches `filter`; a leading wildcard never matches a `$` topic.
pub(crate) fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            _ => {
                if topic_levels.next() != Some(level) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_reject_wildcards_and_empty() {
        assert!(is_valid_topic_name("a/b"));
        assert!(is_valid_topic_name("/"));
        assert!(!is_valid_topic_name(""));
        assert!(!is_valid_topic_name("a/+"));
        assert!(!is_valid_topic_name("a/#"));
        assert!(!is_valid_topic_name("a\0b"));
    }

    #[test]
    fn filters_follow_the_wildcard_rules() {
        for ok in ["#", "+", "a/+/c", "a/#", "+/+", "/", "a//b"] {
            assert!(is_valid_filter(ok), "{ok}");
        }
        for bad in ["", "a/#/c", "a+", "a/b#", "#/a"] {
            assert!(!is_valid_filter(bad), "{bad}");
        }
    }

    #[test]
    fn shared_filters_parse() {
        assert_eq!(
            parse_filter("$share/g/a/+"),
            Some(FilterSpec {
                group: Some("g"),
                filter: "a/+"
            })
        );
        assert_eq!(parse_filter("$share/g"), None);
        assert_eq!(parse_filter("$share//a"), None);
        assert_eq!(
            parse_filter("a/b"),
            Some(FilterSpec {
                group: None,
                filter: "a/b"
            })
        );
    }

    #[test]
    fn matching_follows_the_spec() {
        assert!(filter_matches("a/+/c", "a/b/c"));
        assert!(filter_matches("a/#", "a"));
        assert!(filter_matches("a/#", "a/b/c"));
        assert!(filter_matches("#", "a/b"));
        assert!(filter_matches("+/+", "/a"));
        assert!(!filter_matches("a/+", "a/b/c"));
        assert!(!filter_matches("#", "$SYS/x"));
        assert!(!filter_matches("+/x", "$SYS/x"));
        assert!(filter_matches("$SYS/#", "$SYS/x"));
    }
}
