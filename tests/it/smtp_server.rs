//! A small SMTP server for the tests: real SMTP over TCP on 127.0.0.1 — in the clear,
//! offering STARTTLS, or TLS from the first byte (SMTPS) — recording every message it
//! accepts, with scripted replies to DATA and an optional delay per message.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::tls::{Connection, TestCa};

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    /// Whether the message came over TLS.
    pub tls: bool,
}

impl Received {
    /// The parsed message.
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parseable message")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        // Unfold continuation lines, then find the header.
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    /// Replies to the next DATA commands, in order; 250 when empty.
    replies: Arc<Mutex<VecDeque<String>>>,
    delay: Arc<Mutex<Duration>>,
    connections: Arc<Mutex<usize>>,
    /// `user:password` of every AUTH PLAIN.
    logins: Arc<Mutex<Vec<String>>>,
    quits: Arc<Mutex<usize>>,
    /// (part of an address, reply) for RCPT commands the server refuses.
    refusals: Arc<Mutex<Vec<(String, String)>>>,
    /// The reply to AUTH when logins are refused.
    login_refusal: Arc<Mutex<Option<String>>>,
    /// Whether EHLO leaves out 8BITMIME and SMTPUTF8, as an older server does.
    ascii_only: Arc<Mutex<bool>>,
    tls: Option<Tls>,
}

/// How the server speaks TLS, with a certificate of a test authority's.
#[derive(Clone)]
enum Tls {
    /// Offered with STARTTLS.
    Offered(Arc<TestCa>),
    /// From the first byte (SMTPS).
    Implicit(Arc<TestCa>),
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::on(TcpListener::bind("127.0.0.1:0").expect("bind"))
    }

    /// A server that offers STARTTLS, with a certificate `ca` issued.
    pub fn starttls(ca: &Arc<TestCa>) -> SmtpServer {
        SmtpServer::with(
            TcpListener::bind("127.0.0.1:0").expect("bind"),
            Some(Tls::Offered(ca.clone())),
        )
    }

    /// A server speaking TLS from the first byte (`smtps://`), with a certificate `ca`
    /// issued.
    pub fn smtps(ca: &Arc<TestCa>) -> SmtpServer {
        SmtpServer::with(
            TcpListener::bind("127.0.0.1:0").expect("bind"),
            Some(Tls::Implicit(ca.clone())),
        )
    }

    /// A server on a listener made earlier (for "down, then up").
    pub fn on(listener: TcpListener) -> SmtpServer {
        SmtpServer::with(listener, None)
    }

    fn with(listener: TcpListener, tls: Option<Tls>) -> SmtpServer {
        let server = SmtpServer {
            tls,
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            replies: Arc::default(),
            delay: Arc::default(),
            connections: Arc::default(),
            logins: Arc::default(),
            quits: Arc::default(),
            refusals: Arc::default(),
            login_refusal: Arc::default(),
            ascii_only: Arc::default(),
        };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.session(stream));
            }
        });
        server
    }

    /// Scripts the replies to the next DATA commands, e.g. "451 4.3.0 try later".
    pub fn reply_with(&self, replies: &[&str]) {
        self.replies
            .lock()
            .unwrap()
            .extend(replies.iter().map(|r| r.to_string()));
    }

    /// Answers RCPT for addresses containing `part` with `reply`, e.g. "550 5.1.1 no
    /// such user".
    pub fn refuse_recipient(&self, part: &str, reply: &str) {
        self.refusals
            .lock()
            .unwrap()
            .push((part.to_owned(), reply.to_owned()));
    }

    /// Answers every AUTH with `reply` (e.g. "535 5.7.8 authentication failed"), or
    /// accepts logins again with `None`.
    pub fn refuse_logins(&self, reply: Option<&str>) {
        *self.login_refusal.lock().unwrap() = reply.map(str::to_owned);
    }

    /// Offers neither 8BITMIME nor SMTPUTF8 from now on: only ASCII may be sent.
    pub fn ascii_only(&self) {
        *self.ascii_only.lock().unwrap() = true;
    }

    /// Waits this long before answering each message's DATA.
    pub fn slow(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// How many SMTP connections were opened.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().unwrap().clone()
    }

    /// How many sessions ended with QUIT.
    pub fn quits(&self) -> usize {
        *self.quits.lock().unwrap()
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        let scheme = match self.tls {
            Some(Tls::Implicit(_)) => "smtps",
            _ => "smtp",
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn session(&self, stream: TcpStream) {
        *self.connections.lock().unwrap() += 1;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        match &self.tls {
            None => drop(self.dialogue(stream, false)),
            Some(Tls::Implicit(ca)) => drop(self.dialogue(ca.accept(stream), true)),
            Some(Tls::Offered(ca)) => {
                if let Some(plain) = self.dialogue(stream, false) {
                    // The client asked for STARTTLS: the dialogue starts again, over TLS.
                    drop(self.dialogue(ca.accept(plain), true));
                }
            }
        }
    }

    /// The SMTP dialogue on one connection; returns the connection when the client
    /// asked to start TLS on it.
    fn dialogue<S: Connection>(&self, stream: S, secure: bool) -> Option<S> {
        let offer_tls = !secure && matches!(self.tls, Some(Tls::Offered(_)));
        let mut reader = BufReader::new(stream);
        fn say(out: &mut impl Write, line: &str) -> bool {
            out.write_all(format!("{line}\r\n").as_bytes())
                .and_then(|()| out.flush())
                .is_ok()
        }
        if !secure || matches!(self.tls, Some(Tls::Implicit(_))) {
            say(reader.get_mut(), "220 test.local ESMTP ready");
        }
        let (mut from, mut to) = (String::new(), Vec::new());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return None;
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            let ok = if upper.starts_with("EHLO") {
                let eight_bit = !*self.ascii_only.lock().unwrap();
                say(reader.get_mut(), "250-test.local")
                    && (!offer_tls || say(reader.get_mut(), "250-STARTTLS"))
                    && (!eight_bit || say(reader.get_mut(), "250-8BITMIME"))
                    && (!eight_bit || say(reader.get_mut(), "250-SMTPUTF8"))
                    && say(reader.get_mut(), "250 AUTH PLAIN")
            } else if let Some(token) = upper.strip_prefix("AUTH PLAIN ").map(|_| &command[11..]) {
                // `\0user\0password`, in base64.
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(token.trim())
                    .unwrap_or_default();
                let parts: Vec<String> = decoded
                    .split(|&b| b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                self.logins.lock().unwrap().push(parts[1..].join(":"));
                let refusal = self.login_refusal.lock().unwrap().clone();
                say(
                    reader.get_mut(),
                    refusal.as_deref().unwrap_or("235 2.7.0 authenticated"),
                )
            } else if upper == "STARTTLS" && offer_tls {
                say(reader.get_mut(), "220 2.0.0 ready to start TLS");
                return Some(reader.into_inner());
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                say(reader.get_mut(), "250 ok")
            } else if upper.starts_with("RSET") {
                from.clear();
                to.clear();
                say(reader.get_mut(), "250 ok")
            } else if upper.starts_with("MAIL FROM:") {
                // A new transaction.
                from = command[10..].trim().to_owned();
                to.clear();
                say(reader.get_mut(), "250 ok")
            } else if upper.starts_with("RCPT TO:") {
                let address = command[8..].trim().to_owned();
                let refusal = self
                    .refusals
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(part, _)| address.contains(part.as_str()))
                    .map(|(_, reply)| reply.clone());
                match refusal {
                    Some(reply) => say(reader.get_mut(), &reply),
                    None => {
                        to.push(address);
                        say(reader.get_mut(), "250 ok")
                    }
                }
            } else if upper.starts_with("DATA") && to.is_empty() {
                say(reader.get_mut(), "554 5.5.1 no valid recipients")
            } else if upper.starts_with("DATA") {
                say(reader.get_mut(), "354 go ahead");
                let mut data = Vec::new();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l).unwrap_or(0) == 0 {
                        return None;
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    let l = l.strip_prefix('.').unwrap_or(&l);
                    data.extend_from_slice(l.as_bytes());
                }
                // (Read first: a guard in the sleep's argument would hold the lock
                // through the sleep, and `slow` would wait for it.)
                let delay = *self.delay.lock().unwrap();
                std::thread::sleep(delay);
                let reply = self
                    .replies
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| "250 2.0.0 queued".into());
                if reply.starts_with('2') {
                    self.received.lock().unwrap().push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        data,
                        tls: secure,
                    });
                }
                say(reader.get_mut(), &reply)
            } else if upper.starts_with("QUIT") {
                *self.quits.lock().unwrap() += 1;
                say(reader.get_mut(), "221 bye");
                return None;
            } else {
                say(reader.get_mut(), "502 5.5.1 unknown command")
            };
            if !ok {
                return None;
            }
        }
    }
}
