//! The floor under the public listener: an HTTP/1.1 server that does nothing but answer, built
//! on each server stack the balancer could stand on, so `loadtest/bench-cpu --only floor` can
//! measure what the stack alone costs per request beside nginx's `return 200`:
//! `server_floor actix-web|actix-http|hyper PORT`.
//!
//! Every request gets the answer of `static_upstream`'s `/plain` (same headers and body), on one
//! thread, as the balancer runs in the benchmarks. `actix-web` is what the balancer's listener
//! is today (an `App` over actix-http); `actix-http` drops the `App` layer (routing, the
//! `HttpRequest` pool, extractors); `hyper` is hyper 1.x's HTTP/1 connection on tokio.

#[path = "shared/answer.rs"]
mod answer;

use std::convert::Infallible;
use std::net::SocketAddr;

use answer::{BODY, CONTENT_TYPE};
use backend::contract::startup_line;
use bytes::Bytes;

const CACHE_CONTROL: &str = "no-store";

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let stack = args.next().unwrap_or_default();
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(9111);
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    match stack.as_str() {
        "actix-web" => actix_web_floor(address),
        "actix-http" => actix_http_floor(address),
        "hyper" => hyper_floor(address),
        _ => {
            eprintln!("usage: server_floor actix-web|actix-http|hyper PORT");
            std::process::exit(2)
        }
    }
}

fn announce(address: SocketAddr) -> std::io::Result<()> {
    startup_line::write(&mut std::io::stdout().lock(), address)
}

fn actix_web_floor(address: SocketAddr) -> std::io::Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new().default_service(web::to(|| async {
                HttpResponse::Ok()
                    .content_type(CONTENT_TYPE)
                    .insert_header(("cache-control", CACHE_CONTROL))
                    .body(BODY)
            }))
        })
        .workers(1)
        .backlog(4096)
        .bind(address)?;
        announce(server.addrs()[0])?;
        server.run().await
    })
}

fn actix_http_floor(address: SocketAddr) -> std::io::Result<()> {
    use actix_http::{HttpService, Request, Response, header};
    use actix_service::fn_service;
    actix_web::rt::System::new().block_on(async move {
        let listener = std::net::TcpListener::bind(address)?;
        announce(listener.local_addr()?)?;
        let server = actix_server::Server::build()
            .workers(1)
            .backlog(4096)
            .listen("floor", listener, || {
                HttpService::build()
                    .finish(fn_service(|_: Request| async {
                        let mut response = Response::with_body(
                            actix_http::StatusCode::OK,
                            Bytes::from_static(BODY.as_bytes()),
                        );
                        let headers = response.headers_mut();
                        headers.insert(
                            header::CONTENT_TYPE,
                            header::HeaderValue::from_static(CONTENT_TYPE),
                        );
                        headers.insert(
                            header::CACHE_CONTROL,
                            header::HeaderValue::from_static(CACHE_CONTROL),
                        );
                        Ok::<_, Infallible>(response)
                    }))
                    .tcp()
            })?;
        server.run().await
    })
}

fn hyper_floor(address: SocketAddr) -> std::io::Result<()> {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper::{Request, Response, body::Incoming};
    use hyper_util::rt::TokioIo;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(address).await?;
        announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let answer = service_fn(|_: Request<Incoming>| async {
                    Response::builder()
                        .header("content-type", CONTENT_TYPE)
                        .header("cache-control", CACHE_CONTROL)
                        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                });
                // A client that goes away mid-request is no concern of a floor measurement.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), answer)
                    .await;
            });
        }
    })
}
