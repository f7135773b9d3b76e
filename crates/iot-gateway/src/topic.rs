//! Topic names and filters: IoT Core's limits and the routing tree.

use std::collections::HashMap;
use std::sync::Arc;

use crate::limits::Limits;

/// Why a topic name or filter is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("the topic is empty")]
    Empty,
    #[error("the topic has {length} bytes, over IoT Core's {maximum} byte limit")]
    TooLong { length: usize, maximum: usize },
    #[error("the topic has {slashes} forward slashes, over IoT Core's limit of {maximum}")]
    TooManySlashes { slashes: usize, maximum: usize },
    #[error("a topic name cannot contain the wildcards + or #")]
    Wildcard,
    #[error("topics beginning with $ are reserved")]
    Reserved,
    #[error("# must be the last level of a topic filter, alone in its level")]
    MisplacedMultiLevelWildcard,
    #[error("+ must be alone in its level of a topic filter")]
    MisplacedSingleLevelWildcard,
}

fn check_size(topic: &str, limits: &Limits) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > limits.max_topic_bytes {
        return Err(TopicError::TooLong {
            length: topic.len(),
            maximum: limits.max_topic_bytes,
        });
    }
    let slashes = topic.bytes().filter(|byte| *byte == b'/').count();
    if slashes > limits.max_topic_slashes {
        return Err(TopicError::TooManySlashes {
            slashes,
            maximum: limits.max_topic_slashes,
        });
    }
    Ok(())
}

/// A topic a client may publish to: within IoT's size and level limits, no wildcards, and not
/// reserved (`$...`: clients reach reserved topics only through features the broker does not
/// implement, such as shadows).
pub fn validate_topic_name(topic: &str, limits: &Limits) -> Result<(), TopicError> {
    validate_topic_name_allowing_reserved(topic, limits)?;
    if topic.starts_with('$') {
        return Err(TopicError::Reserved);
    }
    Ok(())
}

/// A topic name with IoT's limits, `$` topics allowed: what the embedder may publish to (its own
/// reserved-topic features, such as lifecycle events, go through it).
pub fn validate_topic_name_allowing_reserved(
    topic: &str,
    limits: &Limits,
) -> Result<(), TopicError> {
    check_size(topic, limits)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// A topic filter a client may subscribe to: IoT's limits and MQTT's wildcard rules. Filters
/// on reserved topics (`$aws/...`) are allowed: whether a client may read them is the
/// authority's decision, and only the embedder publishes there.
pub fn validate_topic_filter(filter: &str, limits: &Limits) -> Result<(), TopicError> {
    check_size(filter, limits)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::MisplacedMultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
    }
    Ok(())
}

/// Whether `filter` has no wildcard (IoT delivers retained messages on subscription only for
/// such filters).
pub fn is_exact_filter(filter: &str) -> bool {
    !filter.contains(['+', '#'])
}

/// The subscriptions of every session, by filter level, so that routing a message costs the
/// topic's depth rather than the number of subscriptions.
pub(crate) struct TopicTree<T> {
    root: Node<T>,
}

struct Node<T> {
    children: HashMap<Box<str>, Node<T>>,
    single_level: Option<Box<Node<T>>>,
    /// Subscribers whose filter ends here.
    exact: Vec<(Arc<str>, T)>,
    /// Subscribers whose filter ends with `#` after this level.
    multi_level: Vec<(Arc<str>, T)>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            single_level: None,
            exact: Vec::new(),
            multi_level: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.single_level.is_none()
            && self.exact.is_empty()
            && self.multi_level.is_empty()
    }
}

impl<T: Clone> Default for TopicTree<T> {
    fn default() -> Self {
        Self {
            root: Node::default(),
        }
    }
}

impl<T: Clone> TopicTree<T> {
    /// Adds or replaces `subscriber`'s subscription to a valid `filter`.
    pub fn insert(&mut self, filter: &str, subscriber: Arc<str>, value: T) {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                upsert(&mut node.multi_level, subscriber, value);
                return;
            }
            node = if level == "+" {
                node.single_level.get_or_insert_with(Box::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
        }
        upsert(&mut node.exact, subscriber, value);
    }

    /// Removes `subscriber`'s subscription to `filter`; whether it had one.
    pub fn remove(&mut self, filter: &str, subscriber: &str) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        remove_from(&mut self.root, &levels, subscriber)
    }

    /// Every subscription whose filter matches `topic`, with its subscriber.
    pub fn matches(&self, topic: &str) -> Vec<(Arc<str>, T)> {
        let levels: Vec<&str> = topic.split('/').collect();
        let mut found = Vec::new();
        // Wildcards at the first level do not match `$` topics (MQTT 5 section 4.7.2).
        let reserved = topic.starts_with('$');
        collect(&self.root, &levels, reserved, &mut found);
        found
    }
}

fn upsert<T>(entries: &mut Vec<(Arc<str>, T)>, subscriber: Arc<str>, value: T) {
    match entries.iter_mut().find(|(id, _)| *id == subscriber) {
        Some(entry) => entry.1 = value,
        None => entries.push((subscriber, value)),
    }
}

fn remove_entry<T>(entries: &mut Vec<(Arc<str>, T)>, subscriber: &str) -> bool {
    let before = entries.len();
    entries.retain(|(id, _)| &**id != subscriber);
    entries.len() != before
}

fn remove_from<T>(node: &mut Node<T>, levels: &[&str], subscriber: &str) -> bool {
    let Some((level, rest)) = levels.split_first() else {
        return remove_entry(&mut node.exact, subscriber);
    };
    if *level == "#" && rest.is_empty() {
        return remove_entry(&mut node.multi_level, subscriber);
    }
    if *level == "+" {
        let Some(child) = node.single_level.as_deref_mut() else {
            return false;
        };
        let removed = remove_from(child, rest, subscriber);
        if child.is_empty() {
            node.single_level = None;
        }
        return removed;
    }
    let Some(child) = node.children.get_mut(*level) else {
        return false;
    };
    let removed = remove_from(child, rest, subscriber);
    if child.is_empty() {
        node.children.remove(*level);
    }
    removed
}

fn collect<T: Clone>(
    node: &Node<T>,
    levels: &[&str],
    reserved_first_level: bool,
    found: &mut Vec<(Arc<str>, T)>,
) {
    let Some((level, rest)) = levels.split_first() else {
        found.extend(node.exact.iter().cloned());
        return;
    };
    // IoT: `sensor/#` matches `sensor/` and below, but not `sensor` itself
    // (https://docs.aws.amazon.com/iot/latest/developerguide/mqtt.html#mqtt-differences).
    if !reserved_first_level {
        found.extend(node.multi_level.iter().cloned());
    }
    if let Some(child) = node.children.get(*level) {
        collect(child, rest, false, found);
    }
    if !reserved_first_level && let Some(child) = node.single_level.as_deref() {
        collect(child, rest, false, found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    fn matching(tree: &TopicTree<u8>, topic: &str) -> Vec<String> {
        let mut names: Vec<String> = tree
            .matches(topic)
            .into_iter()
            .map(|(id, _)| id.to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn topic_names_follow_iot_limits() {
        let limits = limits();
        assert_eq!(
            validate_topic_name("COOKING_REQUESTED/h-1/oven-1", &limits),
            Ok(())
        );
        assert_eq!(validate_topic_name("", &limits), Err(TopicError::Empty));
        assert_eq!(
            validate_topic_name("a/+/b", &limits),
            Err(TopicError::Wildcard)
        );
        assert_eq!(
            validate_topic_name("a/#", &limits),
            Err(TopicError::Wildcard)
        );
        assert_eq!(
            validate_topic_name("$aws/things/x/shadow/update", &limits),
            Err(TopicError::Reserved)
        );
        assert_eq!(
            validate_topic_name_allowing_reserved("$aws/things/x/shadow/update", &limits),
            Ok(())
        );
        assert_eq!(validate_topic_name(&"a".repeat(256), &limits), Ok(()));
        assert_eq!(
            validate_topic_name(&"a".repeat(257), &limits),
            Err(TopicError::TooLong {
                length: 257,
                maximum: 256
            })
        );
        assert_eq!(validate_topic_name("a/b/c/d/e/f/g/h", &limits), Ok(()));
        assert_eq!(
            validate_topic_name("a/b/c/d/e/f/g/h/i", &limits),
            Err(TopicError::TooManySlashes {
                slashes: 8,
                maximum: 7
            })
        );
    }

    #[test]
    fn topic_filters_follow_mqtt_wildcard_rules() {
        let limits = limits();
        for good in ["#", "+", "a/+/c", "a/#", "+/h-1/oven-1", "$aws/events/#"] {
            assert_eq!(validate_topic_filter(good, &limits), Ok(()), "{good}");
        }
        assert_eq!(
            validate_topic_filter("a/#/c", &limits),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a#", &limits),
            Err(TopicError::MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a+/b", &limits),
            Err(TopicError::MisplacedSingleLevelWildcard)
        );
    }

    #[test]
    fn the_tree_matches_like_iot() {
        let mut tree = TopicTree::default();
        for (who, filter) in [
            ("all", "#"),
            ("sensor-below", "sensor/#"),
            ("one-level", "sensor/+"),
            ("exact", "sensor/temperature"),
            ("household", "+/h-1/oven-1"),
            ("events", "$aws/events/#"),
        ] {
            tree.insert(filter, who.into(), 0u8);
        }
        assert_eq!(
            matching(&tree, "sensor/temperature"),
            ["all", "exact", "one-level", "sensor-below"]
        );
        assert_eq!(
            matching(&tree, "sensor/"),
            ["all", "one-level", "sensor-below"]
        );
        // IoT: the parent of `#` is not matched.
        assert_eq!(matching(&tree, "sensor"), ["all"]);
        assert_eq!(
            matching(&tree, "COOKING_REPLIED/h-1/oven-1"),
            ["all", "household"]
        );
        // First-level wildcards never match `$` topics.
        assert_eq!(
            matching(&tree, "$aws/events/presence/connected/x"),
            ["events"]
        );
    }

    #[test]
    fn removing_a_subscription_prunes_it() {
        let mut tree = TopicTree::default();
        tree.insert("a/+/c", "one".into(), 1u8);
        tree.insert("a/+/c", "two".into(), 1u8);
        tree.insert("a/+/c", "one".into(), 0u8);
        assert_eq!(tree.matches("a/b/c").len(), 2);
        assert!(tree.remove("a/+/c", "one"));
        assert!(!tree.remove("a/+/c", "one"));
        assert_eq!(matching(&tree, "a/b/c"), ["two"]);
        assert!(tree.remove("a/+/c", "two"));
        assert!(tree.root.is_empty());
    }
}
