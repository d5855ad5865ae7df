//! The watch-rule parser: query text to a syntax tree, or an error with a column.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! query   := and ("OR" and)*
//! and     := unary (["AND"] unary)*          implicit AND between neighbours
//! unary   := ("NOT" | "-") unary | near
//! near    := primary ("NEAR" | "NEAR/n" primary)*
//! primary := FIELD ":" primary | "(" query ")" | "phrase" | word | prefix* | /regex/
//! ```
//!
//! Words are folded and cut exactly as story text is (see [`super::fold`]), so a query
//! word that the tokenizer splits ("Peskov's", "北京") becomes a phrase. Every error
//! carries the 1-based column (in characters) of the offending part of the query.

use regex::{Regex, RegexBuilder};

use super::Field;
use super::lex::{Lexeme, Tok, lex};
use super::words::tokenize;

/// The distance `NEAR` means when written without `/n`.
pub const DEFAULT_NEAR: u32 = 10;
/// The largest distance `NEAR/n` accepts.
pub const MAX_NEAR: u32 = 1000;
/// The fewest characters a prefix must have before `*`.
pub const MIN_PREFIX_CHARS: usize = 3;
/// How deeply parentheses, `NOT`s and scopes may nest; deeper input is refused rather
/// than risking the stack.
const MAX_DEPTH: usize = 64;
/// Compiled-size limit for one `/regex/`, so that one rule cannot eat the daemon's memory.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// A query that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column, in characters, of the part of the query the error is about.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ParseError {
    pub(super) fn new(column: usize, message: impl Into<String>) -> Self {
        ParseError {
            column,
            message: message.into(),
        }
    }
}

/// One word of a phrase: exact, or a prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub text: String,
    pub prefix: bool,
}

/// The parsed query. `scope` is `None` for the default fields (title, summary, content).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Word {
        scope: Option<Field>,
        word: String,
    },
    Prefix {
        scope: Option<Field>,
        prefix: String,
    },
    Phrase {
        scope: Option<Field>,
        parts: Vec<Part>,
    },
    Regex {
        scope: Option<Field>,
        regex: Box<Regex>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Near {
        left: Box<Node>,
        right: Box<Node>,
        max_gap: u32,
    },
}

impl Node {
    /// Whether the node can match on its own, rather than only exclude. `a OR NOT b` is
    /// refused when parsing, so an `Or` here is positive when all its branches are.
    pub(crate) fn is_positive(&self) -> bool {
        match self {
            Node::Not(_) => false,
            Node::And(children) => children.iter().any(Node::is_positive),
            Node::Or(children) => children.iter().all(Node::is_positive),
            _ => true,
        }
    }

    /// Whether the node yields word positions, which `NEAR` needs on both sides.
    fn is_positional(&self) -> bool {
        match self {
            Node::Word { .. } | Node::Prefix { .. } | Node::Phrase { .. } | Node::Near { .. } => {
                true
            }
            Node::Or(children) => children.iter().all(Node::is_positional),
            Node::Regex { .. } | Node::And(_) | Node::Not(_) => false,
        }
    }

    /// Scopes every part that has no field of its own; an inner scope wins.
    fn set_scope(&mut self, field: Field) {
        match self {
            Node::Word { scope, .. }
            | Node::Prefix { scope, .. }
            | Node::Phrase { scope, .. }
            | Node::Regex { scope, .. } => {
                scope.get_or_insert(field);
            }
            Node::And(children) | Node::Or(children) => {
                children.iter_mut().for_each(|c| c.set_scope(field));
            }
            Node::Not(child) => child.set_scope(field),
            Node::Near { left, right, .. } => {
                left.set_scope(field);
                right.set_scope(field);
            }
        }
    }
}

/// Parses a query into its syntax tree.
pub(crate) fn parse(source: &str) -> Result<Node, ParseError> {
    let tokens = lex(source)?;
    let end_column = source.chars().count() + 1;
    if tokens.is_empty() {
        return Err(ParseError::new(
            1,
            "empty query: expected a word, phrase or `(`",
        ));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        end_column,
        depth: 0,
    };
    let node = parser.query()?;
    if let Some(extra) = parser.tokens.get(parser.pos) {
        // `query` stops only at the end or at a `)` it did not open.
        return Err(ParseError::new(
            extra.column,
            "unmatched `)`: there is no `(` before it",
        ));
    }
    if !node.is_positive() {
        return Err(ParseError::new(
            1,
            "the rule has no positive part: `NOT` and `-` only exclude, so add a word to look for",
        ));
    }
    Ok(node)
}

struct Parser {
    tokens: Vec<Lexeme>,
    pos: usize,
    end_column: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|l| &l.tok)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.end_column, |l| l.column)
    }

    fn advance(&mut self) -> Lexeme {
        let lexeme = self.tokens[self.pos].clone();
        self.pos += 1;
        lexeme
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                self.column(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// The error for a missing operand, naming the operator that wanted it.
    fn missing_operand(&self) -> ParseError {
        let what = "a word, phrase, `(` or /regex/";
        let previous = self.pos.checked_sub(1).map(|p| &self.tokens[p].tok);
        let message = match (previous, self.peek()) {
            (Some(op), None) => format!("{op} at the end of the query: expected {what} after it"),
            (Some(op), Some(next)) => format!("expected {what} after {op}, found {next}"),
            (None, Some(next)) => format!("{next} needs {what} before it"),
            (None, None) => format!("expected {what}"),
        };
        ParseError::new(self.column(), message)
    }

    fn query(&mut self) -> Result<Node, ParseError> {
        let mut branches = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            let or = self.advance();
            let branch = self.and()?;
            branches.push(branch);
            if !branches.iter().all(Node::is_positive) {
                return Err(ParseError::new(
                    or.column,
                    "every side of `OR` must look for something: `OR NOT x` would match nearly every story",
                ));
            }
        }
        Ok(if branches.len() == 1 {
            branches.pop().expect("one branch")
        } else {
            Node::Or(branches)
        })
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                None | Some(Tok::RParen) | Some(Tok::Or) => break,
                Some(Tok::And) => {
                    self.advance();
                    parts.push(self.unary()?);
                }
                Some(_) => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if matches!(self.peek(), Some(Tok::Not | Tok::Minus)) {
            self.enter()?;
            self.advance();
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.near()
    }

    fn near(&mut self) -> Result<Node, ParseError> {
        let start = self.column();
        let mut left = self.primary()?;
        while let Some(&Tok::Near(max_gap)) = self.peek() {
            let near = self.advance();
            let right_column = self.column();
            let right = self.primary()?;
            for (side, column) in [(&left, start), (&right, right_column)] {
                if !side.is_positional() {
                    return Err(ParseError::new(
                        column,
                        format!(
                            "{} works on words, phrases, prefixes and OR groups of them; \
                             AND, NOT and regexes cannot stand beside it (quote adjacent words as a phrase)",
                            near.tok
                        ),
                    ));
                }
            }
            left = Node::Near {
                left: Box::new(left),
                right: Box::new(right),
                max_gap,
            };
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(self.missing_operand());
        };
        match tok {
            Tok::Scope(field) => {
                self.enter()?;
                self.advance();
                if matches!(self.peek(), None | Some(Tok::RParen)) {
                    return Err(ParseError::new(
                        self.column(),
                        format!("expected a word, phrase or `(` after `{}:`", field.name()),
                    ));
                }
                let mut inner = self.primary()?;
                self.depth -= 1;
                inner.set_scope(field);
                Ok(inner)
            }
            Tok::LParen => {
                self.enter()?;
                let open = self.advance();
                if self.peek() == Some(&Tok::RParen) {
                    return Err(ParseError::new(
                        open.column,
                        "empty parentheses: expected a query inside `( )`",
                    ));
                }
                let inner = self.query()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(ParseError::new(
                        open.column,
                        "unclosed `(`: expected a matching `)`",
                    ));
                }
                self.advance();
                Ok(inner)
            }
            Tok::Word(word) => {
                let lexeme = self.advance();
                term(&word, lexeme.column)
            }
            Tok::Phrase(text) => {
                let lexeme = self.advance();
                phrase(&text, lexeme.column)
            }
            Tok::Regex(pattern) => {
                let lexeme = self.advance();
                regex(&pattern, lexeme.column)
            }
            Tok::RParen if self.pos == 0 => Err(ParseError::new(
                self.column(),
                "unmatched `)`: there is no `(` before it",
            )),
            Tok::RParen | Tok::And | Tok::Or | Tok::Not | Tok::Minus | Tok::Near(_) => {
                Err(self.missing_operand())
            }
        }
    }
}

/// Folds and cuts one written word (maybe ending in `*`) into phrase parts.
fn parts_of(word: &str, column: usize) -> Result<Vec<Part>, ParseError> {
    if let Some(star) = word.trim_end_matches('*').find('*') {
        let at = column + word[..star].chars().count();
        return Err(ParseError::new(
            at,
            "`*` may only end a word (a prefix such as `embass*`)",
        ));
    }
    let (base, prefix) = match word.strip_suffix('*') {
        Some(base) => (base.trim_end_matches('*'), true),
        None => (word, false),
    };
    let mut parts: Vec<Part> = tokenize(base)
        .into_iter()
        .map(|t| Part {
            text: t.text,
            prefix: false,
        })
        .collect();
    let Some(last) = parts.last_mut() else {
        return Err(ParseError::new(
            column,
            format!("`{word}` has no letters or digits to search for"),
        ));
    };
    if prefix {
        if last.text.chars().count() < MIN_PREFIX_CHARS {
            return Err(ParseError::new(
                column,
                format!(
                    "prefix `{word}` is too short: at least {MIN_PREFIX_CHARS} letters before `*`"
                ),
            ));
        }
        last.prefix = true;
    }
    Ok(parts)
}

fn node_of_parts(mut parts: Vec<Part>) -> Node {
    if parts.len() == 1 {
        let part = parts.pop().expect("one part");
        if part.prefix {
            Node::Prefix {
                scope: None,
                prefix: part.text,
            }
        } else {
            Node::Word {
                scope: None,
                word: part.text,
            }
        }
    } else {
        Node::Phrase { scope: None, parts }
    }
}

fn term(word: &str, column: usize) -> Result<Node, ParseError> {
    parts_of(word, column).map(node_of_parts)
}

fn phrase(text: &str, column: usize) -> Result<Node, ParseError> {
    let mut parts = Vec::new();
    for chunk in text.split_whitespace() {
        // Columns inside the phrase: one for the quote, then the characters before.
        let offset = chunk.as_ptr() as usize - text.as_ptr() as usize;
        let at = column + 1 + text[..offset].chars().count();
        match parts_of(chunk, at) {
            Ok(p) => parts.extend(p),
            // Punctuation inside a phrase ("peace - deal") is simply not a word.
            Err(_) if !chunk.contains('*') && tokenize(chunk).is_empty() => {}
            Err(e) => return Err(e),
        }
    }
    if parts.is_empty() {
        return Err(ParseError::new(
            column,
            "empty phrase: expected words between the quotes",
        ));
    }
    Ok(node_of_parts(parts))
}

fn regex(pattern: &str, column: usize) -> Result<Node, ParseError> {
    if pattern.is_empty() {
        return Err(ParseError::new(
            column,
            "empty regex: expected a pattern between the slashes",
        ));
    }
    let regex = RegexBuilder::new(&super::pattern::folded_pattern(pattern))
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(4 * REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let message = match e {
                regex::Error::CompiledTooBig(limit) => {
                    format!("regex too large: it compiles to more than {limit} bytes")
                }
                // The syntax error's last line says what is wrong; the lines above repeat
                // the pattern, which the caller already shows.
                other => format!(
                    "invalid regex: {}",
                    other
                        .to_string()
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("invalid pattern")
                        .trim_start_matches("error: ")
                ),
            };
            ParseError::new(column, message)
        })?;
    Ok(Node::Regex {
        scope: None,
        regex: Box::new(regex),
    })
}
