//! Table-driven tests of the rule language; `properties.rs` holds the property tests of
//! its invariants.

mod properties;

use super::*;

/// The expected result of a query that must not match.
const MISS: &str = "-";

/// Matches `query` against `text` (as a story's content) and compares the text with
/// the matched spans marked `[…]` to `expected`, or expects no match for [`MISS`].
#[track_caller]
fn check(query: &str, text: &str, expected: &str) {
    check_in(query, &[(Field::Content, text)], expected);
}

/// Like [`check`] for a story with several fields; the marked text is the fields with
/// spans, each as `field: marked text`, joined by ` | `.
#[track_caller]
fn check_in(query: &str, fields: &[(Field, &str)], expected: &str) {
    let parsed = Query::parse(query).unwrap_or_else(|e| panic!("{query:?} does not parse: {e}"));
    let doc = Document::new(fields.iter().copied());
    let spans = parsed.matches(&doc);
    // The same through a rule set, on a document holding only the words it looks up.
    let set = RuleSet::new([parsed.clone()]);
    let hits = set.matches(&set.document(fields.iter().copied()));
    assert_eq!(
        hits.first().map(|hit| &hit.spans),
        spans.as_ref(),
        "query {query:?} on {fields:?}, through a rule set"
    );
    let actual = match spans {
        None => MISS.to_owned(),
        Some(spans) if fields.len() == 1 => mark(fields[0].1, fields[0].0, &spans, "[", "]"),
        Some(spans) => fields
            .iter()
            .filter(|(f, _)| spans.iter().any(|s| s.field == *f))
            .map(|&(f, text)| format!("{f}: {}", mark(text, f, &spans, "[", "]")))
            .collect::<Vec<_>>()
            .join(" | "),
    };
    assert_eq!(actual, expected, "query {query:?} on {fields:?}");
}

/// Expects `query` to be refused with an error at `column` whose message contains `needle`.
#[track_caller]
fn check_error(query: &str, column: usize, needle: &str) {
    match Query::parse(query) {
        Ok(q) => panic!("{query:?} parsed as {q:?}, expected an error"),
        Err(e) => {
            assert_eq!(e.column, column, "column of {query:?}: {e}");
            assert!(
                e.message.contains(needle),
                "{query:?}: {e} lacks {needle:?}"
            );
        }
    }
}

const PESKOV: &str = "Peskov OR Песков";
const UKRAINE: &str = r#"Ukrain* NEAR/12 (talks OR negotiat* OR "peace deal" OR ceasefire)"#;
const EMBASSY: &str =
    r#"embass* NEAR/8 (reopen* OR "resume normal operations" OR "resume operations")"#;

#[test]
fn peskov_rule() {
    check(
        PESKOV,
        "Kremlin spokesman Dmitry Peskov said on Monday",
        "Kremlin spokesman Dmitry [Peskov] said on Monday",
    );
    check(
        PESKOV,
        "Peskov's comments drew criticism",
        "[Peskov]'s comments drew criticism",
    );
    check(
        PESKOV,
        "Песков заявил журналистам",
        "[Песков] заявил журналистам",
    );
    check(
        PESKOV,
        "ПЕСКОВ: Кремль не комментирует",
        "[ПЕСКОВ]: Кремль не комментирует",
    );
    check(PESKOV, "PESKOV and Peskov", "[PESKOV] and [Peskov]");
    // A different surname sharing the prefix is not the man.
    check(PESKOV, "Peskova, his daughter, posted a photo", MISS);
    check(PESKOV, "Пескова опубликовала фото", MISS);
    check(PESKOV, "The Kremlin declined to comment", MISS);
}

#[test]
fn ukraine_talks_rule() {
    check(
        UKRAINE,
        "Ukraine and Russia resume talks in Istanbul",
        "[Ukraine] and Russia resume [talks] in Istanbul",
    );
    check(
        UKRAINE,
        "Negotiators said a ceasefire for Ukrainian ports was near",
        "[Negotiators] said a [ceasefire] for [Ukrainian] ports was near",
    );
    check(
        UKRAINE,
        "Ukraine says a peace deal is not on the table",
        "[Ukraine] says a [peace deal] is not on the table",
    );
    check(
        UKRAINE,
        "Ukraine's negotiating team arrived",
        "[Ukraine]'s [negotiating] team arrived",
    );
    // Twelve words between is the limit; thirteen is too far.
    check(
        UKRAINE,
        "Ukraine w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 talks",
        "[Ukraine] w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 [talks]",
    );
    check(
        UKRAINE,
        "Ukraine w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 talks",
        MISS,
    );
    // "deal peace" is the phrase out of order.
    check(UKRAINE, "Ukraine: no deal, peace later", MISS);
    check(UKRAINE, "Peace talks in the Middle East stall", MISS);
    check(UKRAINE, "Ukraine wins Eurovision", MISS);
}

#[test]
fn embassy_rule() {
    check(
        EMBASSY,
        "The US embassy in Kyiv will reopen next week",
        "The US [embassy] in Kyiv will [reopen] next week",
    );
    check(
        EMBASSY,
        "Embassies reopened after the storm",
        "[Embassies] [reopened] after the storm",
    );
    check(
        EMBASSY,
        "The embassy will resume normal operations on Monday",
        "The [embassy] will [resume normal operations] on Monday",
    );
    check(EMBASSY, "Operations resume at the embassy", MISS);
    check(
        EMBASSY,
        "The embassy was closed. Officials, speaking anonymously to reporters late on Sunday, hope to reopen it",
        MISS,
    );
    check(EMBASSY, "Embarrassing scenes as shops reopen", MISS);
}

#[test]
fn words_phrases_and_prefixes() {
    check("talks", "Talks resume", "[Talks] resume");
    check("talks", "Talkshow host", MISS);
    check(
        r#""peace talks""#,
        "new peace talks begin",
        "new [peace talks] begin",
    );
    check(r#""peace talks""#, "talks of peace", MISS);
    check(r#""peace talks""#, "peace, talks", "[peace, talks]");
    check(
        r#""resume operat*""#,
        "will resume operating",
        "will [resume operating]",
    );
    // Punctuation inside a phrase is no word; a lone `*` is an error, not punctuation.
    check(r#""peace - deal""#, "a peace deal", "a [peace deal]");
    check_error(r#""peace * deal""#, 8, "`*`");
    // Three letters before `*` are enough.
    check("emb*", "the embassy reopens", "the [embassy] reopens");
}

#[test]
fn operators_written_in_lower_case_are_noted() {
    let notes = |q: &str| Query::parse(q).unwrap().notes();
    assert_eq!(
        notes("Peskov or Песков"),
        [
            "`or` (column 8) is a word the rule looks for, not an operator: operators are \
          upper-case (`OR`)"
        ]
    );
    assert_eq!(notes("embassy Near/8 reopen* and not closed").len(), 3);
    // Upper-case operators, words that only start like one, and phrases are fine.
    for query in [
        "Peskov OR Песков NEAR/5 Kremlin",
        "Northern order android nearby",
        "\"rock and roll\"",
        "near/x",
    ] {
        assert_eq!(notes(query), Vec::<String>::new(), "{query}");
    }
}

#[test]
fn a_word_in_cyrillic_without_a_star_gets_a_hint_with_its_stem() {
    let hints = |q: &str| Query::parse(q).unwrap().hints();
    assert_eq!(
        hints("Peskov OR Песков"),
        [
            "`Песков` (column 11) finds that form only: Russian and Ukrainian change a word's \
             ending with its part in the sentence; `Песков*` finds its other forms too"
        ]
    );
    let stems: Vec<String> = hints("Москва Зеленский Кремль переговоры Київ")
        .iter()
        .map(|h| h.split('`').nth(3).unwrap().to_owned())
        .collect();
    assert_eq!(
        stems,
        ["Москв*", "Зеленск*", "Кремл*", "переговор*", "Київ*"]
    );
    // Already a prefix, a phrase, an acronym, not Cyrillic, or too short: nothing.
    for query in [
        "Песков*",
        "\"Дмитрий Песков\"",
        "ТАСС OR НАТО",
        "Peskov",
        "/Песков/",
        "Кто",
    ] {
        assert_eq!(hints(query), Vec::<String>::new(), "{query}");
    }
}

#[test]
fn typographic_quotes_make_phrases() {
    for query in [
        "“peace talks”",
        "„peace talks“",
        "«peace talks»",
        "»peace talks«",
        "Kremlin “peace talks”",
    ] {
        check(query, "Kremlin: peace and talks", MISS);
        check(
            query,
            "Kremlin: peace talks begin",
            if query.starts_with('K') {
                "[Kremlin]: [peace talks] begin"
            } else {
                "Kremlin: [peace talks] begin"
            },
        );
    }
    check(
        "«мирные переговоры»",
        "начались мирные переговоры",
        "начались [мирные переговоры]",
    );
    // A straight quote is closed by a straight one only.
    check_error("\"peace talks”", 1, "expected a closing `\"`");
    check_error("Kremlin «peace talks", 9, "expected a closing `»`");
}

#[test]
fn boolean_operators() {
    check(
        "kremlin peskov",
        "Peskov of the Kremlin",
        "[Peskov] of the [Kremlin]",
    );
    check("kremlin AND peskov", "Peskov speaks", MISS);
    check("kremlin OR peskov", "Peskov speaks", "[Peskov] speaks");
    check("a OR b c", "b only", MISS);
    check("a OR b c", "a only", "[a] only");
    check("(a OR b) c", "a c", "[a] [c]");
    check("peskov -putin", "Peskov speaks", "[Peskov] speaks");
    check("peskov -putin", "Peskov and Putin", MISS);
    check("peskov NOT putin", "Peskov and Putin", MISS);
    check("peskov NOT (putin OR lavrov)", "Peskov and Lavrov", MISS);
    check(
        "peskov NOT (putin OR lavrov)",
        "Peskov alone",
        "[Peskov] alone",
    );
    // Lower-case operators are ordinary words.
    check("war and peace", "war and peace", "[war] [and] [peace]");
    check("war and peace", "war or peace", MISS);
    check(
        "co-operation",
        "co-operation agreed",
        "[co-operation] agreed",
    );
}

#[test]
fn near() {
    check(
        "embassy NEAR reopen",
        "embassy a b c d e f g h i j reopen",
        "[embassy] a b c d e f g h i j [reopen]",
    );
    check(
        "embassy NEAR reopen",
        "embassy a b c d e f g h i j k reopen",
        MISS,
    );
    check(
        "embassy NEAR/0 reopen",
        "reopen embassy",
        "[reopen] [embassy]",
    );
    check(
        "embassy NEAR/2 reopen",
        "reopen the old embassy",
        "[reopen] the old [embassy]",
    );
    check(
        "embassy NEAR/2 reopen",
        "embassy. Other news: x reopen",
        MISS,
    );
    check(
        r#""peace deal" NEAR/3 Ukraine"#,
        "a peace deal for Ukraine",
        "a [peace deal] for [Ukraine]",
    );
    check("(a NEAR/1 b) NEAR/1 c", "a x b x c", "[a] x [b] x [c]");
    // A long phrase before the other side is near by its last word, not its first.
    check(
        r#"Ukraine NEAR/5 "peace talks in Geneva""#,
        "peace talks in Geneva, then Ukraine",
        "[peace talks in Geneva], then [Ukraine]",
    );
    // The same word cannot stand on both sides.
    check("talks NEAR talks", "talks", MISS);
    check("talks NEAR talks", "talks and talks", "[talks] and [talks]");
    // The title, summary and content are read as one text, in that order: a headline's
    // last words are next to its summary's first.
    check_in(
        "peskov NEAR/5 kremlin",
        &[(Field::Title, "Peskov"), (Field::Summary, "Kremlin")],
        "title: [Peskov] | summary: [Kremlin]",
    );
    check_in(
        r#"Ukrain* NEAR/12 (talks OR "peace deal")"#,
        &[
            (Field::Title, "Ukraine war: Zelensky in Washington"),
            (
                Field::Summary,
                "The president will hold talks on a peace deal",
            ),
        ],
        "title: [Ukraine] war: Zelensky in Washington | \
         summary: The president will hold [talks] on a [peace deal]",
    );
    check_in(
        "peskov NEAR/3 kremlin",
        &[
            (Field::Title, "Peskov says"),
            (Field::Summary, "one two three"),
            (Field::Content, "Kremlin"),
        ],
        MISS,
    );
    check_in(
        "peskov NEAR/3 kremlin",
        &[(Field::Title, "Peskov says"), (Field::Content, "Kremlin")],
        "title: [Peskov] says | content: [Kremlin]",
    );
    // A phrase is not read across fields, and the other fields stand alone.
    check_in(
        r#""peace deal""#,
        &[
            (Field::Title, "Hopes of peace"),
            (Field::Summary, "Deal is near"),
        ],
        MISS,
    );
    for field in [Field::Author, Field::Category, Field::Feed] {
        check_in(
            "peskov NEAR/5 kremlin",
            &[(Field::Title, "Peskov"), (field, "Kremlin")],
            MISS,
        );
    }
    // Not even where a scope names the other field, whatever the words' positions.
    check_in(
        "peskov NEAR/5 author:kremlin",
        &[
            (Field::Title, "Peskov"),
            (Field::Author, "The Kremlin pool"),
        ],
        MISS,
    );
    check_in(
        "category:(peskov NEAR/1 kremlin)",
        &[(Field::Category, "Peskov; Kremlin")],
        "[Peskov]; [Kremlin]",
    );
}

#[test]
fn field_scopes() {
    let story = [
        (Field::Title, "Peskov comments"),
        (Field::Summary, "The Kremlin spokesman spoke"),
        (Field::Author, "Jane Doe"),
        (Field::Category, "Europe"),
        (Field::Feed, "Brussels Morning"),
    ];
    check_in("title:peskov", &story, "title: [Peskov] comments");
    check_in("summary:peskov", &story, MISS);
    check_in(
        "title:(kremlin OR peskov)",
        &story,
        "title: [Peskov] comments",
    );
    check_in("author:doe", &story, "author: Jane [Doe]");
    check_in("category:europe", &story, "category: [Europe]");
    check_in(
        r#"feed:"brussels morning" kremlin"#,
        &story,
        "summary: The [Kremlin] spokesman spoke | feed: [Brussels Morning]",
    );
    // Unscoped words look in title, summary and content only.
    check_in("doe", &story, MISS);
    check_in("europe", &story, MISS);
    check_in("TITLE:PESKOV", &story, "title: [Peskov] comments");
}

#[test]
fn regex_escape_hatch() {
    check(r"/\bpeskov[a-z]*\b/", "Peskova said", "[Peskova] said");
    check(
        r"/\d{4}-\d{2}-\d{2}/",
        "On 2026-11-26 the talks",
        "On [2026-11-26] the talks",
    );
    check(
        r"/ukrain(e|ian)/ talks",
        "Ukrainian talks",
        "[Ukrainian] [talks]",
    );
    check(r"/cafe/", "Café society", "[Café] society");
    check(r"/a\/b/", "a/b", "[a/b]");
    check(r"/\d+\/\d+/ due", "due 12/05", "[due] [12/05]");
    check_in("title:/peskov/", &[(Field::Summary, "Peskov")], MISS);
    // `\/` is a slash inside the pattern, not its end, and the lexer goes on after it.
    let lexed: Vec<(lex::Tok, usize)> = lex::lex(r"/a\/b\/c/ d")
        .unwrap()
        .into_iter()
        .map(|l| (l.tok, l.column))
        .collect();
    assert_eq!(
        lexed,
        [
            (lex::Tok::Regex("a/b/c".to_owned()), 1),
            (lex::Tok::Word("d".to_owned()), 11)
        ]
    );
}

#[test]
fn cyrillic_greek_accents_width_and_cjk() {
    check("Песков", "песков", "[песков]");
    check("Ёлка", "елка на площади", "[елка] на площади");
    check("украин*", "Украинская делегация", "[Украинская] делегация");
    check("Αθήνα", "ΑΘΗΝΑ: συνομιλίες", "[ΑΘΗΝΑ]: συνομιλίες");
    check(
        "συνομιλιες",
        "Οι συνομιλίες συνεχίζονται",
        "Οι [συνομιλίες] συνεχίζονται",
    );
    check("Zelenskyy", "ZELENSKYY", "[ZELENSKYY]");
    check(
        "Macron Élysée",
        "l'Elysee de Macron",
        "l'[Elysee] de [Macron]",
    );
    check("Straße", "STRASSE gesperrt", "[STRASSE] gesperrt");
    check("Peskov", "ＰＥＳＫＯＶ", "[ＰＥＳＫＯＶ]");
    check("ｶﾀｶﾅ", "カタカナ", "[カタカナ]");
    // Ideographs are one word each, so a CJK query word is a phrase of them.
    check("北京", "中国北京会谈", "中国[北京]会谈");
    check("北京", "北方京城", MISS);
    check("会谈 NEAR/2 北京", "北京举行会谈", "[北京]举行[会谈]");
}

#[test]
fn invisible_formatting_inside_a_word_is_ignored() {
    // A soft hyphen (`&shy;`, a hyphenation hint in headlines), zero-width joiners and
    // direction marks change how a word looks, not which word it is.
    check("Peskov", "Pes\u{ad}kov said", "[Pes\u{ad}kov] said");
    check(
        "Verhandlungen",
        "Ver\u{ad}hand\u{ad}lun\u{ad}gen",
        "[Ver\u{ad}hand\u{ad}lun\u{ad}gen]",
    );
    check("Песков", "Пес\u{ad}ков", "[Пес\u{ad}ков]");
    check("میخواهم", "می\u{200c}خواهم", "[می\u{200c}خواهم]");
    // (A mark after a word belongs to it, as UAX #29 has it.)
    check(
        "Peskov",
        "\u{200e}Peskov\u{200f}",
        "\u{200e}[Peskov\u{200f}]",
    );
    check("Pes\u{ad}kov", "Peskov", "[Peskov]");
    // A combining grapheme joiner, a variation selector, a zero-width space between
    // letters of one alphabet (a line-break hint; in Thai it ends a word).
    check("Peskov", "Pes\u{34f}kov", "[Pes\u{34f}kov]");
    check("Peskov", "Peskov\u{fe0f} said", "[Peskov\u{fe0f}] said");
    check(
        "Peskov",
        "Mr Pes\u{200b}kov said",
        "Mr [Pes\u{200b}kov] said",
    );
    check(
        "Песков NEAR/1 заявил",
        "Пес\u{200b}ков за\u{200b}явил",
        "[Пес\u{200b}ков] [за\u{200b}явил]",
    );
}

#[test]
fn parse_errors_name_the_column() {
    check_error("", 1, "empty query");
    check_error("   ", 1, "empty query");
    check_error(r#"Peskov "peace talks"#, 8, "unclosed quote");
    // The closing mark named is the one that goes with the opening one.
    for (query, closer) in [
        ("«мирные переговоры", "`»`"),
        ("»мирные переговоры", "`«`"),
        ("„Friedensgespräche", "`“`"),
        ("“peace talks", "`”`"),
    ] {
        check_error(
            query,
            1,
            &format!("unclosed quote: expected a closing {closer}"),
        );
    }
    check_error("(a OR b", 1, "unclosed `(`");
    check_error("a OR b)", 7, "unmatched `)`");
    check_error(")", 1, "unmatched `)`");
    check_error("a OR", 5, "`OR` at the end");
    check_error("a AND", 6, "`AND` at the end");
    check_error("OR a", 1, "`OR` needs");
    check_error("a OR OR b", 6, "after `OR`");
    check_error("a NEAR", 7, "`NEAR/10` at the end");
    check_error("NOT a", 1, "no positive part");
    check_error("-a -b", 1, "no positive part");
    check_error("a OR NOT b", 3, "every side of `OR`");
    check_error("em*", 1, "too short");
    check_error("a em*", 3, "too short");
    check_error(r#""peace de*""#, 8, "too short");
    check_error("em*bassy", 3, "`*` may only end a word");
    check_error("/(/", 1, "invalid regex");
    check_error("/abc", 1, "unclosed regex");
    check_error("//", 1, "empty regex");
    check_error(r"/\w{1000}{1000}/", 1, "regex too large");
    check_error("titel:x", 1, "unknown field `titel`");
    check_error("title:", 7, "after `title:`");
    check_error("a NEAR/x b", 8, "number of words");
    check_error("a NEAR/5000 b", 8, "too far");
    check_error("a NEAR/1001 b", 8, "too far: at most 1000 words");
    assert_eq!(MAX_NEAR, 1000);
    check("a NEAR/1000 b", "a then b", "[a] then [b]");
    check_error("a NEAR/99999999999 b", 8, "too far: at most");
    check_error("a NEAR/ b", 8, "number of words");
    check_error("(a b) NEAR c", 1, "NEAR/10");
    check_error("a NEAR -b", 8, "expected a word");
    check_error("a NEAR /x/", 8, "cannot stand beside it");
    check_error("()", 1, "empty parentheses");
    check_error(r#""""#, 1, "empty phrase");
    check_error("!!!", 1, "no letters or digits");
    // A `-` with nothing after it is a word without letters, not an exclusion.
    check_error("peace - talks", 7, "`-` has no letters or digits");
    check_error("(peace -)", 8, "`-` has no letters or digits");
    check_error(&"(".repeat(200), 65, "nests deeper");
    // A `)` after an operator is its missing operand, not an unmatched `)`.
    check_error("a OR )", 6, "after `OR`, found");
}

#[test]
fn depth_counts_nesting_not_length() {
    // Many groups, exclusions and scopes side by side nest no deeper than one.
    for each in ["(peace)", "-war", "title:talks"] {
        let query = format!("Ukraine {}", vec![each; 100].join(" "));
        if let Err(e) = Query::parse(&query) {
            panic!("{query:?}: {e}");
        }
    }
}

#[test]
fn a_summary_repeated_as_content_matches_in_both() {
    let text = "Peskov said talks";
    check_in(
        "content:peskov AND summary:talks",
        &[(Field::Summary, text), (Field::Content, text)],
        "summary: Peskov said [talks] | content: [Peskov] said talks",
    );
    check_in(
        "peskov",
        &[(Field::Summary, text), (Field::Content, text)],
        "summary: [Peskov] said talks | content: [Peskov] said talks",
    );
}

#[test]
fn spans_of_multiple_fields_are_sorted_and_merged() {
    let q = Query::parse(r#"peace OR "peace talks" OR talks"#).unwrap();
    let doc = Document::new([(Field::Summary, "peace talks"), (Field::Title, "talks")]);
    let spans = q.matches(&doc).unwrap();
    assert_eq!(
        spans,
        [
            Span {
                field: Field::Title,
                start: 0,
                end: 5
            },
            Span {
                field: Field::Summary,
                start: 0,
                end: 11
            },
        ]
    );
}

/// Each rule is keyed on its most selective part — a word before a prefix, a longer
/// word or prefix before a shorter one, the side of a `NEAR` with fewer keys — so a
/// story holding only the other parts is not even a candidate. (Any key set would give
/// the same matches; the choice decides how many rules are evaluated.)
#[test]
fn a_rule_is_keyed_on_its_most_selective_part() {
    let rules = [
        "embass* AND Peskov",
        "at AND Peskov",
        "rep* AND embass*",
        "(talks OR negotiat*) NEAR/12 Ukrain*",
        "\"peace deal\"",
    ];
    let set = RuleSet::new(rules.map(|q| Query::parse(q).unwrap()));
    assert_eq!((set.len(), set.is_empty(), set.unindexed()), (5, false, 0));
    assert!(RuleSet::new([]).is_empty());
    let candidates = |text: &str| set.candidates(&Document::new([(Field::Title, text)]));
    for text in ["at", "report", "talks", "negotiations", "deal"] {
        assert_eq!(candidates(text), [] as [usize; 0], "{text:?}");
    }
    assert_eq!(candidates("Peskov"), [0, 1]);
    assert_eq!(candidates("embassy"), [2]);
    assert_eq!(candidates("Ukraine"), [3]);
    assert_eq!(candidates("peace"), [4]);
}

/// Rule numbers past the first 64 (one block of the candidates' bit set) come back as
/// themselves.
#[test]
fn candidates_past_the_first_sixty_four_rules() {
    let words: Vec<String> = (0..200).map(|i| format!("word{i}x")).collect();
    let set = RuleSet::new(words.iter().map(|w| Query::parse(w).unwrap()));
    let doc = Document::new([(Field::Title, "word3x word64x word130x word199x")]);
    assert_eq!(set.candidates(&doc), [3, 64, 130, 199]);
    let rules: Vec<usize> = set.matches(&doc).into_iter().map(|h| h.rule).collect();
    assert_eq!(rules, [3, 64, 130, 199]);
}

/// A document prepared for one rule set indexes only that set's words: matched against
/// another set, it would miss that set's words, so debug builds refuse it.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "a document prepared for another rule set")]
fn a_document_prepared_for_one_rule_set_is_refused_by_another() {
    let peskov = RuleSet::new([Query::parse(PESKOV).unwrap()]);
    let embassy = RuleSet::new([Query::parse(EMBASSY).unwrap()]);
    let doc = peskov.document([(Field::Title, "Peskov: embassy to reopen")]);
    embassy.matches(&doc);
}

#[test]
fn rule_set_finds_the_rules_of_the_design() {
    let set =
        RuleSet::new([PESKOV, UKRAINE, EMBASSY, "/peskov/"].map(|q| Query::parse(q).unwrap()));
    assert_eq!(set.unindexed(), 1);
    let doc = Document::new([
        (Field::Title, "Peskov: embassy to reopen"),
        (Field::Summary, "Ukraine ready for talks"),
    ]);
    let rules: Vec<usize> = set.matches(&doc).into_iter().map(|h| h.rule).collect();
    assert_eq!(rules, [0, 1, 2, 3]);
    let quiet = Document::new([(Field::Title, "Weather: sunny")]);
    assert_eq!(
        set.candidates(&quiet),
        [3],
        "only the regex rule is evaluated"
    );
    assert!(set.matches(&quiet).is_empty());
}
