//! Property tests of the rule language's invariants over random rules and texts.

use proptest::prelude::*;

use super::*;

/// A small vocabulary, so that random rules and random texts share words often.
const VOCAB: &[&str] = &[
    "peace",
    "peaceful",
    "talks",
    "talk",
    "ukraine",
    "ukrainian",
    "embassy",
    "embassies",
    "reopen",
    "reopened",
    "песков",
    "Пескова",
    "straße",
    "strasse",
    "café",
    "cafe",
    "北",
    "京",
];

fn vocab_word() -> impl Strategy<Value = String> {
    prop::sample::select(VOCAB).prop_map(str::to_owned)
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => vocab_word(),
        2 => vocab_word().prop_filter_map("prefix needs 3 letters", |w| {
            let f = fold(&w);
            let n = f.chars().count();
            (n >= 4).then(|| format!("{}*", f.chars().take(n - 1).collect::<String>()))
        }),
        2 => (vocab_word(), vocab_word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        1 => (prop::sample::select(&["title", "summary", "content"][..]), vocab_word())
            .prop_map(|(f, w)| format!("{f}:{w}")),
        1 => vocab_word().prop_map(|w| format!("/{}/", fold(&w))),
    ]
}

fn positional() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        4 => vocab_word(),
        2 => vocab_word().prop_filter_map("prefix", |w| {
            let f = fold(&w);
            (f.chars().count() >= 4).then(|| format!("{}*", f.chars().take(3).collect::<String>()))
        }),
        1 => (vocab_word(), vocab_word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
    ];
    atom.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), 0u32..5, inner).prop_map(|(a, n, b)| format!("({a} NEAR/{n} {b})")),
        ]
    })
}

fn query_text() -> impl Strategy<Value = String> {
    let base = prop_oneof![3 => leaf(), 2 => positional()];
    base.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} -{b})")),
        ]
    })
}

/// A vocabulary word as a story may write it: as it is, capitalised or in capitals.
fn story_word() -> impl Strategy<Value = String> {
    (vocab_word(), 0..3).prop_map(|(w, case)| match case {
        0 => w,
        1 => {
            let mut chars = w.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        }
        _ => w.to_uppercase(),
    })
}

fn story_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![8 => story_word(), 1 => Just("x".to_owned()), 1 => Just(",".to_owned())],
        0..14,
    )
    .prop_map(|words| words.join(" "))
}

proptest! {
    // 512 cases by default; PROPTEST_CASES raises it for a longer local run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn parser_never_panics(source in "\\PC{0,40}") {
        let _ = Query::parse(&source);
    }

    #[test]
    fn parser_never_panics_on_query_like_input(
        source in r#"([a-zé()"*/:\- ]|AND|OR|NOT|NEAR|NEAR/[0-9]{1,5}|title:|\\){0,30}"#
    ) {
        if let Err(e) = Query::parse(&source) {
            prop_assert!(e.column >= 1 && e.column <= source.chars().count() + 1, "{e}");
        }
    }

    #[test]
    fn folding_is_idempotent(text in "\\PC{0,30}") {
        let once = fold(&text);
        prop_assert_eq!(fold(&once), once);
    }

    /// A regex spelling a word as it is written finds it, whatever its letters' case and
    /// marks: the pattern's letters fold as the text's do.
    #[test]
    fn a_regex_spelling_a_word_finds_it(
        word in "[a-zA-Zа-яА-ЯёЁйЙßéèêëàâäôöüçñÉÀÇΑ-Ωα-ω]{1,12}"
    ) {
        let query = Query::parse(&format!("/{}/", regex_syntax::escape(&word))).unwrap();
        let text = format!("before {word} after");
        let doc = Document::new([(Field::Content, text.as_str())]);
        prop_assert!(query.matches(&doc).is_some(), "{word}");
    }

    #[test]
    fn tokens_fold_their_own_source(text in "\\PC{0,30}") {
        for token in tokenize(&text) {
            prop_assert!(text.is_char_boundary(token.start) && text.is_char_boundary(token.end));
            prop_assert_eq!(fold(&text[token.start..token.end]), token.text);
        }
    }

    /// A field with the same text as another shares its words: matching must be the
    /// same as with a copy of the text cut on its own (a trailing space keeps the copy
    /// from being shared without changing its words).
    #[test]
    fn fields_sharing_text_match_like_copies(
        queries in prop::collection::vec(query_text(), 1..10),
        title in story_text(),
        summary in story_text(),
    ) {
        let copy = format!("{summary} ");
        let shared = Document::new([
            (Field::Title, title.as_str()),
            (Field::Summary, summary.as_str()),
            (Field::Content, summary.as_str()),
        ]);
        let separate = Document::new([
            (Field::Title, title.as_str()),
            (Field::Summary, summary.as_str()),
            (Field::Content, copy.as_str()),
        ]);
        for query in queries.iter().filter_map(|q| Query::parse(q).ok()) {
            prop_assert_eq!(query.matches(&shared), query.matches(&separate));
            for scope in ["summary", "content"] {
                if let Ok(scoped) = Query::parse(&format!("{scope}:({})", query.source())) {
                    prop_assert_eq!(scoped.matches(&shared), scoped.matches(&separate));
                }
            }
        }
    }

    #[test]
    fn indexed_matching_equals_naive(
        queries in prop::collection::vec(query_text(), 1..25),
        title in story_text(),
        summary in story_text(),
    ) {
        let parsed: Vec<Query> = queries.iter().filter_map(|q| Query::parse(q).ok()).collect();
        let set = RuleSet::new(parsed);
        let doc = Document::new([(Field::Title, title.as_str()), (Field::Summary, summary.as_str())]);
        prop_assert_eq!(set.matches(&doc), set.matches_naive(&doc));
    }

    /// The filters that turn a short ASCII word away unfolded never turn away a word
    /// the set knows.
    #[test]
    fn short_words_the_set_knows_pass_its_filters(
        queries in prop::collection::vec(query_text(), 1..25),
        words in prop::collection::vec("[a-zA-Z0-9_.]{1,9}|[pP][eE][aA][cC][eE]|[tT][aA][lL][kK][sS]?", 1..20),
    ) {
        let parsed: Vec<Query> = queries.iter().filter_map(|q| Query::parse(q).ok()).collect();
        let set = RuleSet::new(parsed);
        for word in &words {
            let folded = fold(word);
            let Some(packed) = fold::fold_short_ascii(word.as_bytes(), 0, word.len()) else {
                continue;
            };
            if set.knows(&folded, document::hash_word(&folded)) {
                prop_assert!(set.may_know_short(packed, word.len()), "{word}");
            }
        }
    }

    /// A document prepared for a rule set indexes only the words its rules look up;
    /// every rule must match it exactly as it matches the fully indexed document.
    #[test]
    fn vocabulary_documents_match_like_full_ones(
        queries in prop::collection::vec(query_text(), 1..25),
        title in story_text(),
        summary in story_text(),
        content in story_text(),
    ) {
        let parsed: Vec<Query> = queries.iter().filter_map(|q| Query::parse(q).ok()).collect();
        let set = RuleSet::new(parsed);
        let fields = [
            (Field::Title, title.as_str()),
            (Field::Summary, summary.as_str()),
            (Field::Content, content.as_str()),
        ];
        let full = Document::new(fields);
        prop_assert_eq!(set.matches(&set.document(fields)), set.matches_naive(&full));
    }
}
