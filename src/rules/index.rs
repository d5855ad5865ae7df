//! Many rules at once: an index from the words rules need to the rules that need them.
//!
//! As in Lucene's Monitor or the Elasticsearch percolator, each rule is reduced to a
//! small set of *keys* — exact words or prefixes — such that the rule can only match a
//! story containing at least one of them. For `Ukrain* NEAR/12 (talks OR negotiat*)` one
//! key `ukrain*` is enough: no story without a word starting `ukrain` can match. A story
//! then looks up each of its distinct words in the exact-word map and the word's first
//! bytes among the prefix keys (grouped by their first four bytes), and only those
//! candidate rules are evaluated in full. Rules with no usable key (a lone regex) are
//! evaluated for every story.
//!
//! The keys are a necessary condition, never a sufficient one, so indexed results equal
//! evaluating every rule; a property test holds the two to that.

use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use super::document::hash_word;
use super::fold::fold_short_ascii;
use super::parse::{Node, Part};
use super::{Document, Query, Span};

/// A rule that matched a story, with the spans that made it true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHit {
    /// Index of the rule in the set, in the order given to [`RuleSet::new`].
    pub rule: usize,
    /// The byte ranges that made the rule true.
    pub spans: Vec<Span>,
}

/// A key's text with the rules keyed on it.
type Keyed = (Box<str>, Vec<u32>);

/// Compiled rules with their word index.
#[derive(Debug, Default)]
pub struct RuleSet {
    queries: Vec<Query>,
    /// Exact words and their rules, hashed by [`hash_word`] (a story's words come
    /// with that hash already computed).
    exact: HashTable<Keyed>,
    /// A filter on the hashes of the words in `exact`: a story word whose bit is clear
    /// is not one of them, found without probing the table.
    exact_hashes: Vec<u64>,
    /// A filter on the words in `exact` of at most eight ASCII bytes, by their packed
    /// form ([`fold_short_ascii`]): most story words are turned away on it unfolded.
    short_words: Vec<u64>,
    /// The prefix keys with their rules, grouped by their start (the first four bytes,
    /// or all of a shorter key): a word looks up its start once for each start length
    /// (usually one) instead of once for each prefix length.
    prefix_groups: FxHashMap<u32, Vec<Keyed>>,
    /// The distinct start lengths of `prefix_groups`, ascending.
    start_lengths: Vec<usize>,
    /// A filter on the starts in `prefix_groups`: a word whose starts are not in it
    /// skips the lookups.
    prefix_starts: Vec<u64>,
    /// Rules without a key, evaluated for every story.
    unindexed: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Exact(String),
    Prefix(String),
}

impl Key {
    /// The key a phrase part is looked up by.
    fn of_part(part: &Part) -> Key {
        if part.prefix {
            Key::Prefix(part.text.clone())
        } else {
            Key::Exact(part.text.clone())
        }
    }

    /// How many stories a key is likely to admit; lower is better. Prefixes admit more
    /// than words, short keys more than long ones.
    fn cost(&self) -> f64 {
        match self {
            Key::Exact(w) => 1.0 + 4.0 / w.len() as f64,
            Key::Prefix(p) => 3.0 + 12.0 / p.len() as f64,
        }
    }
}

fn cost(keys: &[Key]) -> f64 {
    keys.iter().map(Key::cost).sum()
}

/// Keys such that `node` can only be true for a story holding one of them, or `None`
/// when no such set exists (a regex, a `NOT`).
fn keys(node: &Node) -> Option<Vec<Key>> {
    match node {
        Node::Word { word, .. } => Some(vec![Key::Exact(word.clone())]),
        Node::Prefix { prefix, .. } => Some(vec![Key::Prefix(prefix.clone())]),
        Node::Phrase { parts, .. } => parts
            .iter()
            .map(|p| vec![Key::of_part(p)])
            .min_by(|a, b| cost(a).total_cmp(&cost(b))),
        Node::Regex { .. } | Node::Not(_) => None,
        // Every part of an AND must hold, so any one part's keys will do: take the
        // most selective.
        Node::And(children) => children
            .iter()
            .filter_map(keys)
            .min_by(|a, b| cost(a).total_cmp(&cost(b))),
        Node::Near { left, right, .. } => [keys(left), keys(right)]
            .into_iter()
            .flatten()
            .min_by(|a, b| cost(a).total_cmp(&cost(b))),
        // Any branch of an OR may hold, so all of their keys are needed.
        Node::Or(children) => {
            let mut all = Vec::new();
            for child in children {
                all.extend(keys(child)?);
            }
            Some(all)
        }
    }
}

/// Every word and prefix `node` looks up in a story, as keys, appended to `out`.
fn terms(node: &Node, out: &mut Vec<Key>) {
    match node {
        Node::Word { word, .. } => out.push(Key::Exact(word.clone())),
        Node::Prefix { prefix, .. } => out.push(Key::Prefix(prefix.clone())),
        Node::Phrase { parts, .. } => out.extend(parts.iter().map(Key::of_part)),
        Node::Regex { .. } => {}
        Node::Not(child) => terms(child, out),
        Node::Near { left, right, .. } => {
            terms(left, out);
            terms(right, out);
        }
        Node::And(children) | Node::Or(children) => {
            children.iter().for_each(|c| terms(c, out));
        }
    }
}

/// Size of the filter on exact words' hashes.
const HASH_BITS: usize = 1 << 16;

/// The filter bit of a word's hash: its top sixteen bits.
fn hash_bit(hash: u64) -> usize {
    (hash >> (64 - HASH_BITS.trailing_zeros())) as usize
}

/// The filter bit of a short ASCII word packed by [`fold_short_ascii`].
fn short_bit(packed: u64) -> usize {
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - HASH_BITS.trailing_zeros())) as usize
}

/// The [`start`] of length `n` (at most four) of a word packed by [`fold_short_ascii`].
fn packed_start(packed: u64, n: usize) -> u32 {
    let bytes = packed as u32;
    match n {
        4 => bytes,
        _ => bytes & ((1 << (8 * n)) - 1) | (u32::MAX << (8 * n)),
    }
}

/// Size of the filter on prefixes' first bytes.
const START_BITS: usize = 1 << 16;

/// A text's first `n` bytes (at most four), padded, as one number, if it has them.
fn start(text: &[u8], n: usize) -> Option<u32> {
    let start = text.get(..n)?;
    let mut packed = [0xFF; 4];
    packed[..n].copy_from_slice(start);
    Some(u32::from_le_bytes(packed))
}

/// The filter bit of a [`start`].
fn start_bit(start: u32) -> usize {
    (start.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

impl RuleSet {
    /// Compiles the index for these queries; rule numbers follow their order.
    pub fn new(queries: impl IntoIterator<Item = Query>) -> Self {
        let queries: Vec<Query> = queries.into_iter().collect();
        let mut set = RuleSet::default();
        let mut vocabulary = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            // Every word and prefix the rule looks up is in the vocabulary, key or not.
            terms(&query.root, &mut vocabulary);
            for term in vocabulary.drain(..) {
                set.rules_of(term);
            }
            let i = i as u32;
            let Some(mut rule_keys) = keys(&query.root) else {
                set.unindexed.push(i);
                continue;
            };
            rule_keys.dedup();
            for key in rule_keys {
                let rules = set.rules_of(key);
                if rules.last() != Some(&i) {
                    rules.push(i);
                }
            }
        }
        set.queries = queries;
        set.exact_hashes = vec![0; HASH_BITS / 64];
        set.short_words = vec![0; HASH_BITS / 64];
        for (word, _) in &set.exact {
            let bit = hash_bit(hash_word(word));
            set.exact_hashes[bit / 64] |= 1 << (bit % 64);
            if let Some(packed) = fold_short_ascii(word.as_bytes(), 0, word.len()) {
                let bit = short_bit(packed);
                set.short_words[bit / 64] |= 1 << (bit % 64);
            }
        }
        set.prefix_starts = vec![0; START_BITS / 64];
        for (&key, group) in &mut set.prefix_groups {
            group.shrink_to_fit(); // most groups hold one key
            let bit = start_bit(key);
            set.prefix_starts[bit / 64] |= 1 << (bit % 64);
            // Every key of a group has the same start length.
            let n = group[0].0.len().min(4);
            if !set.start_lengths.contains(&n) {
                set.start_lengths.push(n);
            }
        }
        set.start_lengths.sort_unstable();
        set
    }

    /// The rules keyed by a term, entered (with none) if new.
    fn rules_of(&mut self, term: Key) -> &mut Vec<u32> {
        match term {
            Key::Exact(word) => {
                let hash = hash_word(&word);
                let same = |(w, _): &Keyed| **w == *word;
                if self.exact.find(hash, same).is_none() {
                    let entry = (word.as_str().into(), Vec::new());
                    self.exact.insert_unique(hash, entry, |(w, _)| hash_word(w));
                }
                &mut self.exact.find_mut(hash, same).expect("just entered").1
            }
            Key::Prefix(prefix) => {
                let n = prefix.len().min(4);
                let key = start(prefix.as_bytes(), n).expect("a prefix has its own bytes");
                let group = self.prefix_groups.entry(key).or_default();
                let at = match group.iter().position(|(p, _)| **p == *prefix) {
                    Some(at) => at,
                    None => {
                        group.push((prefix.into(), Vec::new()));
                        group.len() - 1
                    }
                };
                &mut group[at].1
            }
        }
    }

    /// Whether any rule of the set looks up this folded word (with its [`hash_word`]):
    /// it is one of their words or starts with one of their prefixes. A story's other
    /// words matter to no rule but by their positions.
    #[inline]
    pub(crate) fn knows(&self, word: &str, hash: u64) -> bool {
        self.exact_rules(word, hash).is_some() || self.prefix_rules(word).next().is_some()
    }

    /// Whether the set may know a word of `len` bytes that [`fold_short_ascii`] packed:
    /// false only when [`RuleSet::knows`] is false for its fold. The same test as
    /// `knows`, on filters alone: the word's bit among the short exact words, and its
    /// starts among the prefix keys' starts.
    #[inline]
    pub(crate) fn may_know_short(&self, packed: u64, len: usize) -> bool {
        let bit = short_bit(packed);
        let word = self.short_words.get(bit / 64);
        word.is_some_and(|block| block & (1 << (bit % 64)) != 0)
            || self
                .start_lengths
                .iter()
                .any(|&n| n <= len && self.has_start(packed_start(packed, n)))
    }

    /// The rules keyed on this folded word (with its [`hash_word`]), if it is one of
    /// the set's words.
    #[inline]
    fn exact_rules(&self, word: &str, hash: u64) -> Option<&[u32]> {
        let bit = hash_bit(hash);
        if self.exact_hashes.get(bit / 64)? & (1 << (bit % 64)) == 0 {
            return None;
        }
        let (_, rules) = self.exact.find(hash, |(w, _)| **w == *word)?;
        Some(rules)
    }

    /// The rules keyed on each of the set's prefixes that this folded word starts with.
    #[inline]
    fn prefix_rules<'s>(&'s self, word: &'s str) -> impl Iterator<Item = &'s [u32]> + 's {
        self.start_lengths
            .iter()
            .filter_map(move |&n| start(word.as_bytes(), n))
            .filter(move |&key| self.has_start(key))
            .filter_map(move |key| self.prefix_groups.get(&key))
            .flatten()
            // A word holding all of a prefix's (valid UTF-8) bytes splits after it at
            // a character boundary.
            .filter(move |(prefix, _)| word.starts_with(&**prefix))
            .map(|(_, rules)| rules.as_slice())
    }

    /// A story's fields prepared for matching against this set: only words some rule
    /// looks up are indexed, which makes preparing a long story much cheaper. Such a
    /// document must be matched against this set only; [`Document::new`] prepares one
    /// for any query.
    pub fn document<'a>(
        &self,
        fields: impl IntoIterator<Item = (super::Field, &'a str)> + Clone,
    ) -> Document<'a> {
        Document::for_vocabulary(fields, self)
    }

    /// Whether some prefix key may have this [`start`].
    #[inline]
    fn has_start(&self, key: u32) -> bool {
        let bit = start_bit(key);
        self.prefix_starts
            .get(bit / 64)
            .is_some_and(|block| block & (1 << (bit % 64)) != 0)
    }

    /// How many rules the set holds.
    pub fn len(&self) -> usize {
        self.queries.len()
    }

    /// Whether the set holds no rule.
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// How many rules are evaluated for every story because they have no key.
    pub fn unindexed(&self) -> usize {
        self.unindexed.len()
    }

    /// Rule numbers, ascending, that the story may match: those with a key among its
    /// words, and the unindexed ones.
    pub fn candidates(&self, doc: &Document<'_>) -> Vec<usize> {
        let mut marked = vec![0u64; self.queries.len().div_ceil(64)];
        let mut mark = |rules: &[u32]| {
            for &r in rules {
                marked[r as usize / 64] |= 1 << (r % 64);
            }
        };
        mark(&self.unindexed);
        for (word, hash) in doc.hashed_words() {
            self.exact_rules(word, hash).into_iter().for_each(&mut mark);
            self.prefix_rules(word).for_each(&mut mark);
        }
        let mut out = Vec::new();
        for (block, &bits) in marked.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                out.push(block * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        out
    }

    /// Every rule that matches the story, by rule number, evaluating only candidates.
    pub fn matches(&self, doc: &Document<'_>) -> Vec<RuleHit> {
        debug_assert!(
            doc.prepared_for(self),
            "a document prepared for another rule set"
        );
        self.evaluate(doc, self.candidates(doc))
    }

    /// Every rule that matches the story, evaluating every rule. The reference that
    /// [`RuleSet::matches`] must equal, and the baseline of the benchmark.
    pub fn matches_naive(&self, doc: &Document<'_>) -> Vec<RuleHit> {
        self.evaluate(doc, 0..self.queries.len())
    }

    fn evaluate(&self, doc: &Document<'_>, rules: impl IntoIterator<Item = usize>) -> Vec<RuleHit> {
        rules
            .into_iter()
            .filter_map(|rule| {
                self.queries[rule]
                    .matches(doc)
                    .map(|spans| RuleHit { rule, spans })
            })
            .collect()
    }
}
