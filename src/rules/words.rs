//! Word cutting, shared by queries and stories: text into the words that rules look
//! up and that `NEAR` counts. Words are cut at Unicode (UAX #29) word boundaries and
//! apostrophes split them further, so "Peskov's" holds the word `peskov`; each word is
//! folded by [`super::fold`].

use unicode_segmentation::UnicodeSegmentation;

use super::fold::fold;

/// Characters treated as apostrophes: they split words ("Peskov's" → "peskov", "s").
const APOSTROPHES: [char; 4] = ['\'', '\u{2019}', '\u{02BC}', '\u{2018}'];

/// One word of a text: its folded form and where it stands in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The folded word.
    pub text: String,
    /// Byte offset of the word's first byte in the original text.
    pub start: usize,
    /// Byte offset just past the word in the original text.
    pub end: usize,
}

/// Cuts text into folded words with their byte spans in the original text.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_word(text, |start, word| {
        let folded = fold(word);
        // Folding never removes every letter of a word in practice, but a word made only
        // of accents would fold to nothing; such an empty token could never be searched.
        if !folded.is_empty() {
            tokens.push(Token {
                text: folded,
                start,
                end: start + word.len(),
            });
        }
    });
    tokens
}

/// Calls `f(byte_offset, word)` for every word of `text`, unfolded.
///
/// Whitespace always separates words, so text is cut one whitespace-separated chunk at
/// a time. ASCII, the bulk of most feeds, goes through a fast path that applies the
/// same UAX #29 rules (a run of ASCII chunks at once: whitespace never joins words); so
/// does a chunk whose other characters are all [`WordClasses`] letters or breaks or
/// [`SEPARATORS`]; any other chunk goes through `unicode-segmentation`.
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(usize, &str)) {
    let bytes = text.as_bytes();
    // Everything before `done` has been cut; it is 0 or just past a chunk.
    let mut done = 0;
    while let Some(found) = first_non_ascii(&bytes[done..]) {
        let non_ascii = done + found;
        let chunk_start = bytes[done..non_ascii]
            .iter()
            .rposition(u8::is_ascii_whitespace)
            .map_or(done, |i| done + i + 1);
        let chunk_end = bytes[non_ascii..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .map_or(bytes.len(), |i| non_ascii + i);
        ascii_words(&text[done..chunk_start], |start, word| {
            f(done + start, word)
        });
        non_ascii_words(&text[chunk_start..chunk_end], |start, word| {
            f(chunk_start + start, word)
        });
        done = chunk_end;
    }
    ascii_words(&text[done..], |start, word| f(done + start, word));
}

/// The offset of the first byte of `bytes` outside ASCII, eight bytes at a time.
fn first_non_ascii(bytes: &[u8]) -> Option<usize> {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut blocks = bytes.chunks_exact(8);
    for (n, block) in blocks.by_ref().enumerate() {
        let high = u64::from_le_bytes(block.try_into().expect("eight bytes")) & HIGH_BITS;
        if high != 0 {
            return Some(n * 8 + high.trailing_zeros() as usize / 8);
        }
    }
    let rest = blocks.remainder();
    let at = bytes.len() - rest.len();
    rest.iter().position(|b| !b.is_ascii()).map(|i| at + i)
}

/// The words of one whitespace-free chunk that holds a character outside ASCII.
fn non_ascii_words(chunk: &str, mut f: impl FnMut(usize, &str)) {
    let classes = &*WORD_CLASSES;
    if chunk
        .chars()
        .all(|c| c.is_ascii() || classes.known(c) || SEPARATORS.contains(&c))
    {
        // ASCII and letters such as Cyrillic, Greek or accented Latin, between
        // punctuation and symbols ("it’s", “Песков”, a—b, ©2026).
        simple_words(chunk, f);
    } else if chunk.contains(ZERO_WIDTH_SPACE) {
        joined_across_zero_width_spaces(chunk, f);
    } else {
        for (start, word) in chunk.unicode_word_indices() {
            split_apostrophes(word, |s, piece| f(start + s, piece));
        }
    }
}

/// U+200B, which UAX #29 breaks words at: Thai, Lao, Khmer or Myanmar, written without
/// spaces, mark word ends with it. Between letters of an alphabet written with spaces
/// it is a hint where a long word may break across lines, or an invisible leftover of
/// text pasted from a web page — and cutting there would hide `Peskov` in
/// "Pes\u{200B}kov", where the soft hyphen and the word joiner hide nothing.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// The words of `chunk` as UAX #29 cuts them, except that two words with only a zero-
/// width space between them, each ending there in a letter of an alphabet written with
/// spaces ([`spaced_letter`]), are one word (the space is folded away).
fn joined_across_zero_width_spaces(chunk: &str, mut f: impl FnMut(usize, &str)) {
    let mut emit = |start: usize, end: usize| {
        split_apostrophes(&chunk[start..end], |s, piece| f(start + s, piece));
    };
    let mut pending: Option<(usize, usize)> = None;
    for (start, word) in chunk.unicode_word_indices() {
        let end = start + word.len();
        pending = match pending {
            Some((from, to))
                if chunk[to..start].chars().eq([ZERO_WIDTH_SPACE])
                    && chunk[..to].chars().next_back().is_some_and(spaced_letter)
                    && word.chars().next().is_some_and(spaced_letter) =>
            {
                Some((from, end))
            }
            Some((from, to)) => {
                emit(from, to);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((from, to)) = pending {
        emit(from, to);
    }
}

/// A letter of an alphabet written with spaces between words: Latin, Greek, Cyrillic,
/// Armenian, Georgian, Hebrew, Arabic and the scripts of India (all below U+0E00, where
/// Thai begins, or in the Latin, Greek and Cyrillic extensions further on).
fn spaced_letter(c: char) -> bool {
    c.is_alphabetic()
        && matches!(c, '\0'..='\u{DFF}' | '\u{10A0}'..='\u{10FF}' | '\u{1C80}'..='\u{1FFF}'
            | '\u{2C00}'..='\u{2DFF}' | '\u{A640}'..='\u{A69F}' | '\u{A720}'..='\u{A7FF}'
            | '\u{AB30}'..='\u{AB6F}')
}

/// The two-byte characters (U+0080..U+07FF) that UAX #29 treats exactly as it treats
/// an ASCII letter, and those it treats exactly as `!` (always between words),
/// derived from `unicode-segmentation` itself: a character is a letter when every
/// probe text cuts the same with it as with `x`, a break when every one cuts the same
/// as with `!`. Hebrew letters, marks, format characters, digits and joiners are
/// neither.
struct WordClasses {
    letters: [u64; 0x800 / 64],
    breaks: [u64; 0x800 / 64],
}

impl WordClasses {
    /// Texts in which a character's neighbours could change how it is cut: joiners
    /// between letters and digits, quotes, underscores, marks and format characters.
    const PROBES: [&str; 34] = [
        "#",
        "##",
        "b#b",
        "1#1",
        "b#1",
        "1#b",
        "b#",
        "#b",
        "1#",
        "#1",
        "_#",
        "#_",
        "b.#",
        "#.b",
        "#.#",
        "1.#",
        "#.1",
        "b:#",
        "#:b",
        "#:#",
        "1,#",
        "#,1",
        "#,#",
        "#;#",
        "#'b",
        "#'",
        "#\"#",
        "#\"b",
        "#·b",
        "#\u{2019}#",
        "#\u{AD}b",
        "#\u{301}b",
        "#\u{200D}b",
        "#\u{FF0E}b",
    ];

    fn new() -> Self {
        // The words of each probe with `c` in place of `#`, and `c` written `#` in them.
        let cuts = |c: char| -> Vec<Vec<String>> {
            let c_text = c.encode_utf8(&mut [0; 4]).to_owned();
            Self::PROBES
                .iter()
                .map(|probe| {
                    let mut words = Vec::new();
                    for (_, word) in probe.replace('#', &c_text).unicode_word_indices() {
                        split_apostrophes(word, |_, piece| words.push(piece.replace(c, "#")));
                    }
                    words
                })
                .collect()
        };
        let (as_letter, as_break) = (cuts('x'), cuts('!'));
        let mut classes = WordClasses {
            letters: [0; 0x800 / 64],
            breaks: [0; 0x800 / 64],
        };
        for c in (0x80..0x800).filter_map(char::from_u32) {
            let cut = cuts(c);
            let (block, bit) = (c as usize / 64, 1 << (c as usize % 64));
            if cut == as_letter {
                classes.letters[block] |= bit;
            } else if cut == as_break {
                classes.breaks[block] |= bit;
            }
        }
        classes
    }

    fn marked(bits: &[u64], c: char) -> bool {
        bits.get(c as usize / 64)
            .is_some_and(|block| block & (1 << (c as usize % 64)) != 0)
    }

    /// Whether UAX #29 cuts `c` exactly as an ASCII letter.
    fn letter(&self, c: char) -> bool {
        Self::marked(&self.letters, c)
    }

    /// Whether `c` is a letter or a break.
    fn known(&self, c: char) -> bool {
        Self::marked(&self.letters, c) || Self::marked(&self.breaks, c)
    }
}

static WORD_CLASSES: std::sync::LazyLock<WordClasses> = std::sync::LazyLock::new(WordClasses::new);

/// [`ascii_words`] for a chunk that may also hold [`WordClasses`] letters (cut as
/// letters) and breaks or [`SEPARATORS`] (cut as whitespace).
fn simple_words(chunk: &str, mut f: impl FnMut(usize, &str)) {
    let classes = &*WORD_CLASSES;
    let class = |c: char| {
        if c.is_ascii() {
            CLASSES[c as usize]
        } else if classes.letter(c) {
            Class::Alphanumeric
        } else {
            Class::Other
        }
    };
    let char_at = |i: usize| chunk[i..].chars().next();
    let mut i = 0;
    while let Some(c) = char_at(i) {
        if class(c) == Class::Other {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let mut alphanumeric = false;
        // The last character taken into the word.
        let mut last = c;
        while let Some(c) = char_at(i) {
            match class(c) {
                Class::Alphanumeric => alphanumeric = true,
                Class::Underscore => {}
                Class::Other => {
                    let Some(after) = char_at(i + c.len_utf8()) else {
                        break;
                    };
                    let letter = |c: char| class(c) == Class::Alphanumeric && !c.is_ascii_digit();
                    let letters = letter(last) && letter(after);
                    let digits = last.is_ascii_digit() && after.is_ascii_digit();
                    if !joins(c, letters, digits) {
                        break;
                    }
                    // `after` is a letter or digit: take it with the joiner.
                    (alphanumeric, i) = (true, i + c.len_utf8());
                    last = after;
                    i += after.len_utf8();
                    continue;
                }
            }
            last = c;
            i += c.len_utf8();
        }
        if alphanumeric {
            f(start, &chunk[start..i]);
        }
    }
}

/// Non-ASCII characters that always end a word, as whitespace does: punctuation of
/// UAX #29 class Other, and the quotation-mark apostrophes, which split words anyway.
/// (Not U+02BC, a letter, nor marks that join words such as U+00B7 or U+FF0C.) A test
/// holds cutting at these to agree with `unicode-segmentation`.
const SEPARATORS: [char; 20] = [
    '\u{A0}', '\u{A3}', '\u{AB}', '\u{B0}', '\u{BB}', '\u{2013}', '\u{2014}', '\u{2018}',
    '\u{2019}', '\u{201C}', '\u{201D}', '\u{201E}', '\u{2022}', '\u{2026}', '\u{2032}', '\u{2033}',
    '\u{20AC}', '\u{2122}', '\u{3001}', '\u{3002}',
];

/// Splits a word at apostrophes, dropping them.
fn split_apostrophes(word: &str, mut f: impl FnMut(usize, &str)) {
    if !word.contains(APOSTROPHES) {
        f(0, word);
        return;
    }
    let mut piece_start = 0;
    for (i, c) in word.char_indices() {
        if APOSTROPHES.contains(&c) {
            if i > piece_start {
                f(piece_start, &word[piece_start..i]);
            }
            piece_start = i + c.len_utf8();
        }
    }
    if piece_start < word.len() {
        f(piece_start, &word[piece_start..]);
    }
}

/// What an ASCII byte is to the word cutter: not part of a word, a letter or digit,
/// or `_` (which joins words but does not make one).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Other,
    Alphanumeric,
    Underscore,
}

static CLASSES: [Class; 256] = {
    let mut table = [Class::Other; 256];
    let mut b = 0;
    while b < 128 {
        if (b as u8).is_ascii_alphanumeric() {
            table[b] = Class::Alphanumeric;
        }
        b += 1;
    }
    table[b'_' as usize] = Class::Underscore;
    table
};

/// Whether `mid` joins the characters on either side of it into one word, given
/// whether both are letters and whether both are digits: `.` joins letters to letters
/// and digits to digits, `:` joins letters, and `,` and `;` join digits.
fn joins(mid: char, letters: bool, digits: bool) -> bool {
    match mid {
        '.' => letters || digits,
        ':' => letters,
        ',' | ';' => digits,
        _ => false,
    }
}

/// UAX #29 word boundaries restricted to ASCII, with apostrophes splitting words:
/// letters, digits and `_` form words; `.` joins letters to letters and digits to
/// digits, `:` joins letters, and `,` and `;` join digits ("U.S", "3.5", "1,000").
fn ascii_words(text: &str, mut f: impl FnMut(usize, &str)) {
    let bytes = text.as_bytes();
    let in_word = |i: usize| CLASSES[usize::from(bytes[i])] != Class::Other;
    let mut i = 0;
    while i < bytes.len() {
        if !in_word(i) {
            i += 1;
            continue;
        }
        let start = i;
        loop {
            i += 1;
            while i < bytes.len() && in_word(i) {
                i += 1;
            }
            let (Some(&mid), Some(&after)) = (bytes.get(i), bytes.get(i + 1)) else {
                break;
            };
            let before = bytes[i - 1];
            let letters = before.is_ascii_alphabetic() && after.is_ascii_alphabetic();
            let digits = before.is_ascii_digit() && after.is_ascii_digit();
            if !joins(char::from(mid), letters, digits) {
                break;
            }
            i += 1; // past the joiner: `after` starts the next part
        }
        // A word of underscores only has no letter or digit; UAX #29 users skip it.
        // (A joined word has letters or digits around its joiners.)
        if bytes[start] != b'_' || bytes[start..i].iter().any(|&b| b != b'_') {
            f(start, &text[start..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn apostrophes_split_words() {
        assert_eq!(words("Peskov's remarks"), ["peskov", "s", "remarks"]);
        assert_eq!(words("Peskov’s"), ["peskov", "s"]);
        assert_eq!(words("l'Élysée"), ["l", "elysee"]);
    }

    #[test]
    fn cuts_at_unicode_word_boundaries() {
        assert_eq!(
            words("Kremlin: talks, (again)!"),
            ["kremlin", "talks", "again"]
        );
        assert_eq!(words("Песков заявил"), ["песков", "заявил"]);
        // Ideographs have no spaces between words; each one is a word of its own.
        assert_eq!(words("北京会谈"), ["北", "京", "会", "谈"]);
    }

    /// What the fast paths cut from `text`.
    fn fast_words(text: &str) -> Vec<(usize, String)> {
        let mut fast = Vec::new();
        for_each_word(text, |s, w| fast.push((s, w.to_owned())));
        fast
    }

    /// The fast paths must cut exactly where UAX #29 does (apostrophes aside).
    fn unicode_words(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (start, word) in text.unicode_word_indices() {
            split_apostrophes(word, |s, piece| out.push((start + s, piece.to_owned())));
        }
        out
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_segmentation_on_known_cases() {
        for text in [
            "U.S. talks",
            "3.5% of 1,000",
            "a:b 1:30 a.1 1.a",
            "_x __ x_y",
            "e-mail",
            "don't 1'000 'a",
            "1;2 a;b",
            "end.",
            "..a..b..",
            "a_1.b",
        ] {
            assert_eq!(fast_words(text), unicode_words(text), "{text:?}");
        }
        for sep in SEPARATORS {
            for template in [
                "a#b", "1#2", "a.#b", "a#.b", "1.#2", "1#.2", "_#_a", "#a", "a#", "a:#b", "a#_",
                "U.S#", "é#b", "a#é", "a#ʼb", "1,#2",
            ] {
                let text = template.replace('#', sep.encode_utf8(&mut [0; 4]));
                assert_eq!(fast_words(&text), unicode_words(&text), "{text:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_agrees_with_unicode_segmentation(
            text in "[a-c0-2_.:,;' \\t\\n\u{A0}\u{A3}\u{AB}\u{B0}\u{BB}\u{2013}\u{2014}\u{2018}\u{2019}\u{201C}\u{201D}\u{201E}\u{2022}\u{2026}\u{2032}\u{2033}\u{20AC}\u{2122}\u{3001}\u{3002}\u{2BC}\u{B7}éд-]{0,40}"
        ) {
            proptest::prop_assert_eq!(fast_words(&text), unicode_words(&text));
        }

        /// A zero-width space between letters of spaced alphabets reads as if it were
        /// not there; anywhere else it cuts as UAX #29 says.
        #[test]
        fn a_zero_width_space_between_spaced_letters_is_as_if_absent(
            text in "[ab1_.:'\u{2019} \u{200B}\u{301}\u{E9}\u{434}\u{3B1}\u{5D0}\u{E01}\u{4E00}-]{0,24}"
        ) {
            let chars: Vec<char> = text.chars().collect();
            let without: String = chars
                .iter()
                .enumerate()
                .filter(|&(i, &c)| {
                    !(c == ZERO_WIDTH_SPACE
                        && i > 0
                        && spaced_letter(chars[i - 1])
                        && chars.get(i + 1).copied().is_some_and(spaced_letter))
                })
                .map(|(_, &c)| c)
                .collect();
            proptest::prop_assert_eq!(words(&text), words(&without));
        }

        #[test]
        fn letter_fast_path_agrees_with_unicode_segmentation(
            text in "[a-b1_.:,;'\" \u{A0}\u{2019}\u{2014}\u{B7}\u{AD}\u{301}\u{661}\u{5D0}\u{5F3}\u{3B1}\u{E9}\u{DF}\u{416}\u{434}\u{4E00}\u{A9}\u{B1}\u{D7}\u{37E}]{0,24}"
        ) {
            proptest::prop_assert_eq!(fast_words(&text), unicode_words(&text));
        }
    }

    #[test]
    fn word_classes_are_letters_of_plain_alphabets_and_plain_symbols() {
        let classes = &*WORD_CLASSES;
        for c in ['é', 'ß', 'Ж', 'д', 'ё', 'λ', 'Ω', 'ա'] {
            assert!(classes.letter(c), "{c}");
        }
        for c in ['©', '±', '¡', '×', '§', '«', '»'] {
            assert!(classes.known(c) && !classes.letter(c), "{c}");
        }
        // Hebrew letters join across quotes; marks, format characters, digits and
        // joiners have rules of their own, and `¼` is a word on its own.
        for c in [
            'א', '\u{301}', '\u{AD}', '\u{661}', '·', '\u{37E}', '¼', 'a',
        ] {
            assert!(!classes.known(c), "{c:?}");
        }
    }

    #[test]
    fn a_zero_width_space_inside_a_word_of_a_spaced_alphabet_joins_it() {
        assert_eq!(words("Pes\u{200B}kov said"), ["peskov", "said"]);
        assert_eq!(words("«Пес\u{200B}ков»"), ["песков"]);
        assert_eq!(words("a\u{200B}b\u{200B}c d"), ["abc", "d"]);
        assert_eq!(words("Peskov’s\u{200B}x"), ["peskov", "sx"]);
        // Where it is the only mark between words, it stays a break: in Thai, between
        // scripts, beside digits, punctuation or another space.
        assert_eq!(
            fast_words("สวัสดี\u{200B}ครับ"),
            unicode_words("สวัสดี\u{200B}ครับ")
        );
        assert_eq!(words("Tokyo\u{200B}東京"), ["tokyo", "東", "京"]);
        assert_eq!(words("2026\u{200B}11 a\u{200B}1"), ["2026", "11", "a", "1"]);
        assert_eq!(
            words("a.\u{200B}b a\u{200B} b a\u{200B}\u{200B}b"),
            ["a", "b", "a", "b", "a", "b"]
        );
        let text = "Der Pes\u{200B}kov";
        for token in tokenize(text) {
            assert_eq!(fold(&text[token.start..token.end]), token.text);
        }
    }

    #[test]
    fn token_spans_point_into_the_original() {
        let text = "Der Kreml-Sprecher PESKOV’s Äußerung";
        for token in tokenize(text) {
            assert_eq!(fold(&text[token.start..token.end]), token.text);
        }
    }
}
