//! The `newshound` command line: parse arguments, start logging, load the config, run
//! the library, and map the outcome to the documented exit codes (0 ok, 1 runtime
//! failure, 2 bad config or usage; `test-rule` exits like grep).

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use newshound::commands::{self, FeedSample, Marker, RuleOutcome, Sample, Source};
use newshound::config::Config;
use newshound::rules::{Field, Query};
use newshound::store::{Store, unix_now};

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
    #[arg(long, global = true, env = "NEWSHOUND_CONFIG", value_name = "PATH", default_value = DEFAULT_CONFIG)]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every feed on its schedule, match, store and deliver alerts.
    ///
    /// Reloads the configuration on SIGHUP and when the config file or its includes
    /// change (an invalid edit is logged and the old configuration keeps running); stops
    /// cleanly on SIGTERM or SIGINT. Speaks sd_notify when started by systemd.
    Run,
    /// Fetch every feed now, match, store, deliver due alerts, print a summary, exit.
    ///
    /// Delivery keeps going for up to 30 s to let quick retries happen; what is still
    /// pending is listed with its last error. Exits 0 when the pass completed, even if
    /// some feeds or deliveries failed (the summary names them); 1 when the database is
    /// unusable or failed to store a feed (a full disk: the other feeds are still stored,
    /// the summary printed); 2 when the config is invalid or `--feed` names no configured
    /// feed.
    Once {
        /// Only this feed (its URL, `name` or own title; repeatable). A feed that
        /// answered 410 Gone, which is no longer polled, is tried again: if it answers,
        /// it is polled again.
        #[arg(long = "feed", value_name = "FEED")]
        feeds: Vec<String>,
    },
    /// Validate the configuration and its rules, and print a summary.
    ///
    /// Exits 0 when valid; 2 with `FILE:LINE:COL: message` on the first error. With
    /// `--database`, also reads the database (without changing it): what it holds, and
    /// whether SQLite finds it sound; exits 1 when it is damaged or too new.
    Check {
        /// Also check the database: schema, contents, and SQLite's quick check.
        #[arg(long)]
        database: bool,
    },
    /// Show each feed's state: status, stories stored, last fetch, next due, errors.
    Feeds {
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show stored hits, newest first, with their delivery state per channel.
    Hits {
        /// Only hits of this rule.
        #[arg(long, value_name = "RULE")]
        rule: Option<String>,
        /// Only hits detected within this long ("24h", "7d").
        #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
        since: std::time::Duration,
        /// Print one JSON array instead of a list.
        #[arg(long)]
        json: bool,
    },
    /// Try a watch-rule query on text, a feed file, a live feed or stored stories.
    ///
    /// Exits like grep: 0 when something matched, 1 when nothing did, 2 on an error: the
    /// query is invalid (the error names the column), or the feed or database could not
    /// be read.
    ///
    /// The language: words (`Peskov`), phrases (`"peace talks"`, or between `“ ”`, `„ “`,
    /// `« »`), prefixes (`embass*`), `AND` (or just a space), `OR`, `NOT` / `-`,
    /// `a NEAR/8 b` (at most 8 words between; `NEAR` alone is 10), `( )`, field scopes
    /// (`title:`, `summary:`, `content:`, `author:`, `category:`, `feed:`) and `/regex/`
    /// over folded text. Operators are upper-case: `or` is a word to find. Matching
    /// ignores case, accents and character width.
    #[command(name = "test-rule")]
    TestRule(TestRule),
    /// Put dead alerts back in the delivery queue, due now, with a fresh retry schedule.
    Requeue {
        /// Only alerts of this channel.
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<String>,
        /// Only the alert with this id (as the log and `hits --json` name it).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Also alerts waiting for a retry: send them now (after fixing a mail server,
        /// say), not at their next attempt, which may be hours away.
        #[arg(long)]
        waiting: bool,
        /// Move the alerts to this channel instead — every undelivered one of `--channel`
        /// (which may be gone from the config), or the one of `--id` — with new ids.
        #[arg(long, value_name = "CHANNEL")]
        to: Option<String>,
    },
    /// Write a consistent copy of the database to a new file, while newshound runs.
    ///
    /// Copying the database file alone while it is in use can miss what its write-ahead
    /// log holds; this copy holds everything, compacted. To restore: stop newshound, put
    /// the copy in place of the database (its -wal and -shm files removed), start it.
    Backup {
        /// The new file (never overwritten).
        file: PathBuf,
    },
    /// Send a sample alert through one channel now and report the server's answer.
    #[command(name = "send-test")]
    SendTest {
        /// The channel, as named in the config (`[channel.NAME]`).
        channel: String,
    },
    /// Print `[[feed]]` entries for the feeds of an OPML file, tagged with their folders,
    /// leaving out those the config lists already (the config is not changed).
    #[command(name = "import-opml")]
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
struct TestRule {
    /// The query, e.g. 'Ukrain* NEAR/12 (talks OR negotiat*)'.
    query: String,
    /// The text to match (the default source; read from standard input when no source is given).
    #[arg(long, value_name = "TEXT", group = "source")]
    text: Option<String>,
    /// Match the stories of a feed file (RSS, Atom or JSON Feed).
    #[arg(long, value_name = "FEED_FILE", group = "source")]
    file: Option<PathBuf>,
    /// Fetch a feed and match its stories.
    #[arg(long, value_name = "URL", group = "source", value_parser = newshound::config::http_url)]
    url: Option<url::Url>,
    /// Match the stories already stored in the database (see --since).
    #[arg(long, group = "source")]
    stored: bool,
    /// With --stored: stories first seen within this long.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration, requires = "stored")]
    since: std::time::Duration,
    /// With --text or standard input: the story field the text stands in.
    #[arg(long, value_name = "FIELD", default_value = "content", value_parser = parse_field)]
    field: Field,
    /// Print the result and the matched spans (byte offsets) as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_field(name: &str) -> Result<Field, String> {
    Field::from_name(name).ok_or_else(|| format!("expected one of {}", Field::NAMES))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e}; write e.g. \"24h\" or \"7d\""))
}

/// The Unix time `span` ago; a span longer than the clock has run reaches back before
/// everything stored (it does not wrap round to the far future).
fn ago(span: std::time::Duration) -> i64 {
    unix_now().saturating_sub(i64::try_from(span.as_secs()).unwrap_or(i64::MAX))
}

/// A failure with its exit code.
enum Failure {
    /// Bad config or usage: exit 2.
    Usage(String),
    /// Runtime failure: exit 1.
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Runtime(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs to stdout with the config's level, so it sets logging up itself.
    if !matches!(cli.command, Command::Run) {
        newshound::logging::init(newshound::logging::Target::Stderr, None);
    }
    match run(cli) {
        Ok(code) => code,
        // The reader of the output went away (`newshound hits | head`): it has what it
        // wanted, and there is no one to tell.
        Err(Failure::Runtime(error)) if commands::reader_gone(&error) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("newshound: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(error)) => {
            eprintln!(
                "newshound: {}",
                newshound::fetch::error_chain(error.as_ref())
            );
            ExitCode::from(1)
        }
    }
}

/// `requeue --to`: moves the undelivered alerts of a channel, or one alert, to another.
fn move_alerts(
    config: &Config,
    channel: Option<&str>,
    id: Option<&str>,
    to: &str,
) -> Result<ExitCode, Failure> {
    if config.channel_kind(to).is_none() {
        return Err(Failure::Usage(format!(
            "no channel `{to}` in the configuration"
        )));
    }
    if channel.is_none() && id.is_none() {
        return Err(Failure::Usage(
            "`--to` moves the alerts of one channel (`--channel`, which may be gone from the \
             config) or one alert (`--id`)"
                .to_owned(),
        ));
    }
    let mut store = open_existing(config)?;
    let which = newshound::store::Requeue {
        channel,
        id,
        waiting: true,
    };
    let (moved, kept) = store
        .move_alerts(which, to, unix_now())
        .map_err(anyhow::Error::from)?;
    if moved + kept == 0
        && let Some(id) = id
    {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "no undelivered alert with id {id} outside `{to}`; `newshound hits --json` shows each alert's id and state"
        )));
    }
    let plural = |n: usize| if n == 1 { "alert" } else { "alerts" };
    let mut out = commands::stdout();
    writeln!(
        out,
        "{moved} {} moved to `{to}`, due now; `newshound once` (or the daemon) delivers them",
        plural(moved)
    )?;
    if kept > 0 {
        writeln!(
            out,
            "{kept} {} left in place: `{to}` has the same alert queued already",
            plural(kept)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|e| {
        // No file at all: most often the default path on a machine without one yet.
        let hint = if path.exists() {
            ""
        } else {
            "\nnewshound: name the configuration with --config PATH or NEWSHOUND_CONFIG; \
             config/newshound.toml in newshound's source is an annotated example"
        };
        Failure::Usage(format!("{e}{hint}"))
    })
}

/// The URLs of the config's feeds, for `import-opml` to leave out: none when there is
/// no config at `path` yet, or (said on stderr) when it cannot be read.
fn configured_feeds(path: &Path) -> Vec<String> {
    if !path.exists() {
        return Vec::new();
    }
    match Config::load(path) {
        Ok(config) => config.feeds.iter().map(|f| f.url.to_string()).collect(),
        Err(error) => {
            eprintln!(
                "newshound: {error}\nnewshound: (the config cannot be read, so feeds it lists \
                 are not left out)"
            );
            Vec::new()
        }
    }
}

/// Opens the configuration's database for a command that reads it or mends its queue
/// (`feeds`, `hits`, `test-rule --stored`, `requeue`), never migrating it
/// ([`Store::open_existing`]). One that does not exist yet is not created but read as
/// empty, and said so on stderr: a mistyped `[storage] path` would otherwise answer "no
/// hits" from a new, empty database, and a command run with `sudo` before the service's
/// first start leave it one owned by root.
fn open_existing(config: &Config) -> Result<Store, Failure> {
    let path = &config.storage.path;
    let store = if let Ok(false) = path.try_exists() {
        eprintln!(
            "newshound: there is no database at {} yet: nothing has been stored with this \
             configuration (`once` or `run` creates it)",
            path.display()
        );
        Store::open_in_memory()
    } else {
        Store::open_existing(path)
    };
    Ok(store.map_err(anyhow::Error::from)?)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?)
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Run => {
            let config = load_config(&cli.config)?;
            newshound::logging::init(
                newshound::logging::Target::Stdout,
                config.log_level.as_deref(),
            );
            runtime()?.block_on(run_daemon(cli.config.clone(), config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { database } => {
            let config = load_config(&cli.config)?;
            let mut out = commands::stdout();
            write!(out, "{config}")?;
            for (channel, error) in config.unreadable_secrets() {
                writeln!(
                    out,
                    "  note: channel `{channel}`: {error}; it is read when a message is sent, \
                     and the service must be able to (a LoadCredential= file exists only there)"
                )?;
            }
            for warning in config.warnings(&newshound::store::stored(&config.storage.path)) {
                writeln!(out, "  warning: {warning}")?;
            }
            if database {
                commands::check_database(&config.storage.path, &mut out)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Once { feeds } => {
            let config = load_config(&cli.config)?;
            let only = if feeds.is_empty() {
                None
            } else {
                let titles = newshound::store::stored(&config.storage.path).titles;
                Some(
                    config
                        .feeds_named(&feeds, &titles)
                        .map_err(Failure::Usage)?,
                )
            };
            let mut out = commands::Watched(io::stdout());
            runtime()?.block_on(commands::once(config, only, &mut out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds { json } => {
            let config = load_config(&cli.config)?;
            let store = open_existing(&config)?;
            commands::feeds(&config, &store, json, &mut commands::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hits { rule, since, json } => {
            let config = load_config(&cli.config)?;
            let store = open_existing(&config)?;
            // A misspelt rule would list "no hits", as if it had found nothing.
            if let Some(name) = &rule
                && !config.rules.iter().any(|r| &r.name == name)
                && !store.has_hits_of(name).map_err(anyhow::Error::from)?
            {
                let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
                return Err(Failure::Usage(format!(
                    "no rule is called {name:?}, in the config or among the hits stored; the \
                     config's rules: {}",
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            let since = ago(since);
            commands::hits(
                &store,
                rule.as_deref(),
                since,
                json,
                &mut commands::stdout(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportOpml { file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let configured = configured_feeds(&cli.config);
            let configured: Vec<&str> = configured.iter().map(String::as_str).collect();
            commands::import_opml(&bytes, &configured, &mut commands::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        // Exits like grep: an error is 2, never the 1 of "nothing matched", so that a
        // script cannot take a feed that could not be read for one without a match.
        Command::TestRule(args) => test_rule(&cli.config, args).map_err(|failure| match failure {
            Failure::Runtime(error) if !commands::reader_gone(&error) => {
                Failure::Usage(newshound::fetch::error_chain(error.as_ref()))
            }
            other => other,
        }),
        Command::Backup { file } => {
            let config = load_config(&cli.config)?;
            let bytes = newshound::store::backup(&config.storage.path, &file)
                .map_err(anyhow::Error::from)?;
            writeln!(
                commands::stdout(),
                "copied the database {} to {} ({})",
                config.storage.path.display(),
                file.display(),
                bytesize::ByteSize(bytes)
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Requeue {
            channel,
            id,
            waiting,
            to,
        } => {
            let config = load_config(&cli.config)?;
            if let Some(to) = to {
                return move_alerts(&config, channel.as_deref(), id.as_deref(), &to);
            }
            if let Some(c) = &channel
                && config.channel_kind(c).is_none()
            {
                return Err(Failure::Usage(format!(
                    "no channel `{c}` in the configuration"
                )));
            }
            let mut store = open_existing(&config)?;
            let which = newshound::store::Requeue {
                channel: channel.as_deref(),
                id: id.as_deref(),
                waiting,
            };
            let count = store
                .requeue(which, unix_now())
                .map_err(anyhow::Error::from)?;
            let what = match (waiting, count) {
                (true, 1) => "dead or waiting alert",
                (true, _) => "dead or waiting alerts",
                (false, 1) => "dead alert",
                (false, _) => "dead alerts",
            };
            if count == 0
                && let Some(id) = &id
            {
                let hint = if waiting {
                    ""
                } else {
                    " (add --waiting for one waiting for a retry)"
                };
                return Err(Failure::Runtime(anyhow::anyhow!(
                    "no {what} with id {id}{hint}; `newshound hits --json` shows each alert's id and state"
                )));
            }
            writeln!(
                commands::stdout(),
                "{count} {what} put back in the queue; `newshound once` (or the daemon) delivers them"
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::SendTest { channel } => {
            let config = load_config(&cli.config)?;
            if config.channel_kind(&channel).is_none() {
                return Err(Failure::Usage(format!(
                    "no channel `{channel}` in the configuration"
                )));
            }
            let rt = runtime()?;
            let outcome = rt.block_on(commands::send_test(config, &channel))?;
            match outcome.error() {
                None => {
                    writeln!(commands::stdout(), "sent a test alert through `{channel}`")?;
                    Ok(ExitCode::SUCCESS)
                }
                Some(error) => Err(Failure::Runtime(anyhow::anyhow!(
                    "sending through `{channel}` failed: {error}"
                ))),
            }
        }
    }
}

/// Tells on stderr (stdout holds the matches, or the JSON) what reading a feed for
/// `test-rule` took: a feed read only in part, say, holds more stories than it shows.
fn tell_repairs(feed: &str, repairs: &[String]) {
    if !repairs.is_empty() {
        eprintln!(
            "newshound: {feed}: read with repairs: {}",
            repairs.join("; ")
        );
    }
}

fn test_rule(config_path: &Path, args: TestRule) -> Result<ExitCode, Failure> {
    let query = Query::parse(&args.query)
        .map_err(|e| Failure::Usage(commands::describe_query_error(&args.query, &e)))?;
    for note in query.notes() {
        eprintln!("newshound: {note}");
    }
    for hint in query.hints() {
        eprintln!("newshound: hint: {hint}");
    }
    let marker = if io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Marker::Ansi
    } else {
        Marker::Brackets
    };
    let mut out = commands::stdout();
    let outcome = if let Some(path) = &args.file {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let feed =
            newshound::story::parse_feed(&bytes, None, None, newshound::story::LOCAL_FILE_LIMIT)
                .with_context(|| format!("{}", path.display()))?;
        let shown = path.display().to_string();
        let sample = FeedSample::of(&feed, &shown);
        tell_repairs(&shown, &sample.repairs);
        commands::test_rule_stories(&query, sample.sources, args.json, marker, &mut out)?
    } else if let Some(url) = &args.url {
        // The config's fetch settings when there is a valid config (with the feed's own
        // `max_body` when it is a configured feed), else the defaults.
        let fetch = Config::load(config_path)
            .map(|c| {
                let own = c.feeds.iter().find(|f| &f.url == url).map(|f| f.max_body);
                newshound::config::Fetch {
                    max_body: own.unwrap_or(c.fetch.max_body),
                    ..c.fetch
                }
            })
            .unwrap_or_default();
        let sample = runtime()?.block_on(commands::fetch_stories(&fetch, url))?;
        tell_repairs(url.as_str(), &sample.repairs);
        commands::test_rule_stories(&query, sample.sources, args.json, marker, &mut out)?
    } else if args.stored {
        let config = load_config(config_path)?;
        let store = open_existing(&config)?;
        let since = ago(args.since);
        store
            .with_stories_since(since, |stories| {
                commands::test_rule_stories(
                    &query,
                    stories.map(Source::from_stored),
                    args.json,
                    marker,
                    &mut out,
                )
            })
            .map_err(anyhow::Error::from)??
    } else {
        let text = match args.text {
            Some(text) => text,
            None => read_stdin_text()?,
        };
        commands::test_rule(
            &query,
            &Sample {
                field: args.field,
                text,
            },
            args.json,
            marker,
            &mut out,
        )?
    };
    Ok(match outcome {
        RuleOutcome::Matched => ExitCode::SUCCESS,
        RuleOutcome::NoMatch => ExitCode::from(1),
    })
}

fn read_stdin_text() -> Result<String, Failure> {
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
    Ok(text)
}

/// Runs the daemon with the process's signals: SIGTERM and SIGINT stop it, SIGHUP and
/// edits of the config files reload it.
async fn run_daemon(path: PathBuf, config: Config) -> anyhow::Result<()> {
    use newshound::daemon::{self, ReloadReason};
    use tokio::signal::unix::{SignalKind, signal};
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (reload_tx, reload_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let stop = shutdown.clone();
    let signal_tx = reload_tx.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM received"); stop.cancel(); return; }
                _ = int.recv() => { tracing::info!("SIGINT received"); stop.cancel(); return; }
                _ = hup.recv() => { let _ = signal_tx.send(ReloadReason::Signal); }
            }
        }
    });
    daemon::run(path, config, shutdown, (reload_tx, reload_rx), true).await
}
