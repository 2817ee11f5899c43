//! A small actix server standing in for a backend, which tests tell to misbehave (slow, 500s,
//! unready, gone) while it runs.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

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
