//! From policy text to the branches a message is matched against, with SNS's checks in SNS's
//! order: the JSON and every key and value first (the first mistake in the text is the one
//! reported), then nesting under `MessageAttributes`, the number of keys, the combinations and
//! the wildcard complexity.

use crate::error::FilterPolicyError;
use crate::pattern::{self, Pattern};
use crate::policy_json::Json;
use crate::{MAX_COMBINATIONS, MAX_KEYS, MAX_POLICY_BYTES, MAX_WILDCARD_COMPLEXITY, Scope};

/// A policy key with its values: one array of the policy text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Leaf {
    /// Index of its dotted path in `Compiled::paths`.
    pub(crate) path: usize,
    /// How many objects deep the array is (1: a top-level key); a factor of the combinations.
    depth: u32,
    /// The top-level key it is under, for the error about nesting under `MessageAttributes`.
    top_key: String,
    pub(crate) patterns: Vec<Pattern>,
}

/// A policy with its `$or`s multiplied out: the message matches when one branch matches. A
/// branch holds at most one leaf per path (a later key overrides an earlier one, as SNS reads
/// them), sorted by path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    /// The leaf keys' dotted paths (`payload.outcome`), in the order the text first names them.
    pub(crate) paths: Vec<String>,
    pub(crate) leaves: Vec<Leaf>,
    /// Leaf indexes.
    pub(crate) branches: Vec<Vec<usize>>,
    pub(crate) combinations: u64,
}

/// The policy's structure: keys in document order.
enum Entry {
    Leaf(usize),
    Nested(Vec<Entry>),
    Or(Vec<Vec<Entry>>),
}

/// Field names that keep an object inside `$or` from being an alternative (then `$or` is a plain
/// key): event-ruler's reserved names, of which the SNS guide's AND/OR page cites `numeric` and
/// `prefix`.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

pub(crate) fn compile(text: &str, scope: Scope) -> Result<Compiled, FilterPolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(FilterPolicyError::TooLarge { bytes: text.len() });
    }
    let json = Json::parse(text).map_err(|error| FilterPolicyError::Json {
        detail: error.to_string(),
    })?;
    let Json::Object(entries) = &json else {
        return Err(FilterPolicyError::invalid("", "Filter is not an object"));
    };
    let mut builder = Builder::default();
    let root = builder.object(entries, None, 1, None)?;
    let Builder { paths, leaves } = builder;

    if scope == Scope::MessageAttributes
        && let Some(nested) = leaves.iter().find(|leaf| leaf.depth > 1)
    {
        return Err(FilterPolicyError::NestedAttributePolicy {
            key: nested.top_key.clone(),
        });
    }
    if paths.len() > MAX_KEYS {
        return Err(FilterPolicyError::TooManyKeys { keys: paths });
    }
    let combinations = combinations(&root, &leaves);
    if combinations > MAX_COMBINATIONS {
        return Err(FilterPolicyError::TooComplex {
            combinations,
            computation: truncate(computation(&root, &leaves, &paths)),
        });
    }
    check_wildcard_complexity(&leaves, &paths)?;

    // At most `combinations` branches: every leaf counts at least 1 in the product.
    let mut branches = vec![Vec::new()];
    expand(&root, &leaves, &mut branches);
    for branch in &mut branches {
        branch.sort_by_key(|&leaf| leaves[leaf].path);
    }
    branches.sort();
    branches.dedup();
    Ok(Compiled {
        paths,
        leaves,
        branches,
        combinations,
    })
}

#[derive(Default)]
struct Builder {
    paths: Vec<String>,
    leaves: Vec<Leaf>,
}

impl Builder {
    /// `prefix`: the dotted path of this object (`None`: the policy itself).
    fn object(
        &mut self,
        entries: &[(String, Json)],
        prefix: Option<&str>,
        depth: u32,
        top_key: Option<&str>,
    ) -> Result<Vec<Entry>, FilterPolicyError> {
        if entries.is_empty() {
            return Err(FilterPolicyError::invalid(
                prefix.unwrap_or_default(),
                "Empty objects are not allowed",
            ));
        }
        let mut compiled = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            if name == "$or"
                && let Some(alternatives) = or_alternatives(value)
            {
                let alternatives = alternatives
                    .into_iter()
                    .map(|alternative| self.object(alternative, prefix, depth, top_key))
                    .collect::<Result<_, _>>()?;
                compiled.push(Entry::Or(alternatives));
                continue;
            }
            let path = match prefix {
                Some(prefix) => format!("{prefix}.{name}"),
                None => name.clone(),
            };
            let top_key = top_key.unwrap_or(name);
            match value {
                Json::Object(inner) => {
                    compiled.push(Entry::Nested(self.object(
                        inner,
                        Some(&path),
                        depth + 1,
                        Some(top_key),
                    )?));
                }
                Json::Array(items) => {
                    compiled.push(Entry::Leaf(self.leaf(items, path, depth, top_key)?));
                }
                _ => {
                    return Err(FilterPolicyError::invalid(
                        &path,
                        format!("\"{name}\" must be an object or an array"),
                    ));
                }
            }
        }
        Ok(compiled)
    }

    fn leaf(
        &mut self,
        items: &[Json],
        path: String,
        depth: u32,
        top_key: &str,
    ) -> Result<usize, FilterPolicyError> {
        if items.is_empty() {
            return Err(FilterPolicyError::invalid(
                &path,
                "Empty arrays are not allowed",
            ));
        }
        let patterns = items
            .iter()
            .map(|item| pattern::compile(item, &path))
            .collect::<Result<_, _>>()?;
        let path = match self.paths.iter().position(|known| *known == path) {
            Some(index) => index,
            None => {
                self.paths.push(path);
                self.paths.len() - 1
            }
        };
        self.leaves.push(Leaf {
            path,
            depth,
            top_key: top_key.to_owned(),
            patterns,
        });
        Ok(self.leaves.len() - 1)
    }
}

/// The objects of an `$or` that SNS reads as alternatives: "There is an "$or" field attribute in
/// the rule followed with an array", "at least 2 objects", "None of the objects in the "$or"
/// array have field names that are reserved keywords"
/// (<https://docs.aws.amazon.com/sns/latest/dg/and-or-logic.html>). Otherwise `$or` is a key.
fn or_alternatives(value: &Json) -> Option<Vec<&[(String, Json)]>> {
    let Json::Array(items) = value else {
        return None;
    };
    if items.len() < 2 {
        return None;
    }
    items
        .iter()
        .map(|item| match item {
            Json::Object(entries)
                if !entries
                    .iter()
                    .any(|(name, _)| RESERVED_IN_OR.contains(&name.as_str())) =>
            {
                Some(entries.as_slice())
            }
            _ => None,
        })
        .collect()
}

/// "Multiply the number of values in each array", each times its nesting level for body
/// policies; `$or` adds its alternatives ("the sum of the combination complexities for each OR
/// statement"). Computed on the structure, so a policy of many `$or`s is refused before it is
/// multiplied out.
fn combinations(entries: &[Entry], leaves: &[Leaf]) -> u64 {
    entries.iter().fold(1u64, |product, entry| {
        let factor = match entry {
            Entry::Leaf(leaf) => {
                let leaf = &leaves[*leaf];
                (leaf.patterns.len() as u64).saturating_mul(u64::from(leaf.depth))
            }
            Entry::Nested(children) => combinations(children, leaves),
            Entry::Or(alternatives) => alternatives.iter().fold(0u64, |sum, alternative| {
                sum.saturating_add(combinations(alternative, leaves))
            }),
        };
        product.saturating_mul(factor)
    })
}

/// The product written out, each array as `key values` or `key values×level`.
fn computation(entries: &[Entry], leaves: &[Leaf], paths: &[String]) -> String {
    let factors: Vec<String> = entries
        .iter()
        .map(|entry| match entry {
            Entry::Leaf(leaf) => {
                let leaf = &leaves[*leaf];
                let key = &paths[leaf.path];
                match leaf.depth {
                    1 => format!("{key} {}", leaf.patterns.len()),
                    depth => format!("{key} {}×{depth}", leaf.patterns.len()),
                }
            }
            Entry::Nested(children) => computation(children, leaves, paths),
            Entry::Or(alternatives) => format!(
                "({})",
                alternatives
                    .iter()
                    .map(|alternative| computation(alternative, leaves, paths))
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
        })
        .collect();
    factors.join(" × ")
}

const MAX_COMPUTATION_CHARS: usize = 600;

fn truncate(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_COMPUTATION_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// "Field complexity = (Sum of pattern points) × (Number of patterns)", summed over the keys
/// that hold a wildcard, at most 100
/// (<https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html>).
fn check_wildcard_complexity(leaves: &[Leaf], paths: &[String]) -> Result<(), FilterPolicyError> {
    let fields: Vec<(&Leaf, u64)> = leaves
        .iter()
        .filter(|leaf| leaf.patterns.iter().any(Pattern::is_wildcard))
        .map(|leaf| {
            let points: u64 = leaf.patterns.iter().map(Pattern::wildcard_points).sum();
            (leaf, points)
        })
        .collect();
    let total = fields.iter().fold(0u64, |total, (leaf, points)| {
        total.saturating_add(points.saturating_mul(leaf.patterns.len() as u64))
    });
    if total <= MAX_WILDCARD_COMPLEXITY {
        return Ok(());
    }
    let computation = fields
        .iter()
        .map(|(leaf, points)| format!("{} {points}×{}", paths[leaf.path], leaf.patterns.len()))
        .collect::<Vec<_>>()
        .join(" + ");
    Err(FilterPolicyError::WildcardTooComplex {
        points: total,
        computation: truncate(computation),
    })
}

/// Multiplies the `$or`s out as SNS reads the policy: every alternative copies the branches
/// built so far, and a key sets its path in every current branch (replacing an earlier value).
fn expand(entries: &[Entry], leaves: &[Leaf], branches: &mut Vec<Vec<usize>>) {
    for entry in entries {
        match entry {
            Entry::Leaf(leaf) => {
                for branch in branches.iter_mut() {
                    let path = leaves[*leaf].path;
                    match branch.iter_mut().find(|known| leaves[**known].path == path) {
                        Some(known) => *known = *leaf,
                        None => branch.push(*leaf),
                    }
                }
            }
            Entry::Nested(children) => expand(children, leaves, branches),
            Entry::Or(alternatives) => {
                let before = std::mem::take(branches);
                for alternative in alternatives {
                    let mut copy = before.clone();
                    expand(alternative, leaves, &mut copy);
                    branches.extend(copy);
                }
            }
        }
    }
}
