//! A fast static responder used as the upstream in `loadtest/bench-proxy`, so the proxy under
//! test is the bottleneck: `static_upstream PORT [THREADS]`.
//!
//! `GET /plain` answers with `Cache-Control: no-store`, `GET /cached` with `max-age=600`;
//! `/readyz` and `/health` answer 200 for the balancer's and HAProxy's health checks.

#[path = "shared/answer.rs"]
mod answer;

use actix_web::{App, HttpResponse, HttpServer, web};
use answer::{BODY, CONTENT_TYPE};
use backend::contract::startup_line;

async fn plain() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(("cache-control", "no-store"))
        .body(BODY)
}

async fn cached() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(("cache-control", "public, max-age=600"))
        .body(BODY)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(9101);
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new()
                .route("/plain", web::get().to(plain))
                .route("/cached", web::get().to(cached))
                .route("/readyz", web::get().to(HttpResponse::Ok))
                .route("/health", web::get().to(HttpResponse::Ok))
        })
        .workers(threads)
        .backlog(4096)
        .bind(("127.0.0.1", port))?;
        for address in server.addrs() {
            startup_line::write(&mut std::io::stdout().lock(), address)?;
        }
        server.run().await
    })
}
