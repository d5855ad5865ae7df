//! The `newshound` command line: parse arguments, run the library, map the outcome to
//! the documented exit codes (0 ok, 1 runtime failure, 2 bad config or usage;
//! `test-rule` exits like grep).

use std::io::{self, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use newshound::commands::{self, Marker, RuleOutcome, Sample};
use newshound::rules::{Field, Query};

const DEFAULT_CONFIG: &str = "/etc/newshound/newshound.toml";

/// Watch news feeds for the stories you care about, and get alerted.
///
/// newshound polls RSS, Atom and JSON feeds, recognises each story once, matches it
/// against watch rules written in a boolean query language, stores every hit in SQLite
/// and alerts by email or webhook.
#[derive(Debug, Parser)]
#[command(name = "newshound", version, about, long_about)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "NEWSHOUND_CONFIG",
        value_name = "PATH",
        default_value = DEFAULT_CONFIG
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Try a watch-rule query on a piece of text and show the words it matched.
    ///
    /// Exits like grep: 0 when the query matched, 1 when it did not, 2 when the query is
    /// invalid (the error names the column).
    ///
    /// The language: words (`Peskov`), phrases (`"peace talks"`), prefixes (`embass*`),
    /// `AND` (or just a space), `OR`, `NOT` / `-`, `a NEAR/8 b` (at most 8 words between;
    /// `NEAR` alone is 10), `( )`, field scopes (`title:`, `summary:`, `content:`,
    /// `author:`, `category:`, `feed:`) and `/regex/` over folded text. Matching ignores
    /// case, accents and character width.
    #[command(name = "test-rule")]
    TestRule {
        /// The query, e.g. 'Ukrain* NEAR/12 (talks OR negotiat*)'.
        query: String,
        /// The text to match; read from standard input when absent.
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// The story field the text stands in.
        #[arg(long, value_name = "FIELD", default_value = "content", value_parser = parse_field)]
        field: Field,
        /// Print the result and the matched spans (byte offsets) as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_field(name: &str) -> Result<Field, String> {
    Field::from_name(name).ok_or_else(|| format!("expected one of {}", Field::NAMES))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("newshound: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::TestRule {
            query,
            text,
            field,
            json,
        } => {
            let parsed = match Query::parse(&query) {
                Ok(parsed) => parsed,
                Err(error) => {
                    eprintln!(
                        "newshound: {}",
                        commands::describe_query_error(&query, &error)
                    );
                    return Ok(ExitCode::from(2));
                }
            };
            let text = match text {
                Some(text) => text,
                None => {
                    let mut bytes = Vec::new();
                    io::stdin()
                        .read_to_end(&mut bytes)
                        .context("reading the text from standard input")?;
                    let mut text = String::from_utf8_lossy(&bytes).into_owned();
                    // `echo ... |` adds a line end that is not part of the text.
                    if text.ends_with('\n') {
                        text.pop();
                        if text.ends_with('\r') {
                            text.pop();
                        }
                    }
                    text
                }
            };
            let stdout = io::stdout();
            let marker = if stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                Marker::Ansi
            } else {
                Marker::Brackets
            };
            let sample = Sample { field, text };
            let outcome = commands::test_rule(&parsed, &sample, json, marker, &mut stdout.lock())
                .context("writing the result")?;
            Ok(match outcome {
                RuleOutcome::Matched => ExitCode::SUCCESS,
                RuleOutcome::NoMatch => ExitCode::from(1),
            })
        }
    }
}
