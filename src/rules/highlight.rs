//! Marking matched spans in text, for terminals, plain text and alerts.

use super::{Field, Span};

/// Returns `text` with every span of `field` wrapped in `open` … `close`.
///
/// Spans are the sorted, non-overlapping ones a match returns; spans of other fields
/// and spans that do not fall on character boundaries of `text` are skipped, so a
/// stale span can never cause a panic.
pub fn mark(text: &str, field: Field, spans: &[Span], open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for span in spans.iter().filter(|s| s.field == field) {
        let ok = span.start >= at
            && span.start < span.end
            && text.is_char_boundary(span.start)
            && text.is_char_boundary(span.end);
        if !ok {
            continue;
        }
        out.push_str(&text[at..span.start]);
        out.push_str(open);
        out.push_str(&text[span.start..span.end]);
        out.push_str(close);
        at = span.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_only_the_given_field_and_skips_bad_spans() {
        let spans = [
            Span {
                field: Field::Title,
                start: 0,
                end: 3,
            },
            // Empty: nothing to mark.
            Span {
                field: Field::Title,
                start: 3,
                end: 3,
            },
            Span {
                field: Field::Summary,
                start: 4,
                end: 6,
            },
            Span {
                field: Field::Title,
                start: 4,
                end: 99,
            },
        ];
        assert_eq!(mark("abc def", Field::Title, &spans, "[", "]"), "[abc] def");
    }
}
