//! Test harness: the real balancer binary on port 0, small actix upstreams that can be told to
//! misbehave (slow, 500s, gone), and an HTTP client. Every wait is bounded.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

pub const TOKEN: &str = "test-token";

/// How an upstream behaves right now; tests flip these while it runs.
#[derive(Default)]
pub struct Behaviour {
    pub fail: AtomicBool,
    pub unready: AtomicBool,
    pub delay_ms: AtomicU64,
    pub hits: AtomicUsize,
    pub post_hits: AtomicUsize,
    pub version: AtomicUsize,
}

/// A small actix server standing in for a backend.
pub struct Upstream {
    pub name: String,
    pub address: String,
    pub behaviour: Arc<Behaviour>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn readyz(b: web::Data<Behaviour>) -> HttpResponse {
    if b.unready.load(Ordering::SeqCst) {
        HttpResponse::ServiceUnavailable().finish()
    } else {
        HttpResponse::Ok().body("ready")
    }
}

/// Answers any other request after the configured delay, counting it.
async fn any(req: HttpRequest, b: web::Data<Behaviour>, name: web::Data<String>) -> HttpResponse {
    b.hits.fetch_add(1, Ordering::SeqCst);
    if req.method() == actix_web::http::Method::POST {
        b.post_hits.fetch_add(1, Ordering::SeqCst);
    }
    let delay = b.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if b.fail.load(Ordering::SeqCst) {
        return HttpResponse::InternalServerError().body("failing");
    }
    let cache_control = match req.path() {
        p if p.starts_with("/cached") => "public, max-age=60",
        p if p.starts_with("/short") => "public, max-age=1",
        p if p.starts_with("/history") => "public, max-age=60",
        _ => "no-store",
    };
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let version = b.version.load(Ordering::SeqCst);
    HttpResponse::Ok()
        .insert_header(("cache-control", cache_control))
        .insert_header(("etag", format!("\"v{version}\"")))
        .json(serde_json::json!({
            "upstream": name.as_str(),
            "version": version,
            "path": req.uri().to_string(),
            "peer": req.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
            "headers": headers,
        }))
}

/// Sends the request body straight back as it arrives (chunked, no length).
async fn echo_body(payload: web::Payload) -> HttpResponse {
    HttpResponse::Ok().streaming(payload)
}

/// The byte at `index` of every test body, so a shifted or truncated copy shows.
pub fn pattern(index: usize) -> u8 {
    (index % 251) as u8
}

/// `/large/N`: N patterned bytes with a Content-Length.
async fn large(length: web::Path<usize>) -> HttpResponse {
    HttpResponse::Ok().body((0..*length).map(pattern).collect::<Vec<u8>>())
}

impl Upstream {
    pub fn start(name: &str) -> Self {
        Self::start_on(
            name,
            TcpListener::bind("127.0.0.1:0").unwrap(),
            Arc::default(),
        )
    }

    /// Starts again on the address of a stopped upstream, keeping its counters.
    pub fn restart(name: &str, address: &str, behaviour: Arc<Behaviour>) -> Self {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(address) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("rebinding {address}: {e}"),
            }
        };
        Self::start_on(name, listener, behaviour)
    }

    fn start_on(name: &str, listener: TcpListener, behaviour: Arc<Behaviour>) -> Self {
        let address = listener.local_addr().unwrap().to_string();
        let (tx, rx) = mpsc::channel();
        let data = web::Data::from(behaviour.clone());
        let label = web::Data::new(name.to_owned());
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .app_data(label.clone())
                        .route("/readyz", web::get().to(readyz))
                        .route("/echo-body", web::post().to(echo_body))
                        .route("/large/{length}", web::route().to(large))
                        .default_service(web::to(any))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(0)
                .listen(listener)
                .unwrap()
                .run();
                tx.send(server.handle()).unwrap();
                server.await.unwrap();
            })
        });
        let handle = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self {
            name: name.to_owned(),
            address,
            behaviour,
            handle,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn hits(&self) -> usize {
        self.behaviour.hits.load(Ordering::SeqCst)
    }

    /// Stops listening and closes every connection, like a killed process.
    pub fn stop(mut self) -> Arc<Behaviour> {
        // The stop command is sent eagerly; joining the thread waits for it.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.behaviour.clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // The stop command is sent eagerly; joining the thread waits for it.
            drop(self.handle.stop(false));
            let _ = thread.join();
        }
    }
}

/// The balancer binary, stopped with SIGTERM on drop.
pub struct Balancer {
    child: Option<Child>,
    pub url: String,
    pub admin: String,
    lines: mpsc::Receiver<String>,
}

pub fn balancer_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_balancer"));
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--admin-token", TOKEN, "--health-interval-ms", "100"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

impl Balancer {
    /// Starts the balancer and waits for `stack ready`.
    pub fn start(args: &[&str]) -> Self {
        let balancer = Self::start_unready(args);
        balancer.wait_line("stack ready", Duration::from_secs(60));
        balancer
    }

    /// Starts the balancer and waits only for its listeners.
    pub fn start_unready(args: &[&str]) -> Self {
        let mut child = balancer_command(args)
            .spawn()
            .expect("balancer binary runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut balancer = Self {
            child: Some(child),
            url: String::new(),
            admin: String::new(),
            lines,
        };
        balancer.url = balancer.wait_line("balancer listening on ", Duration::from_secs(20));
        balancer.admin = balancer.wait_line("admin listening on ", Duration::from_secs(20));
        balancer
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line[prefix.len()..].to_owned(),
                Ok(_) => {}
                Err(e) => panic!("balancer never printed `{prefix}`: {e}"),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM and wait (bounded); returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        unsafe_free_kill(child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

/// Sends a signal with the `kill` command (keeps the tests free of unsafe code).
pub fn unsafe_free_kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status();
}

pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.terminate();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `X-Upstream`, `X-Cache` and the body of a GET.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String, String, String) {
    let response = client.get(url).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (upstream, cache) = (header("x-upstream"), header("x-cache"));
    let status = response.status().as_u16();
    (status, upstream, cache, response.text().await.unwrap())
}

pub async fn admin_json(
    client: &reqwest::Client,
    balancer: &Balancer,
    path: &str,
) -> serde_json::Value {
    client
        .get(format!("{}{path}", balancer.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The admin view of one backend.
pub async fn backend_view(
    client: &reqwest::Client,
    balancer: &Balancer,
    address: &str,
) -> Option<serde_json::Value> {
    let list = admin_json(client, balancer, "/backends").await;
    list.as_array()?
        .iter()
        .find(|b| b["address"] == address)
        .cloned()
}

/// Writes a TOML config into a temp dir kept alive by the returned guard.
pub fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

/// A bare HTTP/1.1 backend on plain threads that records every request line it parses and
/// counts its open connections: what a proxy really puts on the wire, with no framework
/// between. Answers `200 ok` to everything (with keep-alive).
pub struct RawUpstream {
    pub address: String,
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
    pub open: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
}

impl RawUpstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (l, o, a) = (lines.clone(), open.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let (l, o) = (l.clone(), o.clone());
                std::thread::spawn(move || {
                    let _ = serve_raw(stream, &l);
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            address,
            lines,
            open,
            accepted,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

fn serve_raw(
    stream: std::net::TcpStream,
    lines: &std::sync::Mutex<Vec<String>>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        lines
            .lock()
            .unwrap()
            .push(request_line.trim_end().to_owned());
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if header.starts_with("transfer-encoding:") && header.ends_with("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut data = vec![0u8; size + 2];
                reader.read_exact(&mut data)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body)?;
        }
        writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
    }
}

/// A raw connection to `address` from the local address `source` (another 127.0.0.0/8
/// address stands for another client).
pub fn connect_from(source: &str, address: &str) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let source: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    let target: std::net::SocketAddr = address.parse().unwrap();
    socket.connect(&target.into()).unwrap();
    socket.into()
}
