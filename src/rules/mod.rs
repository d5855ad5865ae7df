//! The watch-rule language: parsing, text folding and matching.
//!
//! A rule such as `Ukrain* NEAR/12 (talks OR negotiat*)` is parsed once into a
//! [`Query`]; a story's fields are prepared once into a [`Document`]; a [`RuleSet`]
//! evaluates thousands of queries against a document by looking only at the rules whose
//! required words the story contains. Everything here is pure computation: no I/O, no
//! clock, no async, so it can be tested exhaustively and reused anywhere.

mod document;
mod fold;
mod highlight;
mod index;
mod lex;
mod matcher;
mod parse;
mod pattern;
#[cfg(test)]
mod tests;
mod words;

use std::fmt;

pub use document::Document;
pub use fold::{FoldedText, fold};
pub use highlight::mark;
pub use index::{RuleHit, RuleSet};
pub use matcher::Span;
pub use parse::{DEFAULT_NEAR, MAX_NEAR, MIN_PREFIX_CHARS, ParseError, REGEX_SIZE_LIMIT};
pub use words::{Token, tokenize};

/// A part of a story a query can look in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Summary,
    Content,
    Author,
    Category,
    Feed,
}

impl Field {
    /// How many fields there are.
    pub const COUNT: usize = 6;
    /// Every field, in order of their numbers.
    pub const ALL: [Field; Field::COUNT] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Author,
        Field::Category,
        Field::Feed,
    ];
    /// The fields an unscoped word looks in.
    pub const DEFAULT: [Field; 3] = [Field::Title, Field::Summary, Field::Content];
    /// The field names as a user writes them, for error messages.
    pub const NAMES: &'static str = "title, summary, content, author, category, feed";

    /// The name used in queries (`title:`) and output.
    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Feed => "feed",
        }
    }

    /// The field with this (lower-case) name.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed, compiled watch-rule query.
#[derive(Clone)]
pub struct Query {
    source: String,
    pub(crate) root: parse::Node,
}

impl Query {
    /// Parses a query; the error names the column and what was expected.
    pub fn parse(source: &str) -> Result<Query, ParseError> {
        Ok(Query {
            source: source.to_owned(),
            root: parse::parse(source)?,
        })
    }

    /// The query as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// What in the query is valid but most likely not meant, one line each: words that
    /// are operators in lower or mixed case (`or`, `Near/5`). Operators are upper-case,
    /// so each is a word the rule needs in the text — `Peskov or Песков` finds only
    /// stories holding all three words — which is rarely what was meant.
    pub fn notes(&self) -> Vec<String> {
        self.about_words(|word, column| {
            let upper = word.to_uppercase();
            let operator = matches!(upper.as_str(), "AND" | "OR" | "NOT" | "NEAR")
                || upper
                    .strip_prefix("NEAR/")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            (operator && upper != word).then(|| {
                format!(
                    "`{word}` (column {column}) is a word the rule looks for, not an operator: \
                     operators are upper-case (`{upper}`)"
                )
            })
        })
    }

    /// Hints for `newshound test-rule`, one line each: a word written in Cyrillic and
    /// without `*` finds that form only, while Russian and Ukrainian change a word's
    /// ending with its part in the sentence (`Песков` misses "слова Пескова"); its stem
    /// and `*` finds the others. Not a config warning: a rule may mean the one form.
    pub fn hints(&self) -> Vec<String> {
        self.about_words(|word, column| {
            // (An acronym in capitals, ТАСС or НАТО, keeps its form.)
            let cyrillic = word.chars().count() >= 4
                && word.chars().all(char::is_alphabetic)
                && word.chars().any(char::is_lowercase)
                && word.chars().any(|c| ('\u{400}'..='\u{4ff}').contains(&c));
            if !cyrillic {
                return None;
            }
            // The stem: the word without the vowels and signs that end its forms.
            let stem =
                word.trim_end_matches(|c: char| "аеёиоуыэюяйьъіїєАЕЁИОУЫЭЮЯЙЬЪІЇЄ".contains(c));
            let stem = if stem.chars().count() >= 3 {
                stem
            } else {
                word
            };
            Some(format!(
                "`{word}` (column {column}) finds that form only: Russian and Ukrainian change \
                 a word's ending with its part in the sentence; `{stem}*` finds its other forms \
                 too"
            ))
        })
    }

    /// What `say` says of each bare word of the query (not a phrase, regex or operator),
    /// given the word and its column; nothing for a query that does not parse (its error
    /// says why).
    fn about_words(&self, say: impl Fn(&str, usize) -> Option<String>) -> Vec<String> {
        let Ok(lexemes) = lex::lex(&self.source) else {
            return Vec::new();
        };
        lexemes
            .iter()
            .filter_map(|lexeme| match &lexeme.tok {
                lex::Tok::Word(word) => say(word, lexeme.column),
                _ => None,
            })
            .collect()
    }

    /// Matches the query against a story: `Some(spans)` with the byte ranges (per field,
    /// sorted, non-overlapping) that made it true, or `None`.
    pub fn matches(&self, doc: &Document<'_>) -> Option<Vec<Span>> {
        matcher::evaluate(&self.root, doc)
    }
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Query").field(&self.source).finish()
    }
}

impl std::str::FromStr for Query {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Query::parse(s)
    }
}
