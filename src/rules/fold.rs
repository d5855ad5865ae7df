//! Text folding, shared by queries and stories.
//!
//! A query word and a story word match when their *folded* forms are equal, so both
//! sides must go through exactly the same functions: [`fold`] for a piece of text and
//! [`super::words`] for cutting text into words. Folding is NFKC-style compatibility
//! normalisation (which also folds full- and half-width forms), full Unicode case
//! folding (`ß` → `ss`, final `ς` → `σ`), removal of combining accents (`é` → `e`,
//! `ё` → `е`) and of invisible formatting such as soft hyphens.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_segmentation::UnicodeSegmentation;

/// Folds text for case-, accent- and width-insensitive comparison.
///
/// ASCII text, by far the common case in feeds, only needs lower-casing; most other
/// words fold character by character from a table derived from the full fold, and the
/// rest (combining marks, Hangul, rarer scripts) take the full Unicode path.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// Folds `text` into `out`, replacing what `out` held; reusing one buffer spares an
/// allocation per word when folding a whole story.
pub(crate) fn fold_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
        return;
    }
    if fold_by_character(text, out) {
        return;
    }
    out.clear();
    fold_fully(text, out);
}

/// The folded form of one word: the word itself when folding would not change it
/// (ASCII without capitals, most words of a text), else its fold in `buffer`.
pub(crate) fn fold_word<'w>(word: &'w str, buffer: &'w mut String) -> &'w str {
    if word.bytes().all(|b| b < 0x80 && !b.is_ascii_uppercase()) {
        return word;
    }
    fold_into(word, buffer);
    buffer
}

/// The fold of a word of at most eight ASCII bytes — its bytes lower-cased — packed
/// into a number (little-endian, zero-padded), computed eight bytes at once. `None` for
/// a longer word or one with a byte outside ASCII.
///
/// Nine words in ten of a feed are such words, and most of them matter to no rule: the
/// rule index turns them away on this number alone, without folding them one by one.
/// `bytes` is the text holding the word at `start..start + len`; reading past the word
/// within it saves copying the word out.
#[inline]
pub(crate) fn fold_short_ascii(bytes: &[u8], start: usize, len: usize) -> Option<u64> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if len > 8 {
        return None;
    }
    let raw = match bytes.get(start..start + 8) {
        Some(window) => u64::from_le_bytes(window.try_into().expect("eight bytes")),
        None => bytes[start..start + len]
            .iter()
            .rev()
            .fold(0, |packed, &b| packed << 8 | u64::from(b)),
    };
    let packed = match len {
        8 => raw,
        _ => raw & ((1 << (8 * len)) - 1),
    };
    if packed & HIGH != 0 {
        return None;
    }
    // Bytes from `A` up: adding 0x3F sets their high bit; bytes past `Z`: adding 0x25
    // does. No byte carries into the next: every byte is below 0x80.
    let at_least_a = packed + 0x3F3F_3F3F_3F3F_3F3F;
    let past_z = packed + 0x2525_2525_2525_2525;
    let capitals = at_least_a & !past_z & HIGH;
    Some(packed | capitals >> 2)
}

/// The full fold: decompose fully (which also folds compatibility and width variants),
/// case fold, decompose again because case folding can produce composed characters,
/// drop the accents, and recompose what is left (Hangul syllables, for one).
fn fold_fully(text: &str, out: &mut String) {
    out.extend(
        text.chars()
            .nfkd()
            .default_case_fold()
            .nfkd()
            .filter(|&c| !is_accent(c) && !is_invisible(c))
            .nfc(),
    );
}

/// Characters that change how a word looks, not which word it is — Unicode's
/// default-ignorable code points: the soft hyphen (`&shy;`, a hyphenation hint), the
/// combining grapheme joiner, zero-width spaces, joiners and non-joiners, the word
/// joiner, direction marks and embeddings, variation selectors, tags and a byte-order
/// mark inside text. Word boundaries pass over most of them (UAX #29 keeps them inside
/// a word; the zero-width space, see [`super::words`]), so without dropping them
/// `Pes&shy;kov` would not be the word `peskov`.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// Folds a word one character at a time when every character allows it, which is far
/// cheaper than the full fold; returns false (with `out` part-filled) when one does not.
///
/// A character folds on its own when the full fold of a text holding it always
/// contains its fold, unchanged, in its place: see [`CharacterFolds`].
fn fold_by_character(text: &str, out: &mut String) -> bool {
    let folds = &*CHARACTER_FOLDS;
    for c in text.chars() {
        match c as u32 {
            0..0x80 => out.push(c.to_ascii_lowercase()),
            code @ 0x80..0x800 => match folds.get(code) {
                Some(folded) => out.push_str(folded),
                None => return false,
            },
            // CJK unified ideographs fold to themselves (a test holds every one to it).
            0x4E00..=0x9FFF => out.push(c),
            _ => return false,
        }
    }
    true
}

/// The folds of the two-byte UTF-8 characters (U+0080..U+07FF: Latin, Greek,
/// Cyrillic, Armenian, Hebrew, Arabic, …) that fold on their own.
///
/// A character qualifies when it is not a combining mark, its decomposition (after case
/// folding) starts with a base character — so canonical reordering never moves marks
/// across it — and what is left after dropping accents is base characters that are
/// already in NFC and never combine with what precedes them. Then the fold of any word
/// made of such characters and ASCII is the concatenation of their folds. Computed from
/// the full fold itself, so the two can never disagree on a character.
struct CharacterFolds {
    /// Per character from U+0080: the folded text's range in `text` (empty: none).
    ranges: Vec<(u16, u16)>,
    text: String,
}

impl CharacterFolds {
    fn new() -> Self {
        use unicode_normalization::{IsNormalized, is_nfc_quick};
        let mut folds = CharacterFolds {
            ranges: Vec::with_capacity(0x780),
            text: String::new(),
        };
        for code in 0x80..0x800u32 {
            let start = folds.text.len() as u16;
            let simple = char::from_u32(code)
                .filter(|&c| !is_combining_mark(c))
                .and_then(|c| {
                    let decomposed: Vec<char> = std::iter::once(c)
                        .nfkd()
                        .default_case_fold()
                        .nfkd()
                        .collect();
                    if decomposed
                        .first()
                        .is_none_or(|&d| canonical_combining_class(d) != 0)
                    {
                        return None;
                    }
                    let kept: String = decomposed.into_iter().filter(|&d| !is_accent(d)).collect();
                    let plain = !kept.is_empty()
                        && kept.chars().all(|d| {
                            !is_combining_mark(d)
                                && canonical_combining_class(d) == 0
                                && is_nfc_quick(std::iter::once(d)) == IsNormalized::Yes
                        });
                    let mut full = String::new();
                    fold_fully(c.encode_utf8(&mut [0; 4]), &mut full);
                    (plain && full == kept).then_some(kept)
                });
            if let Some(folded) = simple {
                folds.text.push_str(&folded);
            }
            folds.ranges.push((start, folds.text.len() as u16));
        }
        folds
    }

    fn get(&self, code: u32) -> Option<&str> {
        let (start, end) = *self.ranges.get(code.checked_sub(0x80)? as usize)?;
        (start < end).then(|| &self.text[start as usize..end as usize])
    }
}

static CHARACTER_FOLDS: std::sync::LazyLock<CharacterFolds> =
    std::sync::LazyLock::new(CharacterFolds::new);

/// An accent is a combining mark that attaches to a base letter (non-zero combining
/// class). Marks of class 0, such as Indic vowel signs, are letters of their script and
/// stay, or words in those scripts would lose their meaning.
fn is_accent(c: char) -> bool {
    is_combining_mark(c) && canonical_combining_class(c) != 0
}

/// A whole text folded as one string, with a map back to the original, so that a
/// regular expression can run over folded text and its matches can still be
/// highlighted in the original.
#[derive(Debug, Clone)]
pub struct FoldedText {
    /// The folded text.
    pub text: String,
    /// `(folded offset, original offset)` at the start of every word-boundary segment,
    /// in increasing order, followed by one entry for the two ends.
    map: Vec<(usize, usize)>,
}

impl FoldedText {
    /// Folds `original` segment by segment (segments are cut at word boundaries, so a
    /// letter always stays with its accents).
    pub fn new(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::new();
        for (offset, segment) in original.split_word_bound_indices() {
            map.push((text.len(), offset));
            text.push_str(&fold(segment));
        }
        map.push((text.len(), original.len()));
        FoldedText { text, map }
    }

    /// Maps a byte range of the folded text to the smallest range of whole segments of
    /// the original text that covers it.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        // The last segment starting at or before `start`.
        let first = self.map.partition_point(|&(folded, _)| folded <= start);
        let orig_start = self.map[first.saturating_sub(1)].1;
        // The first segment boundary at or after `end`.
        let last = self.map.partition_point(|&(folded, _)| folded < end);
        let orig_end = self.map[last.min(self.map.len() - 1)].1;
        (orig_start, orig_end.max(orig_start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_width() {
        assert_eq!(fold("PESKOV"), "peskov");
        assert_eq!(fold("Café Crème"), "cafe creme");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("ＰＥＳＫＯＶ"), "peskov");
        assert_eq!(fold("ﬁnance"), "finance");
    }

    #[test]
    fn folds_cyrillic_and_greek() {
        assert_eq!(fold("ПЕСКОВ"), "песков");
        assert_eq!(fold("Ёлка"), "елка");
        assert_eq!(fold("ΟΔΥΣΣΕΥΣ"), "οδυσσευσ");
        assert_eq!(fold("Αθήνα"), fold("ΑΘΗΝΑ"));
    }

    #[test]
    fn keeps_hangul_and_indic_vowel_signs() {
        assert_eq!(fold("한국"), "한국");
        assert_eq!(
            fold("हिन्दी").chars().count(),
            5,
            "only the virama is dropped"
        );
    }

    fn fully(text: &str) -> String {
        let mut out = String::new();
        fold_fully(text, &mut out);
        out
    }

    #[test]
    fn character_folds_cover_the_common_alphabets() {
        let folds = &*CHARACTER_FOLDS;
        for (c, folded) in [('É', "e"), ('ß', "ss"), ('Ж', "ж"), ('Ё', "е"), ('Ά', "α")] {
            assert_eq!(folds.get(c as u32), Some(folded), "{c}");
        }
        // Combining marks never fold on their own.
        assert_eq!(folds.get(0x301), None);
        assert_eq!(folds.get(0x5B4), None);
    }

    #[test]
    fn cjk_ideographs_fold_to_themselves() {
        for code in 0x4E00..=0x9FFFu32 {
            let c = char::from_u32(code).unwrap();
            let text = c.to_string();
            assert_eq!(fully(&text), text, "U+{code:04X}");
            assert_eq!(
                unicode_normalization::is_nfc_quick(text.chars()),
                unicode_normalization::IsNormalized::Yes
            );
        }
    }

    /// Folding character by character must give exactly the full fold, for words
    /// mixing every kind of character, combining marks and Hangul among them.
    fn mixed_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            proptest::char::range('a', 'z'),
            proptest::char::range('A', 'Z'),
            proptest::char::range('\u{80}', '\u{7FF}'),
            proptest::char::range('\u{300}', '\u{36F}'),
            proptest::char::range('\u{1100}', '\u{11FF}'),
            proptest::char::range('\u{AC00}', '\u{AC20}'),
            proptest::char::range('\u{4E00}', '\u{4E10}'),
            proptest::char::range('\u{1E00}', '\u{1FFF}'),
            proptest::char::range('\u{FF00}', '\u{FF60}'),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|v| v.into_iter().collect())
    }

    proptest::proptest! {
        #[test]
        fn folding_by_character_equals_the_full_fold(text in mixed_text()) {
            proptest::prop_assert_eq!(fold(&text), fully(&text));
        }

        /// A word packed unfolded is the fold of the word, packed, read anywhere in a
        /// text (with any bytes, ASCII or not, after it); longer and non-ASCII words
        /// are not packed.
        #[test]
        fn short_ascii_words_pack_their_fold(
            before in "[a-zA-Z0-9 é]{0,10}",
            word in "[a-zA-Z0-9_.@\\[`{~\x7F\x00é]{0,10}",
            after in "[a-zA-Z0-9 é]{0,10}",
        ) {
            let text = format!("{before}{word}{after}");
            let packed = fold_short_ascii(text.as_bytes(), before.len(), word.len());
            let expected = (word.len() <= 8 && word.is_ascii()).then(|| {
                fold(&word).bytes().rev().fold(0, |p, b| p << 8 | u64::from(b))
            });
            proptest::prop_assert_eq!(packed, expected);
        }
    }

    #[test]
    fn every_character_fold_agrees_beside_other_characters() {
        let folds = &*CHARACTER_FOLDS;
        let simple: Vec<char> = (0x80..0x800u32)
            .filter(|&c| folds.get(c).is_some())
            .filter_map(char::from_u32)
            .collect();
        assert!(
            simple.len() > 1000,
            "{} characters fold on their own",
            simple.len()
        );
        // Each beside neighbours of every script in the table, both ways round.
        let neighbours: Vec<char> = simple
            .iter()
            .step_by(37)
            .copied()
            .chain(['a', 'Z', '7'])
            .collect();
        for &c in &simple {
            for &n in &neighbours {
                for text in [format!("{c}{n}"), format!("{n}{c}")] {
                    assert_eq!(fold(&text), fully(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn folded_text_maps_back_to_whole_segments() {
        let original = "Ärger in Köln";
        let folded = FoldedText::new(original);
        assert_eq!(folded.text, "arger in koln");
        let at = folded.text.find("koln").unwrap();
        assert_eq!(folded.original_range(at, at + 4), (10, original.len()));
        let (s, e) = folded.original_range(0, 2);
        assert_eq!(&original[s..e], "Ärger");
    }
}
