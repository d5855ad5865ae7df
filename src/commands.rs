//! What each subcommand does, as library functions that write to a given output, so
//! that `main.rs` stays a thin shell and tests can call the same code.

use std::io::{self, Write};

use serde::Serialize;

use crate::rules::{Document, Field, ParseError, Query, Span, mark};

/// Exit status of `test-rule`, following grep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// The query matched (exit 0).
    Matched,
    /// The query did not match (exit 1).
    NoMatch,
}

/// How `test-rule` marks matched words in human-readable output.
#[derive(Debug, Clone, Copy)]
pub enum Marker {
    /// `[[word]]`, for pipes and files.
    Brackets,
    /// Bold red, for terminals.
    Ansi,
}

impl Marker {
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Marker::Brackets => ("[[", "]]"),
            Marker::Ansi => ("\x1b[1;31m", "\x1b[0m"),
        }
    }
}

/// One story's text for `test-rule`: which field it stands in, and the text.
#[derive(Debug, Clone)]
pub struct Sample {
    pub field: Field,
    pub text: String,
}

#[derive(Serialize)]
struct JsonSpan<'a> {
    field: Field,
    start: usize,
    end: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    query: &'a str,
    matched: bool,
    spans: Vec<JsonSpan<'a>>,
}

/// Formats a query error with the query and a caret under the column, for stderr.
pub fn describe_query_error(query: &str, error: &ParseError) -> String {
    let pad = " ".repeat(error.column.saturating_sub(1));
    format!("bad query: {error}\n  {query}\n  {pad}^")
}

/// Runs `test-rule`: matches `query` against `sample` and prints the outcome.
pub fn test_rule(
    query: &Query,
    sample: &Sample,
    json: bool,
    marker: Marker,
    out: &mut dyn Write,
) -> io::Result<RuleOutcome> {
    let doc = Document::new([(sample.field, sample.text.as_str())]);
    let found = query.matches(&doc);
    let matched = found.is_some();
    let spans: Vec<Span> = found.unwrap_or_default();
    if json {
        let result = JsonResult {
            query: query.source(),
            matched,
            spans: spans
                .iter()
                .map(|s| JsonSpan {
                    field: s.field,
                    start: s.start,
                    end: s.end,
                    text: sample.text.get(s.start..s.end).unwrap_or(""),
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &result)?;
        writeln!(out)?;
    } else if matched {
        let (open, close) = marker.pair();
        writeln!(out, "match")?;
        writeln!(
            out,
            "{}: {}",
            sample.field,
            mark(&sample.text, sample.field, &spans, open, close)
        )?;
    } else {
        writeln!(out, "no match")?;
    }
    Ok(if matched {
        RuleOutcome::Matched
    } else {
        RuleOutcome::NoMatch
    })
}
