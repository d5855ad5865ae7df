//! `newshound test-rule`: exit codes like grep, marked text, JSON spans, query errors.

use crate::support::{newshound, stderr, stdout};

#[test]
fn a_match_exits_0_and_marks_the_words() {
    let out = newshound(
        &[
            "test-rule",
            "Peskov OR Песков",
            "--text",
            "Kremlin: Peskov's remarks; ПЕСКОВ заявил",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "match\ncontent: Kremlin: [[Peskov]]'s remarks; [[ПЕСКОВ]] заявил\n"
    );
}

#[test]
fn a_name_broken_by_a_zero_width_space_is_found_and_marked_whole() {
    // As a web page's text may carry it (`&#8203;`, a line-break hint).
    let out = newshound(
        &[
            "test-rule",
            "Peskov",
            "--text",
            "Dmitry Pes\u{200b}kov said",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "match\ncontent: Dmitry [[Pes\u{200b}kov]] said\n"
    );
}

#[test]
fn an_item_titled_only_by_dublin_core_is_matched_by_its_title() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dc.rdf");
    std::fs::write(
        &file,
        r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://dc.example/"><title>DC</title><link>https://dc.example/</link></channel>
  <item rdf:about="https://dc.example/1">
    <link>https://dc.example/1</link>
    <dc:title>Peskov declines to comment</dc:title>
  </item>
</rdf:RDF>"#,
    )
    .unwrap();
    let out = newshound(
        &[
            "test-rule",
            "title:Peskov",
            "--file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("  title: [[Peskov]] declines to comment\n"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("1 RSS item titled by its Dublin Core title"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_regex_spelling_letters_with_their_marks_matches() {
    // The regex runs over folded text, where `й` reads `и` and `ß` reads `ss`: its own
    // letters are folded the same way, or it could never match.
    let out = newshound(
        &[
            "test-rule",
            "/сергей|straße/",
            "--text",
            "Сергей Песков; Berliner Straße",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "match\ncontent: [[Сергей]] Песков; Berliner [[Straße]]\n"
    );
}

#[test]
fn an_operator_in_lower_case_is_noted_on_stderr() {
    let out = newshound(
        &["test-rule", "Peskov or Песков", "--text", "Peskov said"],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "`or` is a word the text lacks");
    assert_eq!(stdout(&out), "no match\n");
    assert_eq!(
        stderr(&out),
        "newshound: `or` (column 8) is a word the rule looks for, not an operator: \
         operators are upper-case (`OR`)\n\
         newshound: hint: `Песков` (column 11) finds that form only: Russian and Ukrainian \
         change a word's ending with its part in the sentence; `Песков*` finds its other \
         forms too\n"
    );
}

#[test]
fn a_russian_name_without_a_star_gets_a_hint_and_its_stem_finds_the_other_forms() {
    let text = "Слова Пескова о переговорах";
    let out = newshound(&["test-rule", "Песков", "--text", text], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: `Песков` (column 1) finds that form only"),
        "{}",
        stderr(&out)
    );
    let out = newshound(&["test-rule", "Песков*", "--text", text], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "", "a prefix needs no hint");
}

#[test]
fn no_match_exits_1() {
    let out = newshound(
        &["test-rule", "Peskov", "--text", "Peskova posted a photo"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "no match\n");
}

#[test]
fn a_bad_query_exits_2_with_the_column_on_stderr() {
    let out = newshound(
        &["test-rule", "embassy NEAR/8 (reopen*", "--text", "x"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("column 16: unclosed `(`"), "{err}");
    // The caret stands under the offending parenthesis.
    assert!(
        err.contains("\n  embassy NEAR/8 (reopen*\n                 ^"),
        "{err}"
    );
}

#[test]
fn a_feed_that_cannot_be_read_exits_2_not_the_1_of_no_match() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.xml");
    let not_a_feed = dir.path().join("page.txt");
    std::fs::write(&not_a_feed, "just some words, no feed").unwrap();
    let closed = crate::support::RefusingPort::new();
    let url = format!("http://127.0.0.1:{}/feed.xml", closed.port());
    for (args, says) in [
        (
            vec!["--file", missing.to_str().unwrap()],
            format!("reading {}", missing.display()),
        ),
        (
            vec!["--file", not_a_feed.to_str().unwrap()],
            not_a_feed.display().to_string(),
        ),
        (vec!["--url", url.as_str()], "connection failed".to_owned()),
    ] {
        let out = newshound(&[&["test-rule", "Peskov"][..], &args].concat(), None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
        assert!(
            stderr(&out).starts_with("newshound: ") && stderr(&out).contains(&says),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn text_comes_from_stdin_when_not_given() {
    let out = newshound(
        &["test-rule", "Ukrain* NEAR/12 (talks OR ceasefire)"],
        Some("Ukraine and Russia agree to new talks\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "match\ncontent: [[Ukraine]] and Russia agree to new [[talks]]\n"
    );
}

#[test]
fn json_prints_the_spans() {
    let out = newshound(
        &[
            "test-rule",
            "embass* NEAR/8 reopen*",
            "--json",
            "--text",
            "The embassy will reopen",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(value["matched"], true);
    assert_eq!(
        value["spans"],
        serde_json::json!([
            {"field": "content", "start": 4, "end": 11, "text": "embassy"},
            {"field": "content", "start": 17, "end": 23, "text": "reopen"},
        ])
    );
}

#[test]
fn json_reports_no_match_with_exit_1() {
    let out = newshound(
        &["test-rule", "peskov", "--json", "--text", "nothing"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(value["matched"], false);
    assert_eq!(value["spans"], serde_json::json!([]));
}

#[test]
fn field_places_the_text_for_scoped_queries() {
    let args = ["test-rule", "title:peskov", "--text", "Peskov speaks"];
    assert_eq!(newshound(&args, None).status.code(), Some(1));
    let out = newshound(&[&args[..], &["--field", "title"]].concat(), None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "match\ntitle: [[Peskov]] speaks\n");
    let bad = newshound(&[&args[..], &["--field", "body"]].concat(), None);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("expected one of title, summary"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn help_explains_the_language() {
    let out = newshound(&["test-rule", "--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in ["NEAR/8", "embass*", "title:", "/regex/", "Exits like grep"] {
        assert!(help.contains(needle), "help lacks {needle}: {help}");
    }
}
