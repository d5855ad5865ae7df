//! The watch-rule lexer: query text to tokens, each with its 1-based column.

use std::fmt;

use super::Field;
use super::parse::{DEFAULT_NEAR, MAX_NEAR, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Near(u32),
    Scope(Field),
    Word(String),
    Phrase(String),
    Regex(String),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::And => f.write_str("`AND`"),
            Tok::Or => f.write_str("`OR`"),
            Tok::Not => f.write_str("`NOT`"),
            Tok::Minus => f.write_str("`-`"),
            Tok::Near(n) => write!(f, "`NEAR/{n}`"),
            Tok::Scope(field) => write!(f, "`{}:`", field.name()),
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Phrase(p) => write!(f, "`\"{p}\"`"),
            Tok::Regex(r) => write!(f, "`/{r}/`"),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Lexeme {
    pub(super) tok: Tok,
    pub(super) column: usize,
}

/// Characters that end a bare word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || is_quote(c)
}

/// Typographic quotation marks, which open and close a phrase as `"` does: a query
/// copied from a document or typed on a keyboard that writes them (`“peace talks”`,
/// `«мирные переговоры»`, `„Friedensgespräche“`) would otherwise be its words, each on
/// its own.
const TYPOGRAPHIC_QUOTES: [char; 5] = ['“', '”', '„', '«', '»'];

/// Whether `c` opens or closes a phrase.
fn is_quote(c: char) -> bool {
    c == '"' || TYPOGRAPHIC_QUOTES.contains(&c)
}

pub(super) fn lex(source: &str) -> Result<Vec<Lexeme>, ParseError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let push = |out: &mut Vec<Lexeme>, tok| out.push(Lexeme { tok, column });
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                push(&mut out, Tok::LParen);
                i += 1;
            }
            ')' => {
                push(&mut out, Tok::RParen);
                i += 1;
            }
            c if is_quote(c) => {
                // A straight quote closes at the next straight one; a typographic one at
                // the next typographic one, whichever (`“…”`, `„…“`, `«…»`, `»…«`).
                let closes = |q: &char| {
                    if c == '"' {
                        *q == '"'
                    } else {
                        TYPOGRAPHIC_QUOTES.contains(q)
                    }
                };
                let close = chars[i + 1..].iter().position(closes).ok_or_else(|| {
                    let closer = match c {
                        '"' => '"',
                        '«' => '»',
                        '»' => '«',
                        '„' => '“',
                        _ => '”',
                    };
                    ParseError::new(
                        column,
                        format!("unclosed quote: expected a closing `{closer}`"),
                    )
                })?;
                let text: String = chars[i + 1..i + 1 + close].iter().collect();
                push(&mut out, Tok::Phrase(text));
                i += close + 2;
            }
            '/' => {
                let mut pattern = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(ParseError::new(
                                column,
                                "unclosed regex: expected a closing `/`",
                            ));
                        }
                        Some('/') => break,
                        Some('\\') if chars.get(j + 1) == Some(&'/') => {
                            pattern.push('/');
                            j += 2;
                        }
                        Some(&c) => {
                            pattern.push(c);
                            j += 1;
                        }
                    }
                }
                push(&mut out, Tok::Regex(pattern));
                i = j + 1;
            }
            // A leading `-` excludes what follows it; inside a word ("co-operation") it
            // is part of the word.
            '-' if chars
                .get(i + 1)
                .is_some_and(|&n| !n.is_whitespace() && n != ')') =>
            {
                push(&mut out, Tok::Minus);
                i += 1;
            }
            _ => {
                let len = chars[i..].iter().take_while(|&&c| !ends_word(c)).count();
                let word: String = chars[i..i + len].iter().collect();
                match word_token(&word, column)? {
                    WordLex::Whole(tok) => {
                        push(&mut out, tok);
                        i += len;
                    }
                    WordLex::Scope(field, used) => {
                        push(&mut out, Tok::Scope(field));
                        i += used;
                    }
                }
            }
        }
    }
    Ok(out)
}

enum WordLex {
    Whole(Tok),
    /// A field scope that used this many characters (`title:`).
    Scope(Field, usize),
}

fn word_token(word: &str, column: usize) -> Result<WordLex, ParseError> {
    let tok = match word {
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "NOT" => Tok::Not,
        "NEAR" => Tok::Near(DEFAULT_NEAR),
        _ => {
            if let Some(n) = word.strip_prefix("NEAR/") {
                let too_far = || {
                    ParseError::new(
                        column + 5,
                        format!("`NEAR/{n}` is too far: at most {MAX_NEAR} words"),
                    )
                };
                let n: u32 = n.parse().map_err(|_| {
                    // Digits past what a number holds are a distance too far, too.
                    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                        too_far()
                    } else {
                        ParseError::new(column + 5, "expected a number of words after `NEAR/`")
                    }
                })?;
                if n > MAX_NEAR {
                    return Err(too_far());
                }
                Tok::Near(n)
            } else if let Some((name, _)) = word.split_once(':')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphabetic())
            {
                let field = Field::from_name(&name.to_ascii_lowercase()).ok_or_else(|| {
                    ParseError::new(
                        column,
                        format!(
                            "unknown field `{name}`: expected one of {} (put text with a colon in quotes)",
                            Field::NAMES
                        ),
                    )
                })?;
                return Ok(WordLex::Scope(field, name.chars().count() + 1));
            } else {
                Tok::Word(word.to_owned())
            }
        }
    };
    Ok(WordLex::Whole(tok))
}
