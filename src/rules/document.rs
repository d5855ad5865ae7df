//! A story prepared for matching: each field cut into folded words, with an inverted
//! index from word to positions, so that queries look words up instead of scanning.

use std::cell::OnceCell;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::fold::{FoldedText, fold_short_ascii, fold_word};
use super::words::for_each_word;
use super::{Field, RuleSet};

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
        let text = &text[..text.floor_char_boundary(MAX_FIELD)];
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

    pub(super) fn term_text(&self, id: u32) -> &str {
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

    pub(super) fn folded(&self, field: Field) -> &FoldedText {
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
    pub(super) fn postings(&self, id: u32) -> impl Iterator<Item = (Field, u32)> + '_ {
        let mut at = self.terms[id as usize].head;
        std::iter::from_fn(move || {
            let here = at;
            at = self.words.get(here as usize)?.prev;
            Some(here)
        })
        .flat_map(|at| self.locate(at))
    }

    /// Where this folded word occurs.
    pub(super) fn postings_of(&self, word: &str) -> impl Iterator<Item = (Field, u32)> + '_ {
        self.id_of(word)
            .into_iter()
            .flat_map(|id| self.postings(id))
    }

    /// The ids of the words that start with `prefix`. A story has a few hundred
    /// distinct words; comparing the first four bytes, kept beside each word, before
    /// whole prefixes makes a plain scan cheaper than keeping them sorted.
    pub(super) fn words_with_prefix<'d>(
        &'d self,
        prefix: &'d str,
    ) -> impl Iterator<Item = u32> + 'd {
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
        // (A word shorter than a prefix of four bytes or fewer fails on its first bytes
        // alone: its lead is padded with zeros, which no prefix holds.)
        ids.filter(move |&id| {
            let t = self.terms[id as usize];
            t.lead & mask == wanted
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
    pub(super) fn word_at(&self, field: Field, pos: u32) -> Option<&str> {
        let id = self.word(field, pos)?.id;
        (id != NONE).then(|| self.term_text(id))
    }

    /// Where a field's words start when the story is read in order — title, summary,
    /// content, as one text — or `None` for the other fields, whose words are near only
    /// each other. (A content that repeats the summary is read again after it, as its
    /// copy would be: a field sharing another's words matches as a copy of them does.)
    pub(super) fn reading_position(&self, field: Field) -> Option<u32> {
        let len = |f: Field| self.fields[f as usize].len;
        match field {
            Field::Title => Some(0),
            Field::Summary => Some(len(Field::Title)),
            Field::Content => Some(len(Field::Title) + len(Field::Summary)),
            Field::Author | Field::Category | Field::Feed => None,
        }
    }

    /// A field's text as given.
    pub(super) fn field_text(&self, field: Field) -> &'a str {
        self.fields[field as usize].text
    }

    /// Byte range of word positions `start..end` of a field.
    pub(super) fn byte_range(&self, field: Field, start: u32, end: u32) -> (usize, usize) {
        let first = self.word(field, start).expect("a matched position");
        let last = self.word(field, end - 1).expect("a matched position");
        (first.start as usize, last.end as usize)
    }
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
