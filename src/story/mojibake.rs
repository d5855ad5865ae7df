//! Text encoded as UTF-8 twice, read back once.
//!
//! A site that stores UTF-8 in a database column it believes to be Latin-1, or a script
//! that decodes its own UTF-8 output as windows-1252 and encodes it again, publishes
//! `Ã©` for `é`, `â€™` for `’` and `ÐŸÐµÑÐºÐ¾Ð²` for `Песков`. The document is valid
//! UTF-8, so decoding cannot tell; but no rule ever matches its words. 31 files of the
//! feed corpus are written so — Le Monde, Le Figaro, Der Spiegel, FAZ, a Yandex.News
//! feed of Moscow news — and readers that repair encodings (Python's ftfy, for one)
//! read them as their authors meant.
//!
//! UTF-8 makes the repair safe to decide: a character encoded as UTF-8 twice is a lead
//! byte's Latin-1 character (`Ã`, `Ð`, `â`, …) followed by as many characters as its
//! sequence has continuation bytes, each one of the 64 windows-1252 characters of the
//! bytes 0x80–0xBF (`©`, `€`, `™`, …), which together are valid UTF-8. Such a run is
//! taken back to the one character it stands for only when that character is one a
//! text would hold (a letter of a common script, punctuation, a currency sign, an
//! emoji), and only in a document that proves itself doubly encoded: one sequence that
//! well-formed text never holds (`Ã` or `Â` before a symbol, `â€`, `ðŸ`), or two in a
//! row (the letters of a Cyrillic word). A correctly encoded `«ESPAÑA”»` or French
//! `allé »` (a letter before a no-break space and `»`) is left as it is. Markup is
//! ASCII, so only text changes; a document encoded three times is read back twice.

use std::sync::LazyLock;

/// How a decoded character counts as evidence that its document is doubly encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    /// Well-formed text never holds its doubly encoded form (`Ã©`, `â€™`, `ðŸ”¥`).
    Strong,
    /// A letter (Cyrillic, Greek, Central European): repaired in a document that proves
    /// itself doubly encoded.
    Letter,
    /// An East Asian character, whose doubly encoded form (`é` + no-break space + `»`)
    /// can be French: repaired only next to another doubly encoded character.
    Wide,
}

/// One character written as UTF-8 twice: where in the text, and what it stands for.
struct Found {
    start: usize,
    end: usize,
    meant: char,
    evidence: Evidence,
}

/// Reads back text encoded as UTF-8 twice (or three times): how many characters were
/// repaired, and the first of them as it was written (`Ã©`, C1 controls escaped) and as
/// it was meant (`é`).
pub fn read_back(text: &mut String) -> Option<(usize, String, char)> {
    let mut first = None;
    let mut first_prints = false;
    let mut total = 0;
    // A third encoding reads back to the second: one round per layer, at most three.
    for _ in 0..3 {
        let found = find(text);
        if !doubly_encoded(&found) {
            break;
        }
        let touches = |f: &Found, j: Option<usize>| {
            j.and_then(|j| found.get(j))
                .is_some_and(|g| g.end == f.start || f.end == g.start)
        };
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut count = 0;
        for (i, f) in found.iter().enumerate() {
            let alone = !touches(f, i.checked_sub(1)) && !touches(f, Some(i + 1));
            if f.evidence == Evidence::Wide && alone {
                continue;
            }
            // The report shows the first that prints (a C1 control would not).
            let written = &text[f.start..f.end];
            let prints = !written.contains(char::is_control);
            if first.is_none() || prints && !first_prints {
                first = Some((written.to_owned(), f.meant));
                first_prints = prints;
            }
            out.push_str(&text[copied..f.start]);
            out.push(f.meant);
            copied = f.end;
            count += 1;
        }
        if count == 0 {
            break;
        }
        out.push_str(&text[copied..]);
        *text = out;
        total += count;
    }
    first.map(|(written, meant)| (total, written.escape_debug().to_string(), meant))
}

/// Whether the characters found prove the document doubly encoded.
fn doubly_encoded(found: &[Found]) -> bool {
    found.iter().any(|f| f.evidence == Evidence::Strong)
        || found.windows(2).any(|w| w[0].end == w[1].start)
}

/// Every run of characters in `text` that is one character encoded as UTF-8 twice.
fn find(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    // The character of every lead byte (U+00C2–U+00F4) is 0xC3 then 0x82–0xB4 in UTF-8.
    while let Some(i) = memchr::memchr(0xC3, &bytes[at..]).map(|i| at + i) {
        at = i + 1;
        let Some(&second) = bytes.get(i + 1) else {
            break;
        };
        if !(0x82..=0xB4).contains(&second) {
            continue;
        }
        let lead = second + 0x40;
        let len = match lead {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let mut utf8 = [lead, 0, 0, 0];
        let mut end = i + 2;
        let mut chars = text[end..].chars();
        let whole = (1..len).all(|k| {
            let Some(c) = chars.next() else {
                return false;
            };
            let Some(byte) = continuation_byte(c) else {
                return false;
            };
            utf8[k] = byte;
            end += c.len_utf8();
            true
        });
        if !whole {
            continue;
        }
        let Ok(meant) = std::str::from_utf8(&utf8[..len]) else {
            continue;
        };
        let meant = meant.chars().next().unwrap_or_default();
        if let Some(evidence) = evidence(meant) {
            found.push(Found {
                start: i,
                end,
                meant,
                evidence,
            });
            at = end;
        }
    }
    found
}

/// The byte 0x80–0xBF whose windows-1252 (or Latin-1) character `c` is, if any.
fn continuation_byte(c: char) -> Option<u8> {
    match u32::from(c) {
        // Latin-1 and windows-1252 agree on 0xA0–0xBF; the C1 controls are what a
        // Latin-1 decoder, or windows-1252 for its five unassigned bytes, makes of
        // 0x80–0x9F.
        n @ 0x80..=0xBF => Some(n as u8),
        _ => WINDOWS_1252_HIGH
            .iter()
            .position(|&w| w == c)
            .map(|p| 0x80 + p as u8),
    }
}

/// What windows-1252 reads the bytes 0x80–0x9F as (`€`, `‚`, `ƒ`, …), from encoding_rs.
static WINDOWS_1252_HIGH: LazyLock<Vec<char>> = LazyLock::new(|| {
    let bytes: Vec<u8> = (0x80..=0x9F).collect();
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
    text.chars().collect()
});

/// Whether a text would hold `c`, and how much its doubly encoded form proves.
fn evidence(c: char) -> Option<Evidence> {
    use Evidence::*;
    Some(match u32::from(c) {
        // Latin-1's letters and symbols (`é` from `Ã©`, `«` from `Â«`).
        0xA0..=0xFF => Strong,
        // General punctuation, currency signs, letterlike symbols (`’`, `€`, `™`).
        0x2000..=0x206F | 0x20A0..=0x20CF | 0x2100..=0x214F => Strong,
        // Emoji and pictographs.
        0x1F000..=0x1FAFF => Strong,
        // Central European Latin, Romanian's comma letters, Greek, Cyrillic (with
        // Ukrainian's Ґ).
        0x100..=0x17F | 0x218..=0x21B | 0x386..=0x3CE | 0x400..=0x45F | 0x490..=0x491 => Letter,
        // A C1 control is no text's, but a character encoded three times holds one
        // (`с` is `Ñ` and U+0081 twice over, `Ã‘Â` and U+0081 three times).
        0x80..=0x9F => Letter,
        // Kana, CJK punctuation and ideographs, Hangul, full-width forms.
        0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3 | 0xFF00..=0xFFEF => {
            Wide
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as a sloppy windows-1252 decoder reads its UTF-8 bytes.
    fn doubly(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(b - 0x80)],
                _ => char::from(b),
            })
            .collect()
    }

    fn read(text: &str) -> (String, usize) {
        let mut text = text.to_owned();
        let count = read_back(&mut text).map_or(0, |(n, ..)| n);
        (text, count)
    }

    #[test]
    fn latin_cyrillic_punctuation_and_emoji_read_back() {
        for meant in [
            "<title>Le Figaro - Culture : Cinéma, théâtre</title>",
            "<title>Яндекс.Новости: Москва — Песков</title>",
            "Ukraine’s “talks” cost 5 €™ 🔥",
            "Zażółć gęślą jaźń",
            "Übersee: Straße — Ärger",
            "東京 ニュース",
            "Привет",
        ] {
            let (read, count) = read(&doubly(meant));
            assert_eq!(read, meant);
            assert_eq!(count, meant.chars().filter(|c| !c.is_ascii()).count());
        }
    }

    #[test]
    fn the_report_names_the_first_character_as_written_and_meant() {
        let mut text = doubly("Cinéma, théâtre");
        assert_eq!(read_back(&mut text), Some((3, "Ã©".to_owned(), 'é')));
    }

    #[test]
    fn three_encodings_read_back_to_one() {
        assert_eq!(read(&doubly(&doubly("café — Песков"))).0, "café — Песков");
    }

    #[test]
    fn well_formed_text_is_left_alone() {
        for text in [
            "Cinéma, théâtre, « Je suis allé\u{a0}» et «\u{a0}là\u{a0}»",
            "«ESPAÑA”» — JOSÉ» — CAFÉ” — ÜBER…",
            "Москва, Песков, Пескова; Ελλάδα; 東京",
            "plain ASCII",
            "São Paulo, IRMÃ, Ã",
        ] {
            assert_eq!(read(text), (text.to_owned(), 0), "{text}");
        }
    }

    #[test]
    fn a_doubly_encoded_part_beside_well_formed_text() {
        // A title written twice over a description written once: each reads as meant.
        let text = format!("{} — Cinéma, théâtre", doubly("Théâtre"));
        assert_eq!(read(&text), ("Théâtre — Cinéma, théâtre".to_owned(), 2));
    }

    #[test]
    fn a_lone_east_asian_reading_is_not_taken() {
        // `é` + no-break space + `»` reads as U+983B; in a doubly encoded French
        // document it stays French.
        let text = format!("{} « allé\u{a0}»", doubly("Cinéma"));
        assert_eq!(read(&text).0, "Cinéma « allé\u{a0}»");
    }

    proptest::proptest! {
        /// Text of Latin and Cyrillic letters and ASCII reads back from its doubly
        /// encoded form whenever that form proves itself (a Latin-1 letter, or two
        /// Cyrillic letters in a row), and is itself never changed.
        #[test]
        fn doubly_encoded_text_reads_back_and_well_formed_text_stays(
            text in "[a-zA-Z0-9 .,:;!?()&<>\"'àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿабвгдежзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЭЮЯё]{0,40}"
        ) {
            proptest::prop_assert_eq!(read(&text), (text.clone(), 0));
            let latin = text.chars().any(|c| ('\u{c0}'..='\u{ff}').contains(&c));
            let cyrillic = |c: char| ('\u{400}'..='\u{45f}').contains(&c);
            let chars: Vec<char> = text.chars().collect();
            let word = chars.windows(2).any(|w| cyrillic(w[0]) && cyrillic(w[1]));
            if latin || word {
                proptest::prop_assert_eq!(read(&doubly(&text)).0, text);
            }
        }

        /// Whatever the text, reading back never panics and leaves ASCII alone.
        #[test]
        fn any_text_reads_back_without_panicking(text in "\\PC{0,40}") {
            let (read, _) = read(&text);
            let ascii = |s: &str| s.chars().filter(char::is_ascii).collect::<String>();
            proptest::prop_assert_eq!(ascii(&read), ascii(&text));
        }
    }

    #[test]
    fn a_cut_sequence_is_left() {
        assert_eq!(read("fin Ã").0, "fin Ã");
        assert_eq!(read("â€").0, "â€");
    }
}
