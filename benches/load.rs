//! The load harness: N feeds served from a local HTTP server (the corpus replicated under
//! distinct URLs), `newshound once` against them — all changed, then all answering 304,
//! then all sending the same bodies again with their validators ignored, then new bodies
//! holding the same stories — and optionally `newshound run` idling over 1,000 of them.
//!
//! ```sh
//! cargo build --release && cargo bench --bench load
//! LOAD_FEEDS=2000 LOAD_IDLE_SECS=600 cargo bench --bench load   # with the idle run
//! ```
//!
//! Figures: wall time; CPU seconds of the newshound process (user + system, from
//! `/proc/self/stat`'s children times); peak RSS (VmHWM, polled).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Feed documents of the corpus that parse: realistic sizes and shapes.
fn documents() -> Vec<Vec<u8>> {
    common::corpus_files()
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|bytes| {
            newshound::story::parse_feed(bytes, None, None, 10 << 20)
                .is_ok_and(|f| !f.stories.is_empty())
        })
        .collect()
}

/// Whether the server answers 304 to the ETag it issued (servers that ignore
/// conditional requests send the whole body every time).
static HONOUR_VALIDATORS: AtomicBool = AtomicBool::new(true);

/// How many newlines follow each document: raising it changes every body (and its ETag)
/// without changing a story — a feed whose channel date moves on every build does that.
static REVISION: AtomicU64 = AtomicU64::new(0);

/// Serves `/feed{i}` from the documents, with an ETag, answering 304 to it while
/// [`HONOUR_VALIDATORS`].
fn serve(documents: Arc<Vec<Vec<u8>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let documents = documents.clone();
            std::thread::spawn(move || handle(stream, &documents));
        }
    });
    base
}

fn handle(stream: TcpStream, documents: &[Vec<u8>]) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut etag_sent = None;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("if-none-match")
            {
                etag_sent = Some(v.trim().to_owned());
            }
        }
        let index: usize = path.trim_start_matches("/feed").parse().unwrap_or(0);
        let revision = REVISION.load(Ordering::Relaxed);
        let etag = format!("\"v{index}-{revision}\"");
        let written = if etag_sent.as_deref() == Some(etag.as_str())
            && HONOUR_VALIDATORS.load(Ordering::Relaxed)
        {
            out.write_all(
                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n")
                    .as_bytes(),
            )
        } else {
            let body = &documents[index % documents.len()];
            let padding = "\n".repeat(revision as usize);
            out.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nETag: {etag}\r\nContent-Length: {}\r\n\r\n", body.len() + padding.len())
                    .as_bytes(),
            )
            .and_then(|()| out.write_all(body))
            .and_then(|()| out.write_all(padding.as_bytes()))
        };
        if written.is_err() {
            return;
        }
    }
}

/// Every feed of the harness lives on one host (the local server), so `per_host` is
/// raised to the global limit: otherwise politeness alone would serialise the pass.
fn write_config(
    dir: &Path,
    base: &str,
    feeds: usize,
    rules: &[newshound::rules::Query],
) -> PathBuf {
    let mut config = String::from(
        "[storage]\npath = \"load.db\"\n[alerts]\nmax_age = \"1s\"\n[fetch]\ntimeout = \"60s\"\nper_host = 32\n\n",
    );
    for i in 0..feeds {
        config.push_str(&format!("[[feed]]\nurl = \"{base}/feed{i}\"\n"));
    }
    for (i, rule) in rules.iter().enumerate() {
        config.push_str(&format!(
            "[[rule]]\nname = \"rule {i}\"\nquery = '''{}'''\n",
            rule.source()
        ));
    }
    let path = dir.join("load.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// CPU seconds (user + system) of this process's waited-for children.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command name: field 3 is index 0, so cutime (16) and cstime (17) are 13, 14.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / 100.0
}

fn proc_value(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// The release binary, or the one `LOAD_BINARY` names (to compare two builds).
fn binary() -> PathBuf {
    let path = std::env::var_os("LOAD_BINARY").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/newshound"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "build the release binary first: cargo build --release"
    );
    path
}

struct Run {
    wall: f64,
    cpu: f64,
    peak_rss: u64,
}

fn once(config: &Path) -> Run {
    let cpu_before = children_cpu();
    let start = Instant::now();
    let mut child = Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "once"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let poll = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            while let Some(rss) = proc_value(pid, "VmHWM:") {
                peak.fetch_max(rss, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut summary = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut summary)
        .unwrap();
    let status = child.wait().unwrap();
    poll.join().unwrap();
    assert!(status.success(), "once failed: {summary}");
    println!("{}", summary.lines().take(2).collect::<Vec<_>>().join("\n"));
    Run {
        wall: start.elapsed().as_secs_f64(),
        cpu: children_cpu() - cpu_before,
        peak_rss: peak.load(Ordering::Relaxed),
    }
}

fn report(label: &str, feeds: usize, run: &Run) {
    println!(
        "{label}: {feeds} feeds, wall {:.2} s, CPU {:.2} s = {:.3} ms per feed, peak RSS {:.1} MB",
        run.wall,
        run.cpu,
        run.cpu * 1000.0 / feeds as f64,
        run.peak_rss as f64 / 1e6
    );
}

fn main() {
    let feeds = env_number("LOAD_FEEDS", 2000) as usize;
    let idle_secs = env_number("LOAD_IDLE_SECS", 0);
    let documents = documents();
    if documents.is_empty() {
        eprintln!(
            "no corpus under {}: set NEWSHOUND_CORPUS",
            common::corpus_dir().display()
        );
        return;
    }
    let bytes: usize = (0..feeds)
        .map(|i| documents[i % documents.len()].len())
        .sum();
    println!(
        "{} corpus documents replicated to {feeds} feeds, {:.1} MB per pass",
        documents.len(),
        bytes as f64 / 1e6
    );
    let base = serve(Arc::new(documents));
    let rules = common::generate_rules(1000, &common::vocabulary(&common::load_stories()));
    let dir = tempfile::tempdir().unwrap();

    let config = write_config(dir.path(), &base, feeds, &rules);
    report("changed", feeds, &once(&config));
    report("all 304", feeds, &once(&config));
    HONOUR_VALIDATORS.store(false, Ordering::Relaxed);
    report(
        "the same bodies again, validators ignored",
        feeds,
        &once(&config),
    );
    HONOUR_VALIDATORS.store(true, Ordering::Relaxed);
    REVISION.store(1, Ordering::Relaxed);
    report("new bodies, the same stories", feeds, &once(&config));

    if idle_secs > 0 {
        // 1,000 feeds whose validators are stored, then the daemon left alone.
        let idle_dir = tempfile::tempdir().unwrap();
        let config = write_config(idle_dir.path(), &base, 1000, &rules);
        once(&config);
        let mut child = Command::new(binary())
            .args(["--config", config.to_str().unwrap(), "run"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let cpu_of = |pid: u32| -> f64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            (fields
                .get(11)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
                + fields
                    .get(12)
                    .and_then(|f| f.parse::<f64>().ok())
                    .unwrap_or(0.0))
                / 100.0
        };
        let start = Instant::now();
        let mut peak = 0;
        let mut samples = Vec::new();
        while start.elapsed() < Duration::from_secs(idle_secs) {
            std::thread::sleep(Duration::from_secs(5));
            let rss = proc_value(pid, "VmRSS:").unwrap_or(0);
            peak = peak.max(rss);
            samples.push(rss);
        }
        let cpu = cpu_of(pid);
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = child.wait();
        let wall = start.elapsed().as_secs_f64();
        let last = samples.last().copied().unwrap_or(0);
        println!(
            "idle run: 1000 feeds, 1000 rules, {wall:.0} s: CPU {cpu:.2} s = {:.2}% of a core, RSS at end {:.1} MB, peak {:.1} MB",
            cpu * 100.0 / wall,
            last as f64 / 1e6,
            peak as f64 / 1e6
        );
    }
}
