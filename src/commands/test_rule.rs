//! `newshound test-rule`: try a query on text, a feed file, a live feed, or the stories
//! already stored, and show what it matched.

use std::io::{self, Write};

use serde::Serialize;

use crate::rules::{Document, Field, ParseError, Query, Span, mark};
use crate::store::StoredStory;
use crate::story::{ParsedFeed, Story};

/// Exit status of `test-rule`, following grep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Something matched (exit 0).
    Matched,
    /// Nothing matched (exit 1).
    NoMatch,
}

/// How matched words are marked in human-readable output.
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

/// One text for `test-rule --text`: which field it stands in, and the text.
#[derive(Debug, Clone)]
pub struct Sample {
    pub field: Field,
    pub text: String,
}

/// A story to try a query on: where it came from and its fields' text.
#[derive(Debug, Clone)]
pub struct Source {
    pub title: String,
    pub link: Option<String>,
    pub feed: String,
    pub published: Option<String>,
    pub fields: Vec<(Field, String)>,
}

impl Source {
    /// A freshly parsed story of the feed named `feed`.
    pub fn from_story(story: &Story, feed: &str) -> Source {
        Source {
            title: story.title.clone(),
            link: story.link.clone(),
            feed: feed.to_owned(),
            published: story.date().map(|d| super::rfc3339(d.timestamp())),
            fields: vec![
                (Field::Title, story.title.clone()),
                (Field::Summary, story.summary.clone()),
                (Field::Content, story.content.clone()),
                (Field::Author, story.authors.join(", ")),
                (Field::Category, story.categories.join(", ")),
                (Field::Feed, feed.to_owned()),
            ],
        }
    }

    /// A story from the database.
    pub fn from_stored(s: StoredStory) -> Source {
        Source {
            fields: vec![
                (Field::Title, s.title.clone()),
                (Field::Summary, s.summary),
                (Field::Content, s.content),
                (Field::Author, s.authors),
                (Field::Category, s.categories),
                (Field::Feed, s.feed.clone()),
            ],
            title: s.title,
            link: s.link,
            feed: s.feed,
            published: s.published.map(super::rfc3339),
        }
    }
}

/// A feed's stories to try a query on, with the repairs reading it needed — which
/// `test-rule` tells, so that a feed read only in part is not taken for the whole.
#[derive(Debug, Clone)]
pub struct FeedSample {
    pub sources: Vec<Source>,
    pub repairs: Vec<String>,
}

impl FeedSample {
    /// The stories of a parsed feed, named by its title or else by `fallback`.
    pub fn of(feed: &ParsedFeed, fallback: &str) -> FeedSample {
        let name = feed.title.as_deref().unwrap_or(fallback);
        FeedSample {
            sources: feed
                .stories
                .iter()
                .map(|s| Source::from_story(s, name))
                .collect(),
            repairs: feed.repairs.clone(),
        }
    }
}

/// Fetches a feed (unconditionally) and returns its stories, for `test-rule --url`.
pub async fn fetch_stories(
    fetch: &crate::config::Fetch,
    url: &url::Url,
) -> anyhow::Result<FeedSample> {
    use anyhow::Context;
    let fetcher = crate::fetch::Fetcher::new(fetch)?;
    let fetched = fetcher
        .fetch(url, &Default::default())
        .await
        .with_context(|| format!("fetching {url}"))?;
    let crate::fetch::Fetched::Body(body) = fetched else {
        anyhow::bail!(
            "fetching {url}: the server answered 304 Not Modified to an unconditional request"
        );
    };
    let feed = crate::story::parse_feed(
        &body.bytes,
        Some(&body.url),
        body.charset.as_deref(),
        fetch.max_body,
    )
    .with_context(|| format!("{url}"))?;
    Ok(FeedSample::of(&feed, url.as_str()))
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

#[derive(Serialize)]
struct JsonStory<'a> {
    title: &'a str,
    link: Option<&'a str>,
    feed: &'a str,
    published: Option<&'a str>,
    spans: Vec<JsonSpan<'a>>,
}

#[derive(Serialize)]
struct JsonStories<'a> {
    query: &'a str,
    matched: bool,
    stories_tried: usize,
    stories: Vec<JsonStory<'a>>,
}

/// Formats a query error with the query and a caret under the column, for stderr.
pub fn describe_query_error(query: &str, error: &ParseError) -> String {
    let pad = " ".repeat(error.column.saturating_sub(1));
    format!("bad query: {error}\n  {query}\n  {pad}^")
}

fn json_spans<'a>(spans: &[Span], text_of: impl Fn(Field) -> &'a str) -> Vec<JsonSpan<'a>> {
    spans
        .iter()
        .map(|s| JsonSpan {
            field: s.field,
            start: s.start,
            end: s.end,
            text: text_of(s.field).get(s.start..s.end).unwrap_or(""),
        })
        .collect()
}

/// Runs `test-rule --text`: matches `query` against `sample` and prints the outcome.
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
            spans: json_spans(&spans, |_| sample.text.as_str()),
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

/// Runs `test-rule` over stories (from a feed file, a live feed or the database):
/// prints each story that matched, with its matched words marked. Only the stories that
/// match are kept while the others are read.
pub fn test_rule_stories(
    query: &Query,
    stories: impl IntoIterator<Item = Source>,
    json: bool,
    marker: Marker,
    out: &mut dyn Write,
) -> io::Result<RuleOutcome> {
    let (open, close) = marker.pair();
    let mut matched = Vec::new();
    let mut tried = 0;
    for story in stories {
        tried += 1;
        let doc = Document::new(story.fields.iter().map(|(f, t)| (*f, t.as_str())));
        if let Some(spans) = query.matches(&doc) {
            matched.push((story, spans));
        }
    }
    let text_of = |story: &Source, field: Field| -> String {
        story
            .fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    if json {
        let texts: Vec<Vec<(Field, String)>> =
            matched.iter().map(|(s, _)| s.fields.clone()).collect();
        let result = JsonStories {
            query: query.source(),
            matched: !matched.is_empty(),
            stories_tried: tried,
            stories: matched
                .iter()
                .zip(&texts)
                .map(|((story, spans), fields)| JsonStory {
                    title: &story.title,
                    link: story.link.as_deref(),
                    feed: &story.feed,
                    published: story.published.as_deref(),
                    spans: json_spans(spans, |f| {
                        fields
                            .iter()
                            .find(|(x, _)| *x == f)
                            .map_or("", |(_, t)| t.as_str())
                    }),
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &result)?;
        writeln!(out)?;
    } else {
        for (story, spans) in &matched {
            let when = story
                .published
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            writeln!(out, "{} ({}{when})", story.title, story.feed)?;
            if let Some(link) = &story.link {
                writeln!(out, "  {link}")?;
            }
            let mut fields: Vec<Field> = spans.iter().map(|s| s.field).collect();
            fields.dedup();
            for field in fields {
                let marked = mark(&text_of(story, field), field, spans, open, close);
                writeln!(out, "  {field}: {}", excerpt(&marked, open, close, 300))?;
            }
        }
        writeln!(out, "{} of {} stories matched", matched.len(), tried)?;
    }
    Ok(if matched.is_empty() {
        RuleOutcome::NoMatch
    } else {
        RuleOutcome::Matched
    })
}

/// Shortens long marked text to about `max` characters around the first mark. The marks
/// (`open`, `close`) count for nothing and are never cut: a mark the excerpt ends inside
/// is closed (a terminal's colour would otherwise run on past it).
fn excerpt(marked: &str, open: &str, close: &str, max: usize) -> String {
    let visible = marked.replace(open, "").replace(close, "").chars().count();
    if visible <= max {
        return marked.to_owned();
    }
    let first = marked.find(open).unwrap_or(0);
    let start = marked[..first]
        .char_indices()
        .rev()
        .nth(max / 3)
        .map_or(0, |(i, _)| i);
    let (mut body, mut rest, mut taken, mut inside) = (String::new(), &marked[start..], 0, false);
    while taken < max && !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(open) {
            (body, rest, inside) = (body + open, after, true);
        } else if let Some(after) = rest.strip_prefix(close) {
            (body, rest, inside) = (body + close, after, false);
        } else if let Some(c) = rest.chars().next() {
            body.push(c);
            rest = &rest[c.len_utf8()..];
            taken += 1;
        }
    }
    if inside {
        body.push_str(close);
    }
    let before = if start > 0 { "…" } else { "" };
    let after = if rest.is_empty() { "" } else { "…" };
    format!("{before}{body}{after}")
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn an_excerpt_never_cuts_a_mark_and_closes_one_it_ends_inside() {
        let (open, close) = ("\x1b[1;31m", "\x1b[0m");
        let text = format!(
            "{}{open}Peskov said {}{close} end",
            "a".repeat(20),
            "b".repeat(50)
        );
        let short = excerpt(&text, open, close, 30);
        assert_eq!(
            short,
            format!(
                "…{}{open}Peskov said {}{close}…",
                "a".repeat(11),
                "b".repeat(7)
            )
        );
        // Marks count for nothing: text as long as the limit once they are left out is
        // whole.
        let whole = format!("{open}{}{close}", "c".repeat(30));
        assert_eq!(excerpt(&whole, open, close, 30), whole);
        let brackets = excerpt(&format!("[[{}]] tail", "d".repeat(40)), "[[", "]]", 10);
        assert_eq!(brackets, format!("[[{}]]…", "d".repeat(10)));
    }
}
