//! Evaluating one parsed query against one story.
//!
//! A story is first turned into a [`Document`]: each field cut into folded words, with an
//! inverted index from word to positions. Queries then evaluate bottom-up: words,
//! prefixes and phrases yield positions, `NEAR` joins positions within a window, and
//! `AND` / `OR` / `NOT` combine truth values while collecting the spans that made the
//! query true, so alerts can highlight them.

use std::cell::OnceCell;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::fold::{FoldedText, fold_short_ascii, fold_word};
use super::parse::{Node, Part};
use super::words::for_each_word;
use super::{Field, RuleSet};

/// A byte range of one field's original text that helped a query match.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Span {
    /// The field the range lies in.
    pub field: Field,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

/// A story prepared for matching: every field cut into folded words, with an index
/// from each distinct word to where it occurs.
///
/// Preparing a story is the larger part of matching it, so the layout avoids an
/// allocation per word: distinct words live in one arena string, a hash table maps
/// them to ids, and every occurrence of every word, field after field, is one entry of
/// one vector, linked to the previous occurrence of the same word.
#[derive(Debug)]
pub struct Document<'a> {
    fields: [FieldText<'a>; Field::COUNT],
    /// Every distinct folded word, one after another.
    arena: String,
    /// Per word id: where its text lies in `arena`, and its latest occurrence.
    terms: Vec<Term>,
    /// Word ids, hashed by their text.
    table: HashTable<u32>,
    /// Per bucket of a word's first two bytes, the latest word id in it; `chain` links
    /// each word to the previous one of its bucket. Prefix searches walk one bucket.
    buckets: [u32; BUCKETS],
    chain: Vec<u32>,
    /// Every word occurrence, field after field in the order they were given.
    words: Vec<Word>,
    /// The address of the rule set whose vocabulary filtered the words, or 0 when every
    /// word is indexed.
    vocabulary: usize,
}

const NONE: u32 = u32::MAX;

const BUCKETS: usize = 256;

/// The bucket of a word of at least two bytes.
fn bucket(word: &[u8]) -> usize {
    match word {
        [a, b, ..] => (usize::from(*a) * 31 + usize::from(*b)) % BUCKETS,
        _ => 0,
    }
}

#[derive(Debug, Default)]
struct FieldText<'a> {
    text: &'a str,
    /// The field's occurrences are `words[first..first + len]`.
    first: u32,
    len: u32,
    /// The folded field, built only when a regex asks for it.
    folded: OnceCell<FoldedText>,
}

#[derive(Debug, Clone, Copy)]
struct Term {
    start: u32,
    end: u32,
    /// Index in `words` of the word's latest occurrence.
    head: u32,
    /// The word's first four bytes (zero-padded), to test prefixes without the arena.
    lead: u32,
    /// The word's hash, kept so that looking it up elsewhere need not hash it again.
    hash: u64,
}

/// One occurrence of a word.
#[derive(Debug, Clone, Copy)]
struct Word {
    /// Byte range in the field's text.
    start: u32,
    end: u32,
    /// The word's id, or `NONE` for a word outside the vocabulary the document was
    /// prepared for (kept for its position only).
    id: u32,
    /// The word's previous occurrence, or `NONE`.
    prev: u32,
}

/// The first four bytes of a word, zero-padded, as one number.
fn lead(word: &[u8]) -> u32 {
    let mut bytes = [0; 4];
    let n = word.len().min(4);
    bytes[..n].copy_from_slice(&word[..n]);
    u32::from_le_bytes(bytes)
}

/// The hash of a folded word, as the document and the rule index compute it.
pub(crate) fn hash_word(word: &str) -> u64 {
    FxBuildHasher.hash_one(word)
}

/// The longest field text that is matched: offsets are kept in 32 bits. (Bodies are
/// capped far below this by `[fetch] max_body`.)
const MAX_FIELD: usize = u32::MAX as usize;

impl<'a> Document<'a> {
    /// Prepares the given fields for any query. Each field is taken once: a field given
    /// again is ignored.
    pub fn new(fields: impl IntoIterator<Item = (Field, &'a str)> + Clone) -> Self {
        Document::build(fields, None)
    }

    /// Prepares the given fields for the rules of `set`: only the words they look up are
    /// indexed; the others keep their positions, so distances and phrases are unchanged.
    pub(crate) fn for_vocabulary(
        fields: impl IntoIterator<Item = (Field, &'a str)> + Clone,
        set: &RuleSet,
    ) -> Self {
        Document::build(fields, Some(set))
    }

    /// Whether the document may be matched against `set`.
    pub(crate) fn prepared_for(&self, set: &RuleSet) -> bool {
        self.vocabulary == 0 || self.vocabulary == std::ptr::from_ref(set) as usize
    }

    fn build(
        fields: impl IntoIterator<Item = (Field, &'a str)> + Clone,
        vocabulary: Option<&RuleSet>,
    ) -> Self {
        // One allocation per vector, sized from the text: about one word in six bytes,
        // and fewer distinct words.
        let bytes: usize = fields.clone().into_iter().map(|(_, t)| t.len()).sum();
        let mut doc = Document {
            fields: Default::default(),
            arena: String::with_capacity(bytes / 4),
            terms: Vec::with_capacity(bytes / 16),
            table: HashTable::with_capacity(bytes / 16),
            buckets: [NONE; BUCKETS],
            chain: Vec::with_capacity(bytes / 16),
            words: Vec::with_capacity(bytes / 6),
            vocabulary: vocabulary.map_or(0, |set| std::ptr::from_ref(set) as usize),
        };
        let mut seen = [false; Field::COUNT];
        for (field, text) in fields {
            if std::mem::replace(&mut seen[field as usize], true) {
                continue;
            }
            // A field with the same text as one already cut (feeds often repeat the
            // summary as the content) shares its occurrences.
            let same = Field::ALL.into_iter().find(|&f| {
                seen[f as usize]
                    && f != field
                    && !text.is_empty()
                    && doc.fields[f as usize].text == text
            });
            match same {
                Some(same) => {
                    let FieldText { first, len, .. } = doc.fields[same as usize];
                    doc.fields[field as usize] = FieldText {
                        text: doc.fields[same as usize].text,
                        first,
                        len,
                        folded: OnceCell::new(),
                    };
                }
                None => doc.set(field, text, vocabulary),
            }
        }
        doc
    }

    /// Cuts `text` into the occurrences of `field`; with a vocabulary, only the words
    /// its rules look up are indexed.
    fn set(&mut self, field: Field, text: &'a str, vocabulary: Option<&RuleSet>) {
        let mut text = text;
        if text.len() > MAX_FIELD {
            let mut cut = MAX_FIELD;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text = &text[..cut];
        }
        let first = self.words.len() as u32;
        let Document {
            arena,
            terms,
            table,
            buckets,
            chain,
            words,
            ..
        } = self;
        let mut buffer = String::new();
        let bytes = text.as_bytes();
        for_each_word(text, |start, word| {
            let end = (start + word.len()) as u32;
            let unknown = Word {
                start: start as u32,
                end,
                id: NONE,
                prev: NONE,
            };
            // Most words are short ASCII words no rule needs: turned away unfolded.
            if let Some(set) = vocabulary
                && let Some(packed) = fold_short_ascii(bytes, start, word.len())
                && !set.may_know_short(packed, word.len())
            {
                words.push(unknown);
                return;
            }
            let folded = fold_word(word, &mut buffer);
            if folded.is_empty() {
                return;
            }
            let hash = hash_word(folded);
            if vocabulary.is_some_and(|set| !set.knows(folded, hash)) {
                words.push(unknown);
                return;
            }
            let found = table.find(hash, |&id| {
                let t = terms[id as usize];
                &arena.as_bytes()[t.start as usize..t.end as usize] == folded.as_bytes()
            });
            let id = match found {
                Some(&id) => id,
                None => {
                    let id = terms.len() as u32;
                    let start = arena.len() as u32;
                    arena.push_str(folded);
                    terms.push(Term {
                        start,
                        end: arena.len() as u32,
                        head: NONE,
                        lead: lead(folded.as_bytes()),
                        hash,
                    });
                    table.insert_unique(hash, id, |&id| terms[id as usize].hash);
                    let b = bucket(folded.as_bytes());
                    chain.push(std::mem::replace(&mut buckets[b], id));
                    id
                }
            };
            let term = &mut terms[id as usize];
            words.push(Word {
                start: start as u32,
                end,
                id,
                prev: term.head,
            });
            term.head = words.len() as u32 - 1;
        });
        self.fields[field as usize] = FieldText {
            text,
            first,
            len: self.words.len() as u32 - first,
            folded: OnceCell::new(),
        };
    }

    fn term_text(&self, id: u32) -> &str {
        let t = self.terms[id as usize];
        &self.arena[t.start as usize..t.end as usize]
    }

    /// Every distinct folded word of the story, in all fields (of a document prepared
    /// for a rule set: those its rules look up).
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.hashed_words().map(|(word, _)| word)
    }

    /// Every distinct folded word of the story with its [`hash_word`].
    pub(crate) fn hashed_words(&self) -> impl Iterator<Item = (&str, u64)> {
        self.terms
            .iter()
            .map(|t| (&self.arena[t.start as usize..t.end as usize], t.hash))
    }

    fn folded(&self, field: Field) -> &FoldedText {
        let slot = &self.fields[field as usize];
        slot.folded.get_or_init(|| FoldedText::new(slot.text))
    }

    fn id_of(&self, word: &str) -> Option<u32> {
        self.table
            .find(hash_word(word), |&id| self.term_text(id) == word)
            .copied()
    }

    /// The fields (more than one when fields share their text) and positions in them
    /// of occurrence `at`.
    fn locate(&self, at: u32) -> impl Iterator<Item = (Field, u32)> + '_ {
        Field::ALL.into_iter().filter_map(move |field| {
            let f = &self.fields[field as usize];
            (at.wrapping_sub(f.first) < f.len).then(|| (field, at - f.first))
        })
    }

    /// Where the word with this id occurs, latest first.
    fn postings(&self, id: u32) -> impl Iterator<Item = (Field, u32)> + '_ {
        let mut at = self.terms[id as usize].head;
        std::iter::from_fn(move || {
            let here = at;
            at = self.words.get(here as usize)?.prev;
            Some(here)
        })
        .flat_map(|at| self.locate(at))
    }

    /// Where this folded word occurs.
    fn postings_of(&self, word: &str) -> impl Iterator<Item = (Field, u32)> + '_ {
        self.id_of(word)
            .into_iter()
            .flat_map(|id| self.postings(id))
    }

    /// The ids of the words that start with `prefix`. A story has a few hundred
    /// distinct words; comparing the first four bytes, kept beside each word, before
    /// whole prefixes makes a plain scan cheaper than keeping them sorted.
    fn words_with_prefix<'d>(&'d self, prefix: &'d str) -> impl Iterator<Item = u32> + 'd {
        let prefix = prefix.as_bytes();
        let known = prefix.len().min(4);
        let mask = u32::MAX.checked_shr(32 - 8 * known as u32).unwrap_or(0);
        let wanted = lead(prefix);
        let arena = self.arena.as_bytes();
        // A prefix of two bytes or more looks only in its bucket; a shorter one in all.
        let (mut next, mut all) = match prefix.len() {
            0 | 1 => (NONE, 0..self.terms.len() as u32),
            _ => (self.buckets[bucket(prefix)], 0..0),
        };
        let ids = std::iter::from_fn(move || match next {
            NONE => all.next(),
            id => {
                next = self.chain[id as usize];
                Some(id)
            }
        });
        ids.filter(move |&id| {
            let t = self.terms[id as usize];
            t.lead & mask == wanted
                && (t.end - t.start) as usize >= prefix.len()
                && (known == prefix.len()
                    || arena[t.start as usize..t.end as usize].starts_with(prefix))
        })
    }

    /// The occurrence at a position of a field.
    fn word(&self, field: Field, pos: u32) -> Option<&Word> {
        let f = &self.fields[field as usize];
        if pos >= f.len {
            return None;
        }
        self.words.get((f.first + pos) as usize)
    }

    /// The folded word at a position, unless it is outside the document's vocabulary.
    fn word_at(&self, field: Field, pos: u32) -> Option<&str> {
        let id = self.word(field, pos)?.id;
        (id != NONE).then(|| self.term_text(id))
    }

    /// Byte range of word positions `start..end` of a field.
    fn byte_range(&self, field: Field, start: u32, end: u32) -> (usize, usize) {
        let first = self.word(field, start).expect("a matched position");
        let last = self.word(field, end - 1).expect("a matched position");
        (first.start as usize, last.end as usize)
    }
}

/// Which fields a part of a query looks in.
fn fields_of(scope: Option<Field>) -> &'static [Field] {
    match scope {
        Some(field) => std::slice::from_ref(&Field::ALL[field as usize]),
        None => &Field::DEFAULT,
    }
}

fn in_scope(scope: Option<Field>, field: Field) -> bool {
    scope.map_or(Field::DEFAULT.contains(&field), |s| s == field)
}

/// Where a positional part of a query occurs: word positions `start..end` of a field,
/// and the pieces to highlight (empty: the whole range).
#[derive(Debug, Clone)]
struct Occurrence {
    field: Field,
    start: u32,
    end: u32,
    pieces: Vec<(u32, u32)>,
}

impl Occurrence {
    fn word(field: Field, start: u32, end: u32) -> Self {
        Occurrence {
            field,
            start,
            end,
            pieces: Vec::new(),
        }
    }

    fn push_pieces_into(&self, out: &mut Vec<(u32, u32)>) {
        if self.pieces.is_empty() {
            out.push((self.start, self.end));
        } else {
            out.extend_from_slice(&self.pieces);
        }
    }
}

/// What made part of a query true, before it is turned into byte spans.
#[derive(Debug, Clone, Copy)]
enum Evidence {
    Words(Field, u32, u32),
    Bytes(Field, usize, usize),
}

/// Evaluates a query; `Some(spans)` when it matches (the spans may be empty only for
/// parts that matched by absence, which a valid query never is alone).
pub(crate) fn evaluate(node: &Node, doc: &Document<'_>) -> Option<Vec<Span>> {
    let mut evidence = Vec::new();
    if !eval(node, doc, &mut evidence) {
        return None;
    }
    let mut spans: Vec<Span> = evidence
        .into_iter()
        .map(|e| match e {
            Evidence::Words(field, start, end) => {
                let (start, end) = doc.byte_range(field, start, end);
                Span { field, start, end }
            }
            Evidence::Bytes(field, start, end) => Span { field, start, end },
        })
        .collect();
    spans.sort_unstable();
    // Merge overlapping spans so a highlighter can walk them in order.
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if last.field == span.field && span.start <= last.end => {
                last.end = last.end.max(span.end);
            }
            _ => merged.push(span),
        }
    }
    Some(merged)
}

/// Evaluates `node`, appending its evidence when true. On false, whatever was appended
/// is truncated away again.
fn eval(node: &Node, doc: &Document<'_>, out: &mut Vec<Evidence>) -> bool {
    let mark = out.len();
    let ok = match node {
        Node::Word { .. } | Node::Prefix { .. } | Node::Phrase { .. } | Node::Near { .. } => {
            let found = occurrences(node, doc);
            let mut pieces = Vec::new();
            for occ in &found {
                pieces.clear();
                occ.push_pieces_into(&mut pieces);
                out.extend(
                    pieces
                        .iter()
                        .map(|&(s, e)| Evidence::Words(occ.field, s, e)),
                );
            }
            !found.is_empty()
        }
        Node::Regex { scope, regex } => {
            let mut any = false;
            for &field in fields_of(*scope) {
                if doc.fields[field as usize].text.is_empty() {
                    continue;
                }
                let folded = doc.folded(field);
                for m in regex.find_iter(&folded.text) {
                    if m.is_empty() {
                        continue;
                    }
                    let (start, end) = folded.original_range(m.start(), m.end());
                    out.push(Evidence::Bytes(field, start, end));
                    any = true;
                }
            }
            any
        }
        Node::And(children) => children.iter().all(|c| eval(c, doc, out)),
        Node::Or(children) => {
            // Evaluate every branch (no short cut) so all matched words are highlighted.
            let mut any = false;
            for child in children {
                any |= eval(child, doc, out);
            }
            any
        }
        Node::Not(child) => {
            let mut scratch = Vec::new();
            !eval(child, doc, &mut scratch)
        }
    };
    if !ok {
        out.truncate(mark);
    }
    ok
}

/// Where a positional node (word, prefix, phrase, OR of those, NEAR) occurs.
fn occurrences(node: &Node, doc: &Document<'_>) -> Vec<Occurrence> {
    match node {
        Node::Word { scope, word } => doc
            .postings_of(word)
            .filter(|&(f, _)| in_scope(*scope, f))
            .map(|(f, p)| Occurrence::word(f, p, p + 1))
            .collect(),
        Node::Prefix { scope, prefix } => doc
            .words_with_prefix(prefix)
            .flat_map(|id| doc.postings(id))
            .filter(|&(f, _)| in_scope(*scope, f))
            .map(|(f, p)| Occurrence::word(f, p, p + 1))
            .collect(),
        Node::Phrase { scope, parts } => phrase_occurrences(*scope, parts, doc),
        Node::Or(children) => children.iter().flat_map(|c| occurrences(c, doc)).collect(),
        Node::Near {
            left,
            right,
            max_gap,
        } => near_occurrences(occurrences(left, doc), occurrences(right, doc), *max_gap),
        // The parser only puts positional nodes where positions are asked for.
        Node::Regex { .. } | Node::And(_) | Node::Not(_) => Vec::new(),
    }
}

fn part_matches(part: &Part, word: &str) -> bool {
    if part.prefix {
        word.starts_with(part.text.as_str())
    } else {
        word == part.text
    }
}

fn phrase_occurrences(scope: Option<Field>, parts: &[Part], doc: &Document<'_>) -> Vec<Occurrence> {
    // Anchor on the first exact word if there is one: its postings are the fewest
    // starting points to check.
    let (anchor, part) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| !p.prefix)
        .unwrap_or((0, &parts[0]));
    let starts: Vec<(Field, u32)> = if part.prefix {
        doc.words_with_prefix(&part.text)
            .flat_map(|id| doc.postings(id))
            .collect()
    } else {
        doc.postings_of(&part.text).collect()
    };
    let len = parts.len() as u32;
    starts
        .into_iter()
        .filter(|&(f, _)| in_scope(scope, f))
        .filter_map(|(field, pos)| {
            let start = pos.checked_sub(anchor as u32)?;
            let all = parts.iter().enumerate().all(|(i, p)| {
                doc.word_at(field, start + i as u32)
                    .is_some_and(|w| part_matches(p, w))
            });
            all.then(|| Occurrence::word(field, start, start + len))
        })
        .collect()
}

/// Pairs of a left and a right occurrence in the same field, not overlapping, with at
/// most `max_gap` words between them, in either order. Each pair becomes one occurrence
/// covering both, highlighting only the two sides.
fn near_occurrences(
    left: Vec<Occurrence>,
    mut right: Vec<Occurrence>,
    max_gap: u32,
) -> Vec<Occurrence> {
    if left.is_empty() || right.is_empty() {
        return Vec::new();
    }
    right.sort_unstable_by_key(|o| (o.field, o.start));
    let longest_right = right.iter().map(|o| o.end - o.start).max().unwrap_or(1);
    let mut out = Vec::new();
    for l in &left {
        // Right occurrences that could be close enough start within this window; it
        // keeps the join linear in the number of occurrences for a fixed distance.
        let lo = l.start.saturating_sub(max_gap + longest_right);
        let hi = l.end.saturating_add(max_gap);
        let first = right.partition_point(|o| (o.field, o.start) < (l.field, lo));
        for r in right[first..]
            .iter()
            .take_while(|o| o.field == l.field && o.start <= hi)
        {
            let gap = if l.end <= r.start {
                r.start - l.end
            } else if r.end <= l.start {
                l.start - r.end
            } else {
                continue; // overlapping: the same words cannot be both sides
            };
            if gap <= max_gap {
                let mut pieces = Vec::new();
                l.push_pieces_into(&mut pieces);
                r.push_pieces_into(&mut pieces);
                out.push(Occurrence {
                    field: l.field,
                    start: l.start.min(r.start),
                    end: l.end.max(r.end),
                    pieces,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prefix search walks one bucket for prefixes of two bytes or more and every word
    /// for shorter ones; both must find exactly the words a plain filter finds.
    #[test]
    fn words_with_prefix_finds_every_word_with_it() {
        let text = "Peskov peskova pest p pe Песков песок apex a ap peace Pentagon ペスコフ";
        let doc = Document::new([(Field::Title, text), (Field::Content, "people pep")]);
        for prefix in [
            "", "p", "pe", "pes", "pesk", "peskov", "peskovs", "пе", "пес", "a", "ап", "ペ", "zz",
        ] {
            let mut found: Vec<&str> = doc
                .words_with_prefix(prefix)
                .map(|id| doc.term_text(id))
                .collect();
            found.sort_unstable();
            let mut expected: Vec<&str> = doc.words().filter(|w| w.starts_with(prefix)).collect();
            expected.sort_unstable();
            assert_eq!(found, expected, "{prefix:?}");
        }
    }
}
