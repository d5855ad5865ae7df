//! A `/regex/`'s letters folded as the text it searches is.
//!
//! A regex runs over a field's folded text ([`super::FoldedText`]): lower-cased, in NFKC,
//! without combining marks. Such text never holds `é`, `й`, `ё` or `ß` — they read `e`,
//! `и`, `е` and `ss` there — so a pattern spelling them as written (`/сергей/`,
//! `/café/`) could never match, and said nothing. Each literal character of the
//! pattern, outside a class or alone in one, is folded as the text is; a range
//! (`[à-ÿ]`) is left as written, since folding its ends would change what lies between
//! them. Case needs no folding: regexes are case-insensitive.

use regex_syntax::ast::{self, Ast, ClassSetItem, Span, Visitor};

use super::fold;

/// `pattern` with its literal characters folded as the text a regex runs over is; the
/// pattern unchanged when it holds none that folding changes, or does not parse (the
/// regex compiler then says why).
pub(super) fn folded_pattern(pattern: &str) -> String {
    let Ok(ast) = ast::parse::Parser::new().parse(pattern) else {
        return pattern.to_owned();
    };
    let Ok(mut changes) = ast::visit(&ast, Literals::default());
    changes.sort_by_key(|(span, _)| span.start.offset);
    let mut out = String::with_capacity(pattern.len());
    let mut at = 0;
    for (span, replacement) in changes {
        out.push_str(&pattern[at..span.start.offset]);
        out.push_str(&replacement);
        at = span.end.offset;
    }
    out.push_str(&pattern[at..]);
    out
}

/// The literals that folding changes, each with what it becomes.
#[derive(Default)]
struct Literals(Vec<(Span, String)>);

impl Literals {
    /// Records `literal`'s replacement when folding changes more than its case; `in_class`
    /// when it stands in a bracketed class, where only one character can.
    fn fold(&mut self, literal: &ast::Literal, in_class: bool) {
        let c = literal.c;
        if c.is_ascii() {
            return;
        }
        let folded = fold(c.encode_utf8(&mut [0; 4]));
        if folded.chars().eq(c.to_lowercase()) {
            return;
        }
        let replacement = match (folded.chars().count(), in_class) {
            (1, _) => regex_syntax::escape(&folded),
            // `ß` reads `ss`, and a combining mark nothing: as a group, so that a
            // repetition after it still applies to all of it.
            (_, false) => format!("(?:{})", regex_syntax::escape(&folded)),
            (_, true) => return,
        };
        self.0.push((literal.span, replacement));
    }
}

impl Visitor for Literals {
    type Output = Vec<(Span, String)>;
    type Err = std::convert::Infallible;

    fn finish(self) -> Result<Self::Output, Self::Err> {
        Ok(self.0)
    }

    fn visit_pre(&mut self, ast: &Ast) -> Result<(), Self::Err> {
        if let Ast::Literal(literal) = ast {
            self.fold(literal, false);
        }
        Ok(())
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), Self::Err> {
        if let ClassSetItem::Literal(literal) = item {
            self.fold(literal, true);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_fold_as_the_text_does() {
        for (pattern, folded) in [
            ("сергей|ёлка", "сергеи|елка"),
            ("Café", "Cafe"),
            ("stra(ß)e", "stra((?:ss))e"),
            ("ß+", "(?:ss)+"),
            ("e\u{301}?", "e(?:)?"),
            ("[йё]", "[ие]"),
            // A range keeps its ends; a class cannot hold `ss`; an escape folds too.
            ("[à-ÿ]", "[à-ÿ]"),
            ("[ß]", "[ß]"),
            (r"\x{e9}t\x{e9}", "ete"),
            // What folds to itself is left alone, and so is a pattern that does not parse.
            ("Песков", "Песков"),
            (r"\bUSA\b", r"\bUSA\b"),
            ("(é", "(é"),
        ] {
            assert_eq!(folded_pattern(pattern), folded, "{pattern}");
        }
    }
}
