//! An origin whose answers the test scripts per path (status, headers, body, interim 1xx
//! responses written before the final one), on plain threads with raw sockets, recording every
//! request it receives: what the cache's HTTP semantics are tested against.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Clone, Debug, Default)]
pub struct Script {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Interim responses sent first, each `(status, headers)`.
    pub interim: Vec<(u16, Vec<(String, String)>)>,
    /// Close the connection without answering, like an origin that failed.
    pub disconnect: bool,
    /// How long the origin waits between its interim responses and the final one.
    pub pause: Duration,
}

impl Script {
    pub fn new(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Self {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            interim: Vec::new(),
            disconnect: false,
            pause: Duration::ZERO,
        }
    }

    /// No answer: the connection is closed once the request is read.
    pub fn disconnect() -> Self {
        Self {
            disconnect: true,
            ..Self::default()
        }
    }

    pub fn with_interim(mut self, status: u16, headers: &[(&str, &str)]) -> Self {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        self.interim.push((status, headers));
        self
    }

    /// Waits `pause` after the interim responses before the final one.
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }
}

/// A request as the origin received it: method, path with query, headers (names lower-case).
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Scripts = Arc<Mutex<HashMap<String, Script>>>;

pub struct ScriptedOrigin {
    pub address: String,
    scripts: Scripts,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ScriptedOrigin {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let scripts = Scripts::default();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (scripts.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (s, r) = (s.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &s, &r);
                });
            }
        });
        Self {
            address,
            scripts,
            received,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Answers requests for `path` (path and query, exactly) with `script` from now on.
    pub fn script(&self, path: &str, script: Script) {
        self.scripts.lock().unwrap().insert(path.to_owned(), script);
    }

    /// The requests for `path` received so far (health checks are on other paths).
    pub fn received(&self, path: &str) -> Vec<Received> {
        let all = self.received.lock().unwrap();
        all.iter().filter(|r| r.path == path).cloned().collect()
    }
}

fn serve(
    stream: TcpStream,
    scripts: &Scripts,
    received: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0usize);
        reader.read_exact(&mut vec![0u8; length])?;
        let head = method == "HEAD";
        let script = scripts.lock().unwrap().get(&path).cloned();
        received.lock().unwrap().push(Received {
            method,
            path,
            headers,
        });
        let script = script.unwrap_or_else(|| Script::new(200, &[], "ready"));
        if script.disconnect {
            return Ok(());
        }
        if script.pause.is_zero() {
            writer.write_all(&[encode_interim(&script), encode_final(&script, head)].concat())?;
        } else {
            writer.write_all(&encode_interim(&script))?;
            std::thread::sleep(script.pause);
            writer.write_all(&encode_final(&script, head))?;
        }
    }
}

fn encode_interim(script: &Script) -> Vec<u8> {
    let mut out = String::new();
    for (status, headers) in &script.interim {
        out.push_str(&format!("HTTP/1.1 {status} Interim\r\n"));
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
    }
    out.into_bytes()
}

fn encode_final(script: &Script, head: bool) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(&format!("HTTP/1.1 {} Scripted\r\n", script.status));
    for (name, value) in &script.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", script.body.len()));
    if !head {
        out.push_str(&script.body);
    }
    out.into_bytes()
}
