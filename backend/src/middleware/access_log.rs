//! The access log: one line per request, written by us rather than by actix's `Logger` so that
//! every field a client controls is escaped, and health probes stay out of the INFO log.
//!
//! A line reads `ADDRESS "METHOD TARGET VERSION" STATUS SIZE LATENCYms request_id=ID`. The
//! request line and the request id are escaped with Rust's ASCII escapes (`\"`, `\\`, `\n`,
//! `\xHH` for any other control or non-ASCII byte), so a quote, a backslash or a line break
//! sent by a client can neither end a field early nor start a forged line. The latency is
//! measured to the response head; the size is `-` when the body is streamed.

use std::fmt;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use log::Level;

use super::REQUEST_ID;

/// The log target of access lines, for `RUST_LOG` (e.g. `RUST_LOG=info,backend::access=warn`).
pub const ACCESS_LOG_TARGET: &str = "backend::access";

/// Paths probed every second or so by the balancer and by systemd checks.
const HEALTH_PROBES: [&str; 2] = ["/healthz", "/readyz"];

/// Probes are logged at DEBUG so an idle service logs nothing; everything else at INFO.
fn level_for(path: &str) -> Level {
    if HEALTH_PROBES.contains(&path) {
        Level::Debug
    } else {
        Level::Info
    }
}

/// Bytes a client sent, shown with every quote, backslash, control and non-ASCII byte escaped.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.escape_ascii(), formatter)
    }
}

/// What the line says about the response.
struct Outcome {
    status: u16,
    size: Option<u64>,
    request_id: Option<Vec<u8>>,
}

impl Outcome {
    fn of<B: MessageBody>(result: &Result<ServiceResponse<B>, Error>) -> Self {
        match result {
            Ok(response) => Outcome {
                status: response.status().as_u16(),
                size: match response.response().body().size() {
                    BodySize::Sized(bytes) => Some(bytes),
                    BodySize::None => Some(0),
                    BodySize::Stream => None,
                },
                request_id: response
                    .headers()
                    .get(REQUEST_ID)
                    .map(|id| id.as_bytes().to_vec()),
            },
            // The framework turns this error into the response after every middleware has run.
            Err(error) => Outcome {
                status: error.as_response_error().status_code().as_u16(),
                size: None,
                request_id: None,
            },
        }
    }
}

pub async fn access_log<B: MessageBody>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let level = level_for(request.path());
    if !log::log_enabled!(target: ACCESS_LOG_TARGET, level) {
        return next.call(request).await;
    }
    let started = Instant::now();
    let client = request
        .peer_addr()
        .map_or_else(|| "-".to_owned(), |address| address.to_string());
    let request_line = format!(
        "{} {} {:?}",
        request.method(),
        request.uri(),
        request.version()
    );
    let result = next.call(request).await;
    let outcome = Outcome::of(&result);
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    log::log!(
        target: ACCESS_LOG_TARGET,
        level,
        "{client} \"{}\" {} {} {latency_ms:.3}ms request_id={}",
        Escaped(request_line.as_bytes()),
        outcome.status,
        outcome
            .size
            .map_or_else(|| "-".to_owned(), |bytes| bytes.to_string()),
        Escaped(outcome.request_id.as_deref().unwrap_or(b"-")),
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_bytes_cannot_break_out_of_a_field_or_a_line() {
        let hostile = b"GET /a\"b\\c\n127.0.0.1 \"GET / HTTP/1.1\" 200\r\x1b[31m\xff HTTP/1.1";
        let shown = Escaped(hostile).to_string();
        assert_eq!(
            shown,
            r#"GET /a\"b\\c\n127.0.0.1 \"GET / HTTP/1.1\" 200\r\x1b[31m\xff HTTP/1.1"#
        );
        assert!(!shown.contains('\n') && !shown.contains('\r'));
        assert!(
            shown
                .char_indices()
                .filter(|(_, c)| *c == '"')
                .all(|(i, _)| shown[..i].ends_with('\\'))
        );
    }

    #[test]
    fn health_probes_are_debug_and_the_api_is_info() {
        assert_eq!(level_for("/readyz"), Level::Debug);
        assert_eq!(level_for("/healthz"), Level::Debug);
        assert_eq!(level_for("/analyze"), Level::Info);
        assert_eq!(level_for("/readyz/x"), Level::Info);
    }
}
