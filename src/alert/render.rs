//! Alert messages: what they say, and the templates that say it.
//!
//! Feed text is untrusted. It reaches messages only as plain text (tags were dropped
//! when the story was parsed) and every template value is escaped by minijinja's HTML
//! auto-escaping in `.html` templates; links are only ever http(s). Highlighting is data
//! — a list of segments, some marked — so no feed text is ever spliced into markup.

use std::path::Path;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::rules::{Field, Span};
use crate::store::{DueAlert, StoredStory};

/// Characters of context on each side of the first match in a snippet.
const CONTEXT: usize = 160;

const ALERT_TXT: &str = include_str!("templates/alert.txt");
const ALERT_HTML: &str = include_str!("templates/alert.html");
const DIGEST_TXT: &str = include_str!("templates/digest.txt");
const DIGEST_HTML: &str = include_str!("templates/digest.html");

/// A piece of snippet text, highlighted when it is a matched word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub hit: bool,
}

/// One story's alert, as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct AlertView {
    pub title: String,
    /// The title with the words a rule matched in it marked.
    pub title_marked: Vec<Segment>,
    pub link: Option<String>,
    pub feed: String,
    /// "2026-11-26 15:40 UTC", or empty when the feed gave no date.
    pub published: String,
    /// The same as RFC 3339 ("2026-11-26T15:40:00Z"), for machines.
    pub published_rfc3339: Option<String>,
    /// When the feed says the story was last updated, as `published` is written; empty
    /// unless that is later than its publication (a page rewritten since: what made it
    /// recent enough to alert).
    pub updated: String,
    /// The same as RFC 3339, or `None`.
    pub updated_rfc3339: Option<String>,
    pub rules: Vec<String>,
    /// The text around the matched words.
    pub snippet: Vec<Segment>,
    /// The matched words, as written in the story.
    pub matched: Vec<String>,
}

impl AlertView {
    pub fn new(alert: &DueAlert) -> AlertView {
        AlertView::of_story(&alert.story, &alert.rules, &alert.spans)
    }

    pub fn of_story(story: &StoredStory, rules: &[String], spans: &[Span]) -> AlertView {
        let shown = |at: Option<i64>| {
            at.and_then(|p| chrono::DateTime::from_timestamp(p, 0))
                .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default()
        };
        // An update is worth showing when it is later than the publication by more than
        // the minute a shown time can tell apart.
        let updated_at = story
            .updated
            .filter(|&u| story.published.is_none_or(|p| u >= p + 60));
        let mut matched: Vec<String> = Vec::new();
        for span in spans {
            if let Some(word) = field_text(story, span.field).get(span.start..span.end)
                && !matched.iter().any(|m| m.eq_ignore_ascii_case(word))
            {
                matched.push(word.to_owned());
            }
        }
        AlertView {
            published_rfc3339: story.published.map(crate::commands::rfc3339),
            updated: shown(updated_at),
            updated_rfc3339: updated_at.map(crate::commands::rfc3339),
            title: one_line(&story.headline()),
            title_marked: if story.title.is_empty() {
                vec![Segment {
                    text: one_line(&story.headline()),
                    hit: false,
                }]
            } else {
                marked_line(&story.title, spans, Field::Title)
            },
            link: story
                .link
                .clone()
                .filter(|l| l.starts_with("http://") || l.starts_with("https://")),
            feed: one_line(&story.feed),
            published: shown(story.published),
            rules: rules.to_vec(),
            snippet: snippet(story, spans),
            matched,
        }
    }

    /// The snippet as plain text with matched words marked `*like this*`.
    pub fn snippet_text(&self) -> String {
        marked_text(&self.snippet, |text| text.to_owned())
    }

    /// [`AlertView::snippet_text`] with the story's own text passed through `escape`
    /// (the marks stay as they are).
    pub fn snippet_text_escaped(&self, escape: impl Fn(&str) -> String) -> String {
        marked_text(&self.snippet, escape)
    }

    /// The title as plain text with matched words marked `*like this*`.
    pub fn title_text(&self) -> String {
        marked_text(&self.title_marked, |text| text.to_owned())
    }

    /// `[newshound] <rule names>: <story title>`, on one line.
    pub fn subject(&self) -> String {
        let title: String = self.title.chars().take(200).collect();
        one_line(&format!("[newshound] {}: {title}", self.rules.join(", ")))
    }
}

/// A digest: alerts grouped by rule.
#[derive(Debug, Clone, Serialize)]
pub struct DigestView {
    pub channel: String,
    pub count: usize,
    pub groups: Vec<DigestGroup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestGroup {
    pub rule: String,
    pub alerts: Vec<AlertView>,
}

impl DigestView {
    pub fn new(channel: &str, alerts: &[DueAlert]) -> DigestView {
        let mut groups: Vec<DigestGroup> = Vec::new();
        for alert in alerts {
            for rule in &alert.rules {
                let view = AlertView::new(alert);
                match groups.iter_mut().find(|g| &g.rule == rule) {
                    Some(group) => group.alerts.push(view),
                    None => groups.push(DigestGroup {
                        rule: rule.clone(),
                        alerts: vec![view],
                    }),
                }
            }
        }
        groups.sort_by(|a, b| a.rule.cmp(&b.rule));
        DigestView {
            channel: channel.to_owned(),
            count: alerts.len(),
            groups,
        }
    }

    pub fn subject(&self) -> String {
        let rules: Vec<&str> = self.groups.iter().map(|g| g.rule.as_str()).collect();
        let stories = if self.count == 1 { "story" } else { "stories" };
        one_line(&format!(
            "[newshound] digest: {} {stories} for {}",
            self.count,
            rules.join(", ")
        ))
    }
}

fn field_text(story: &StoredStory, field: Field) -> &str {
    match field {
        Field::Title => &story.title,
        Field::Summary => &story.summary,
        Field::Content => &story.content,
        Field::Author => &story.authors,
        Field::Category => &story.categories,
        Field::Feed => &story.feed,
    }
}

/// Segments as plain text, matched words marked `*like this*`.
fn marked_text(segments: &[Segment], escape: impl Fn(&str) -> String) -> String {
    segments
        .iter()
        .map(|s| {
            if s.hit {
                format!("*{}*", escape(&s.text))
            } else {
                escape(&s.text)
            }
        })
        .collect()
}

/// `text` (a field's) on one line, as [`one_line`] puts it, with the `spans` of `field`
/// in it marked.
fn marked_line(text: &str, spans: &[Span], field: Field) -> Vec<Segment> {
    let mut segments = marked(text, spans, field, 0..text.len());
    for segment in &mut segments {
        // Control characters become one space a run, as `one_line` makes them.
        let mut line = String::with_capacity(segment.text.len());
        for c in segment.text.chars() {
            if !c.is_control() {
                line.push(c);
            } else if !line.ends_with(' ') {
                line.push(' ');
            }
        }
        segment.text = line;
    }
    if let Some(first) = segments.first_mut() {
        first.text = first.text.trim_start().to_owned();
    }
    if let Some(last) = segments.last_mut() {
        last.text = last.text.trim_end().to_owned();
    }
    segments.retain(|s| !s.text.is_empty());
    segments
}

/// `text[range]` in segments, each span of `field` that lies whole within it marked (in
/// order of their starts; one overlapping an earlier is left out).
fn marked(text: &str, spans: &[Span], field: Field, range: std::ops::Range<usize>) -> Vec<Segment> {
    let mut within: Vec<&Span> = spans
        .iter()
        .filter(|s| {
            s.field == field
                && range.start <= s.start
                && s.start < s.end
                && s.end <= range.end
                && text.is_char_boundary(s.start)
                && text.is_char_boundary(s.end)
        })
        .collect();
    within.sort_by_key(|s| s.start);
    let mut segments = Vec::new();
    let mut at = range.start;
    for span in within {
        if span.start < at {
            continue;
        }
        if span.start > at {
            segments.push(Segment {
                text: text[at..span.start].to_owned(),
                hit: false,
            });
        }
        segments.push(Segment {
            text: text[span.start..span.end].to_owned(),
            hit: true,
        });
        at = span.end;
    }
    if at < range.end {
        segments.push(Segment {
            text: text[at..range.end].to_owned(),
            hit: false,
        });
    }
    segments
}

/// Text on one line: control characters (CR, LF, tabs…) become spaces, so feed text
/// can never add a header or break a line it should not.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned()
}

/// The text around the first match in the summary or content (in that order of
/// preference), with every match inside it marked; when the rules matched neither — the
/// headline alone — the start of the story's text, which the title (marked itself,
/// `title_marked`) does not repeat; nothing for a story that is only a title.
pub fn snippet(story: &StoredStory, spans: &[Span]) -> Vec<Segment> {
    // Spans were recorded when the rule hit; if the story's text changed since, some may
    // no longer fit it. Those are ignored rather than trusted.
    let valid: Vec<Span> = spans
        .iter()
        .filter(|s| {
            let text = field_text(story, s.field);
            s.start < s.end
                && s.end <= text.len()
                && text.is_char_boundary(s.start)
                && text.is_char_boundary(s.end)
        })
        .copied()
        .collect();
    let spans = &valid[..];
    let texts = [Field::Summary, Field::Content];
    let Some(field) = texts
        .into_iter()
        .find(|f| spans.iter().any(|s| s.field == *f))
        .or_else(|| {
            texts
                .into_iter()
                .find(|f| !field_text(story, *f).is_empty())
        })
    else {
        return Vec::new(); // a headline alone: the title says it all
    };
    let text = field_text(story, field);
    let first = spans.iter().find(|s| s.field == field);
    let (from, to) = match first {
        Some(span) => (
            back(text, span.start, CONTEXT),
            forward(text, span.end, CONTEXT),
        ),
        None => (0, forward(text, 0, 2 * CONTEXT)),
    };
    let mut segments = Vec::new();
    if from > 0 {
        segments.push(Segment {
            text: "…".into(),
            hit: false,
        });
    }
    segments.extend(marked(text, spans, field, from..to));
    if to < text.len() {
        segments.push(Segment {
            text: "…".into(),
            hit: false,
        });
    }
    segments
}

/// About `chars` characters before `at`, starting at a word.
fn back(text: &str, at: usize, chars: usize) -> usize {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(chars)
        .map_or(0, |(i, _)| i);
    if start == 0 {
        return 0;
    }
    text[start..at].find(' ').map_or(start, |s| start + s + 1)
}

/// About `chars` characters after `at`, ending at a word.
fn forward(text: &str, at: usize, chars: usize) -> usize {
    let end = text[at..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| at + i);
    if end == text.len() {
        return end;
    }
    text[at..end].rfind(' ').map_or(end, |s| at + s)
}

/// The message templates: built-in, or the operator's from a folder.
pub struct Templates {
    env: Environment<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

/// The rendered bodies of one message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// The built-in templates, each replaced by a file of the same name (`alert.txt`,
    /// `alert.html`, `digest.txt`, `digest.html`) in `folder` when there is one.
    pub fn new(folder: Option<&Path>) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, builtin) in [
            ("alert.txt", ALERT_TXT),
            ("alert.html", ALERT_HTML),
            ("digest.txt", DIGEST_TXT),
            ("digest.html", DIGEST_HTML),
        ] {
            let source = match folder.map(|f| f.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("reading the template {}: {e}", path.display()))?,
                None => builtin.to_owned(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| anyhow::anyhow!("template {name}: {e:#}"))?;
        }
        Ok(Templates { env })
    }

    fn render(&self, name: &str, ctx: &minijinja::Value) -> anyhow::Result<String> {
        self.env
            .get_template(name)?
            .render(ctx.clone())
            .map_err(|e| anyhow::anyhow!("rendering {name}: {e:#}"))
    }

    pub fn alert(&self, view: &AlertView) -> anyhow::Result<Rendered> {
        let ctx = minijinja::context! {
            alert => minijinja::value::Serde(view),
            snippet_text => view.snippet_text(),
            title_text => view.title_text(),
        };
        Ok(Rendered {
            subject: view.subject(),
            text: self.render("alert.txt", &ctx)?,
            html: self.render("alert.html", &ctx)?,
        })
    }

    pub fn digest(&self, view: &DigestView) -> anyhow::Result<Rendered> {
        let ctx = minijinja::context! { digest => minijinja::value::Serde(view) };
        Ok(Rendered {
            subject: view.subject(),
            text: self.render("digest.txt", &ctx)?,
            html: self.render("digest.html", &ctx)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(title: &str, summary: &str) -> StoredStory {
        StoredStory {
            id: 1,
            feed: "World Desk".into(),
            link: Some("https://news.example.org/a?x=1&y=2".into()),
            title: title.into(),
            summary: summary.into(),
            content: String::new(),
            authors: String::new(),
            categories: String::new(),
            published: Some(1_795_700_000),
            updated: None,
            first_seen: 0,
        }
    }

    #[test]
    fn snippet_marks_matches_in_context() {
        let s = story("t", "Kremlin spokesman Dmitry Peskov said on Thursday");
        let spans = [Span {
            field: Field::Summary,
            start: 25,
            end: 31,
        }];
        let segments = snippet(&s, &spans);
        assert_eq!(
            segments,
            [
                Segment {
                    text: "Kremlin spokesman Dmitry ".into(),
                    hit: false
                },
                Segment {
                    text: "Peskov".into(),
                    hit: true
                },
                Segment {
                    text: " said on Thursday".into(),
                    hit: false
                },
            ]
        );
        let view = AlertView::of_story(&s, &["Peskov".into()], &spans);
        assert_eq!(
            view.snippet_text(),
            "Kremlin spokesman Dmitry *Peskov* said on Thursday"
        );
        assert_eq!(view.matched, ["Peskov"]);
    }

    #[test]
    fn a_title_is_marked_and_a_match_in_it_alone_leaves_the_snippet_to_the_summary() {
        let title = "Peskov\r\nspeaks of talks";
        let s = story(
            title,
            "The Kremlin said on Thursday that talks would go on.",
        );
        let spans = [Span {
            field: Field::Title,
            start: 0,
            end: 6,
        }];
        let view = AlertView::of_story(&s, &["Peskov".into()], &spans);
        assert_eq!(view.title_text(), "*Peskov* speaks of talks");
        assert_eq!(view.title, "Peskov speaks of talks");
        // The snippet is the story's own text, not its title once more.
        assert_eq!(
            view.snippet_text(),
            "The Kremlin said on Thursday that talks would go on."
        );
        let rendered = Templates::new(None).unwrap().alert(&view).unwrap();
        assert!(
            rendered
                .html
                .contains("><b>Peskov</b> speaks of talks</a></h2>"),
            "{}",
            rendered.html
        );
        assert!(rendered.text.starts_with("*Peskov* speaks of talks\n"));
        // A headline alone has no snippet.
        let bare = story("Peskov speaks", "");
        let view = AlertView::of_story(&bare, &["Peskov".into()], &spans);
        assert!(view.snippet.is_empty());
        assert_eq!(view.title_text(), "*Peskov* speaks");
    }

    #[test]
    fn long_text_is_cut_around_the_match() {
        let summary = format!("{} Peskov {}", "word ".repeat(200), "more ".repeat(200));
        let start = summary.find("Peskov").unwrap();
        let s = story("t", &summary);
        let segments = snippet(
            &s,
            &[Span {
                field: Field::Summary,
                start,
                end: start + 6,
            }],
        );
        assert_eq!(segments.first().unwrap().text, "…");
        assert_eq!(segments.last().unwrap().text, "…");
        let total: usize = segments.iter().map(|s| s.text.chars().count()).sum();
        assert!(total < 2 * CONTEXT + 20, "{total}");
    }

    #[test]
    fn hostile_text_is_escaped_and_kept_on_one_line() {
        let s = story(
            "Evil\r\nBcc: victim@example.org <script>alert(1)</script>",
            "<img src=x onerror=alert(1)> Peskov",
        );
        let view = AlertView::of_story(
            &s,
            &["Peskov".into()],
            &[
                Span {
                    field: Field::Summary,
                    start: 29,
                    end: 35,
                },
                Span {
                    field: Field::Summary,
                    start: 90,
                    end: 99,
                },
            ],
        );
        assert!(!view.subject().contains('\n') && !view.subject().contains('\r'));
        let rendered = Templates::new(None).unwrap().alert(&view).unwrap();
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(!rendered.html.contains("<img"), "{}", rendered.html);
        assert!(rendered.html.contains("&lt;script&gt;"));
        assert!(rendered.html.contains("<b>Peskov</b>"), "{}", rendered.html);
        assert!(
            rendered
                .html
                .contains("href=\"https:&#x2f;&#x2f;news.example.org&#x2f;a?x=1&amp;y=2\""),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains("*Peskov*"));
    }

    #[test]
    fn a_later_update_is_shown_beside_the_publication() {
        let templates = Templates::new(None).unwrap();
        let mut s = story("Live: the talks", "Peskov");
        let rendered = |s: &StoredStory| {
            let view = AlertView::of_story(s, &["Peskov".into()], &[]);
            (templates.alert(&view).unwrap(), view.updated_rfc3339)
        };
        let (plain, updated) = rendered(&s);
        assert!(!plain.text.contains("updated"), "{}", plain.text);
        assert_eq!(updated, None);
        // The same minute (as RSS copies its date into both) is no update.
        s.updated = Some(1_795_700_030);
        assert!(!rendered(&s).0.text.contains("updated"));
        s.updated = Some(1_795_700_000 + 86_400);
        let (live, updated) = rendered(&s);
        assert!(
            live.text
                .contains("published 2026-11-26 13:33 UTC, updated 2026-11-27 13:33 UTC"),
            "{}",
            live.text
        );
        assert!(live.html.contains("updated 2026-11-27 13:33 UTC"));
        assert_eq!(updated.as_deref(), Some("2026-11-27T13:33:20Z"));
    }
}
