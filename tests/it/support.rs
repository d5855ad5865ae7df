//! Helpers shared by the end-to-end tests: running the binary, a real HTTP server on
//! 127.0.0.1, and scratch folders with a config.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tls::{Connection, TestCa};

/// Runs the real `newshound` binary with `args`, feeding `stdin` when given.
pub fn newshound(args: &[&str], stdin: Option<&str>) -> Output {
    newshound_with(args, stdin, &[])
}

/// [`newshound`] with extra environment variables.
pub fn newshound_with(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newshound"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NEWSHOUND_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the newshound binary starts");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes())
            .expect("stdin accepts the text");
    }
    drop(pipe);
    child.wait_with_output().expect("newshound runs to the end")
}

/// Asserts a command's exit code, showing its output when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `warning:` lines of `check`'s output.
pub fn check_warnings(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.strip_prefix("  warning: "))
        .collect()
}

/// The project's own feed fixtures.
/// The row of `newshound feeds --json` for the feed at `url`.
pub fn feed_row<'a>(feeds: &'a serde_json::Value, url: &str) -> &'a serde_json::Value {
    feeds
        .as_array()
        .expect("feeds --json prints an array")
        .iter()
        .find(|f| f["url"] == url)
        .unwrap_or_else(|| panic!("no feed {url} in {feeds}"))
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A request as the test server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What the test server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Send no Content-Length: the body ends when the connection closes.
    pub no_length: bool,
    /// Send the body one byte at a time, this long apart.
    pub drip: Option<Duration>,
    /// Promise the whole body, send this many bytes, and close.
    pub cut_after: Option<usize>,
}

impl Reply {
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            delay: None,
            no_length: false,
            drip: None,
            cut_after: None,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: None,
            no_length: false,
            drip: None,
            cut_after: None,
        }
    }

    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    pub fn dripping(mut self, every: Duration) -> Reply {
        self.drip = Some(every);
        self
    }

    pub fn cut_after(mut self, bytes: usize) -> Reply {
        self.cut_after = Some(bytes);
        self
    }

    pub fn without_length(mut self) -> Reply {
        self.no_length = true;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A real HTTP/1.1 server on 127.0.0.1 (port 0), one thread per connection, that
/// records every request. It stops when the test process ends.
#[derive(Clone)]
pub struct TestServer {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

/// A loopback port that refuses connections — bound, not listening — and stays taken
/// while this lives, so no other test's server can be given it meanwhile.
pub struct RefusingPort(socket2::Socket);

impl RefusingPort {
    pub fn new() -> RefusingPort {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a TCP socket");
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&any.into()).expect("bind 127.0.0.1:0");
        RefusingPort(socket)
    }

    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().as_socket().unwrap().port()
    }

    /// Starts listening on the same socket: from now on the port accepts.
    pub fn listen(self) -> TcpListener {
        self.0.listen(128).expect("listen");
        self.0.into()
    }
}

impl TestServer {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::on(listener, handler)
    }

    /// A server on a listener of the caller's (a [`RefusingPort`] that came up).
    pub fn on(
        listener: TcpListener,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        TestServer::serving(listener, None, Arc::new(handler))
    }

    /// [`TestServer::start`] over HTTPS, with a certificate `ca` issued.
    pub fn tls(
        ca: &Arc<TestCa>,
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::serving(listener, Some(ca.clone()), Arc::new(handler))
    }

    fn serving(
        listener: TcpListener,
        tls: Option<Arc<TestCa>>,
        handler: Arc<Handler>,
    ) -> TestServer {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, seen, tls) = (handler.clone(), seen.clone(), tls.clone());
                std::thread::spawn(move || {
                    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
                    match tls {
                        Some(ca) => serve(ca.accept(stream), &*handler, &seen),
                        None => serve(stream, &*handler, &seen),
                    }
                });
            }
        });
        TestServer { base, requests }
    }

    /// A server answering each path from a map of (content type, body).
    pub fn files(files: Vec<(&str, &str, Vec<u8>)>) -> TestServer {
        let files: HashMap<String, (String, Vec<u8>)> = files
            .into_iter()
            .map(|(path, ct, body)| (path.to_owned(), (ct.to_owned(), body)))
            .collect();
        TestServer::start(move |req| match files.get(&req.path) {
            Some((ct, body)) => Reply::ok(ct, body.clone()),
            None => Reply::status(404),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The bodies received so far, each read as JSON (a webhook receiver's).
    pub fn json_bodies(&self) -> Vec<serde_json::Value> {
        self.requests()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

fn serve(stream: impl Connection, handler: &Handler, seen: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let method = line.split_whitespace().next().unwrap_or("GET").to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body = vec![0; len];
        reader.read_exact(&mut body).ok();
    }
    let request = Request {
        method,
        path,
        headers,
        body,
    };
    seen.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    if let Some(delay) = reply.delay {
        std::thread::sleep(delay);
    }
    let out = reader.get_mut();
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    if !reply.no_length {
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes()).ok();
    if let Some(every) = reply.drip {
        for byte in &reply.body {
            if out.write_all(&[*byte]).and_then(|()| out.flush()).is_err() {
                return;
            }
            std::thread::sleep(every);
        }
        return;
    }
    let body = match reply.cut_after {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    out.write_all(body).ok();
    out.flush().ok();
}

/// A scratch folder holding a config file (and the database beside it).
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace whose `newshound.toml` is `config`.
    pub fn new(config: &str) -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("newshound.toml"), config).expect("write config");
        Workspace { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("newshound.toml")
    }

    pub fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create folder");
        std::fs::write(path, text).expect("write file");
    }

    /// Creates the database (`newshound.db`, where the config puts it by default) as a
    /// first run would, empty.
    pub fn create_database(&self) {
        newshound::store::Store::open(&self.dir.path().join("newshound.db")).expect("database");
    }

    /// Runs `newshound --config <this> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`Workspace::run`] with extra environment variables (`RUST_LOG`, say).
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let config = self.config();
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        newshound_with(&all, None, env)
    }

    /// `newshound --config <this> ARGS`, to run where no file may grow past `kib` KiB
    /// (RLIMIT_FSIZE): writes fail with EFBIG, as on a disk with no room left. SIGXFSZ
    /// is ignored so that such a write fails instead of killing the process.
    pub fn command_on_a_full_disk(&self, kib: u32, args: &[&str]) -> Command {
        let blocks = kib * 2; // of 512 bytes
        let mut command = Command::new("sh");
        command
            .args([
                "-c",
                &format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""),
            ])
            .arg(env!("CARGO_BIN_EXE_newshound"))
            .arg("--config")
            .arg(self.config())
            .args(args);
        command
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} failed:\n{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Runs a command with `--json` that must succeed, and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).expect("valid JSON output")
    }
}

/// Whether an error says the disk is full, as SQLite tells a write that could not grow
/// its file (on a full disk, or past RLIMIT_FSIZE).
pub fn says_disk_full(text: &str) -> bool {
    text.contains("database or disk is full") || text.contains("disk I/O error")
}
