//! Evaluating one parsed query against one story.
//!
//! A story is first turned into a [`Document`]: each field cut into folded words, with an
//! inverted index from word to positions. Queries then evaluate bottom-up: words,
//! prefixes and phrases yield positions, `NEAR` joins positions within a window, and
//! `AND` / `OR` / `NOT` combine truth values while collecting the spans that made the
//! query true, so alerts can highlight them.

use super::Field;
use super::document::Document;
use super::parse::{Node, Part};

/// A byte range of one field's original text that helped a query match.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Span {
    /// The field the range lies in.
    pub field: Field,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
}

/// Which fields a part of a query looks in.
fn fields_of(scope: Option<Field>) -> &'static [Field] {
    match scope {
        Some(field) => std::slice::from_ref(&Field::ALL[field as usize]),
        None => &Field::DEFAULT,
    }
}

fn in_scope(scope: Option<Field>, field: Field) -> bool {
    scope.map_or(Field::DEFAULT.contains(&field), |s| s == field)
}

/// Where a positional part of a query occurs, and the pieces to highlight.
///
/// `NEAR` measures distances along a *line*: the title, summary and content read in
/// that order as one text (a headline's last word is next to its summary's first), or
/// one of the other fields on its own. `start..end` are word positions on that line.
#[derive(Debug, Clone)]
struct Occurrence {
    line: Line,
    start: u32,
    end: u32,
    /// The field the occurrence lies in and the position on the line where that field
    /// starts, read when `pieces` is empty: then the whole range is one piece.
    field: Field,
    field_start: u32,
    /// Word ranges of fields to highlight (a `NEAR` of two occurrences).
    pieces: Vec<(Field, u32, u32)>,
}

/// The line an occurrence's positions count on: the prose fields read in order, or one
/// other field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Line {
    Prose,
    Field(Field),
}

impl Occurrence {
    /// Word positions `start..end` of a field.
    fn word(doc: &Document<'_>, field: Field, start: u32, end: u32) -> Self {
        let (line, field_start) = match doc.reading_position(field) {
            Some(at) => (Line::Prose, at),
            None => (Line::Field(field), 0),
        };
        Occurrence {
            line,
            start: field_start + start,
            end: field_start + end,
            field,
            field_start,
            pieces: Vec::new(),
        }
    }

    fn push_pieces_into(&self, out: &mut Vec<(Field, u32, u32)>) {
        if self.pieces.is_empty() {
            out.push((
                self.field,
                self.start - self.field_start,
                self.end - self.field_start,
            ));
        } else {
            out.extend_from_slice(&self.pieces);
        }
    }
}

/// What made part of a query true, before it is turned into byte spans.
#[derive(Debug, Clone, Copy)]
enum Evidence {
    Words(Field, u32, u32),
    Bytes(Field, usize, usize),
}

/// Evaluates a query; `Some(spans)` when it matches (the spans may be empty only for
/// parts that matched by absence, which a valid query never is alone).
pub(crate) fn evaluate(node: &Node, doc: &Document<'_>) -> Option<Vec<Span>> {
    let mut evidence = Vec::new();
    if !eval(node, doc, &mut evidence) {
        return None;
    }
    let mut spans: Vec<Span> = evidence
        .into_iter()
        .map(|e| match e {
            Evidence::Words(field, start, end) => {
                let (start, end) = doc.byte_range(field, start, end);
                Span { field, start, end }
            }
            Evidence::Bytes(field, start, end) => Span { field, start, end },
        })
        .collect();
    spans.sort_unstable();
    // Merge overlapping spans so a highlighter can walk them in order.
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if last.field == span.field && span.start <= last.end => {
                last.end = last.end.max(span.end);
            }
            _ => merged.push(span),
        }
    }
    Some(merged)
}

/// Evaluates `node`, appending its evidence when true. On false, whatever was appended
/// is truncated away again.
fn eval(node: &Node, doc: &Document<'_>, out: &mut Vec<Evidence>) -> bool {
    let mark = out.len();
    let ok = match node {
        Node::Word { .. } | Node::Prefix { .. } | Node::Phrase { .. } | Node::Near { .. } => {
            let found = occurrences(node, doc);
            let mut pieces = Vec::new();
            for occ in &found {
                pieces.clear();
                occ.push_pieces_into(&mut pieces);
                out.extend(pieces.iter().map(|&(f, s, e)| Evidence::Words(f, s, e)));
            }
            !found.is_empty()
        }
        Node::Regex { scope, regex } => {
            let mut any = false;
            for &field in fields_of(*scope) {
                if doc.field_text(field).is_empty() {
                    continue;
                }
                let folded = doc.folded(field);
                for m in regex.find_iter(&folded.text) {
                    if m.is_empty() {
                        continue;
                    }
                    let (start, end) = folded.original_range(m.start(), m.end());
                    out.push(Evidence::Bytes(field, start, end));
                    any = true;
                }
            }
            any
        }
        Node::And(children) => children.iter().all(|c| eval(c, doc, out)),
        Node::Or(children) => {
            // Evaluate every branch (no short cut) so all matched words are highlighted.
            let mut any = false;
            for child in children {
                any |= eval(child, doc, out);
            }
            any
        }
        Node::Not(child) => {
            let mut scratch = Vec::new();
            !eval(child, doc, &mut scratch)
        }
    };
    if !ok {
        out.truncate(mark);
    }
    ok
}

/// Where a positional node (word, prefix, phrase, OR of those, NEAR) occurs.
fn occurrences(node: &Node, doc: &Document<'_>) -> Vec<Occurrence> {
    match node {
        Node::Word { scope, word } => doc
            .postings_of(word)
            .filter(|&(f, _)| in_scope(*scope, f))
            .map(|(f, p)| Occurrence::word(doc, f, p, p + 1))
            .collect(),
        Node::Prefix { scope, prefix } => doc
            .words_with_prefix(prefix)
            .flat_map(|id| doc.postings(id))
            .filter(|&(f, _)| in_scope(*scope, f))
            .map(|(f, p)| Occurrence::word(doc, f, p, p + 1))
            .collect(),
        Node::Phrase { scope, parts } => phrase_occurrences(*scope, parts, doc),
        Node::Or(children) => children.iter().flat_map(|c| occurrences(c, doc)).collect(),
        Node::Near {
            left,
            right,
            max_gap,
        } => near_occurrences(occurrences(left, doc), occurrences(right, doc), *max_gap),
        // The parser only puts positional nodes where positions are asked for.
        Node::Regex { .. } | Node::And(_) | Node::Not(_) => Vec::new(),
    }
}

fn part_matches(part: &Part, word: &str) -> bool {
    if part.prefix {
        word.starts_with(part.text.as_str())
    } else {
        word == part.text
    }
}

fn phrase_occurrences(scope: Option<Field>, parts: &[Part], doc: &Document<'_>) -> Vec<Occurrence> {
    // Anchor on the first exact word if there is one: its postings are the fewest
    // starting points to check.
    let (anchor, part) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| !p.prefix)
        .unwrap_or((0, &parts[0]));
    let starts: Vec<(Field, u32)> = if part.prefix {
        doc.words_with_prefix(&part.text)
            .flat_map(|id| doc.postings(id))
            .collect()
    } else {
        doc.postings_of(&part.text).collect()
    };
    let len = parts.len() as u32;
    starts
        .into_iter()
        .filter(|&(f, _)| in_scope(scope, f))
        .filter_map(|(field, pos)| {
            let start = pos.checked_sub(anchor as u32)?;
            let all = parts.iter().enumerate().all(|(i, p)| {
                doc.word_at(field, start + i as u32)
                    .is_some_and(|w| part_matches(p, w))
            });
            all.then(|| Occurrence::word(doc, field, start, start + len))
        })
        .collect()
}

/// Pairs of a left and a right occurrence on the same line, not overlapping, with at
/// most `max_gap` words between them, in either order. Each pair becomes one occurrence
/// covering both, highlighting only the two sides.
fn near_occurrences(
    left: Vec<Occurrence>,
    mut right: Vec<Occurrence>,
    max_gap: u32,
) -> Vec<Occurrence> {
    if left.is_empty() || right.is_empty() {
        return Vec::new();
    }
    right.sort_unstable_by_key(|o| (o.line, o.start));
    let longest_right = right.iter().map(|o| o.end - o.start).max().unwrap_or(1);
    let mut out = Vec::new();
    for l in &left {
        // Right occurrences that could be close enough start within this window; it
        // keeps the join linear in the number of occurrences for a fixed distance.
        let lo = l.start.saturating_sub(max_gap + longest_right);
        let hi = l.end.saturating_add(max_gap);
        let first = right.partition_point(|o| (o.line, o.start) < (l.line, lo));
        for r in right[first..]
            .iter()
            .take_while(|o| o.line == l.line && o.start <= hi)
        {
            let gap = if l.end <= r.start {
                r.start - l.end
            } else if r.end <= l.start {
                l.start - r.end
            } else {
                continue; // overlapping: the same words cannot be both sides
            };
            if gap <= max_gap {
                let mut pieces = Vec::new();
                l.push_pieces_into(&mut pieces);
                r.push_pieces_into(&mut pieces);
                out.push(Occurrence {
                    line: l.line,
                    start: l.start.min(r.start),
                    end: l.end.max(r.end),
                    field: l.field,
                    field_start: l.field_start,
                    pieces,
                });
            }
        }
    }
    out
}
