//! An origin for the RFC 9111 flow tests: a bare HTTP/1.1 server on plain threads that answers
//! every request (but `/readyz`, always 200) with the reply the test set last, records the
//! request headers it received, and can drop connections without answering, like a failing
//! origin. Also the requests and dates those tests make.

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix_web::http::header::HttpDate;
use reqwest::header::HeaderMap;
use test_support::balancer::client;

/// Status, headers and body of a GET with `headers`.
pub async fn fetch_with(url: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, String) {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

pub async fn fetch(url: &str) -> (u16, HeaderMap, String) {
    fetch_with(url, &[]).await
}

/// The value of response header `name`, or "".
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

/// An IMF-fixdate `offset` seconds from now.
pub fn http_date(offset: i64) -> String {
    let now = SystemTime::now();
    let at = if offset >= 0 {
        now + Duration::from_secs(offset.unsigned_abs())
    } else {
        now - Duration::from_secs(offset.unsigned_abs())
    };
    HttpDate::from(at).to_string()
}

/// What the origin answers next.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// A 200 with `headers` and `body`.
    pub fn ok(headers: &[(&str, &str)], body: &str) -> Self {
        Self::with_status(200, headers, body)
    }

    pub fn with_status(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Self {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_owned(),
        }
    }
}

#[derive(Default)]
struct Script {
    reply: Option<Reply>,
    disconnect: bool,
    /// Headers of each request received (names lowercased), oldest first.
    requests: Vec<Vec<(String, String)>>,
}

pub struct ScriptedOrigin {
    pub address: String,
    script: Arc<Mutex<Script>>,
}

impl ScriptedOrigin {
    pub fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let script = Arc::new(Mutex::new(Script {
            reply: Some(reply),
            ..Script::default()
        }));
        let shared = script.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let script = shared.clone();
                std::thread::spawn(move || serve(stream, &script));
            }
        });
        Self { address, script }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The reply to every later request.
    pub fn answer(&self, reply: Reply) {
        self.script.lock().unwrap().reply = Some(reply);
    }

    /// Close every later connection without answering (a failed origin), or stop doing so.
    pub fn disconnect(&self, on: bool) {
        self.script.lock().unwrap().disconnect = on;
    }

    /// How many requests (not health checks) arrived.
    pub fn hits(&self) -> usize {
        self.script.lock().unwrap().requests.len()
    }

    /// The value of `name` in the last request, if it carried one.
    pub fn last_request_header(&self, name: &str) -> Option<String> {
        let script = self.script.lock().unwrap();
        let last = script.requests.last()?;
        last.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

fn serve(stream: TcpStream, script: &Mutex<Script>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let reply = if request_line.contains(" /readyz ") {
            Reply::ok(&[], "ready")
        } else {
            let mut script = script.lock().unwrap();
            script.requests.push(headers);
            if script.disconnect {
                return;
            }
            script.reply.clone().unwrap()
        };
        let mut head = format!("HTTP/1.1 {} Scripted\r\n", reply.status);
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if reply.status != 304 {
            head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        }
        head.push_str("\r\n");
        let body = if reply.status == 304 { "" } else { &reply.body };
        if writer
            .write_all(format!("{head}{body}").as_bytes())
            .is_err()
        {
            return;
        }
    }
}
