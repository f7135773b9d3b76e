//! Does a document satisfy one branch of a policy?
//!
//! Every key of the branch needs a value that matches one of its patterns ("For each matching
//! property name in the filter policy, at least one property value matches",
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html>), or, for a
//! key with `"exists": false`, no value at all. Values found in arrays must come from the same
//! element wherever two keys go through the same array: SNS (event-ruler) matches
//! `{"Records": {"s3": {"key": ...}, "eventName": ...}}` against one record, not a key of one
//! record and an event name of another.
//!
//! So the question per node is: which sets of the branch's keys can be satisfied inside it?
//! With at most five keys that is a set of at most 32 subsets, one bit each: a value satisfies
//! the subsets of the keys it matches, an array what any one element does, an object the unions
//! of what its children do.

use crate::compile::Leaf;
use crate::document::{Document, Node};
use crate::pattern::Pattern;

/// A set of subsets of (at most five) keys: bit `s` set when subset `s` can be satisfied.
type Subsets = u32;

/// Only the empty subset.
const NOTHING: Subsets = 1;

/// For each set of keys `m` (bits), the set of its subsets.
const SUBSETS_OF: [Subsets; 32] = {
    let mut table = [0; 32];
    let mut keys = 0;
    while keys < 32 {
        let mut subset = 0;
        while subset < 32 {
            if subset & !keys == 0 {
                table[keys] |= 1 << subset;
            }
            subset += 1;
        }
        keys += 1;
    }
    table
};

/// The keys of a branch that a value has to satisfy, with their paths.
struct Wanted<'p> {
    keys: Vec<(usize, &'p [Pattern])>,
}

pub(crate) fn branch_matches(branch: &[usize], leaves: &[Leaf], document: &Document<'_>) -> bool {
    let mut wanted = Wanted { keys: Vec::new() };
    for &leaf in branch {
        let leaf = &leaves[leaf];
        let absent = document.present & (1 << leaf.path) == 0;
        if absent && leaf.patterns.contains(&Pattern::Exists(false)) {
            continue;
        }
        wanted.keys.push((leaf.path, &leaf.patterns));
    }
    if wanted.keys.is_empty() {
        return true;
    }
    let all_keys = (1usize << wanted.keys.len()) - 1;
    wanted.object(&document.root) & (1 << all_keys) != 0
}

impl Wanted<'_> {
    fn node(&self, node: &Node<'_>) -> Subsets {
        match node {
            Node::Scalar { path, value } => {
                let mut keys = 0;
                for (index, (wanted_path, patterns)) in self.keys.iter().enumerate() {
                    if wanted_path == path && patterns.iter().any(|pattern| pattern.matches(value))
                    {
                        keys |= 1 << index;
                    }
                }
                SUBSETS_OF[keys]
            }
            Node::Array(elements) => elements
                .iter()
                .fold(NOTHING, |subsets, element| subsets | self.node(element)),
            Node::Object(children) => self.object(children),
        }
    }

    fn object(&self, children: &[Node<'_>]) -> Subsets {
        children.iter().fold(NOTHING, |subsets, child| {
            let child = self.node(child);
            if child == NOTHING {
                subsets
            } else {
                unions(subsets, child)
            }
        })
    }
}

/// Every union of a subset from `left` with a subset from `right`.
fn unions(left: Subsets, right: Subsets) -> Subsets {
    let mut result = 0;
    for a in bits(left) {
        for b in bits(right) {
            result |= 1 << (a | b);
        }
    }
    result
}

fn bits(set: Subsets) -> impl Iterator<Item = u32> {
    (0..32).filter(move |bit| set & (1 << bit) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_of_a_set_of_keys() {
        assert_eq!(SUBSETS_OF[0], 0b1);
        assert_eq!(SUBSETS_OF[0b01], 0b11);
        assert_eq!(SUBSETS_OF[0b11], 0b1111);
        assert_eq!(SUBSETS_OF[0b10], 0b101);
    }

    #[test]
    fn unions_combine_one_subset_from_each_side() {
        // {∅, {0}} ∪ {∅, {1}} = {∅, {0}, {1}, {0, 1}}
        assert_eq!(unions(0b11, 0b101), 0b1111);
        assert_eq!(unions(NOTHING, 0b101), 0b101);
    }
}
