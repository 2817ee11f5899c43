//! `--redirect-http`: the plain listener answers with a permanent redirect (308, which keeps
//! the method and body) to the same host, path and query on the TLS listener's port.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The port HTTPS is reached on, as it goes into a redirect's `Location`.
#[derive(Debug, Clone, Copy)]
pub struct HttpsPort(pub u16);

pub async fn to_https(req: HttpRequest, port: web::Data<HttpsPort>) -> HttpResponse {
    let Some(host) = req
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| req.uri().host())
        .map(host_without_port)
        // Only a name or an address goes into `Location`: no path, user or scheme smuggled in.
        .filter(|host| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
    else {
        return HttpResponse::BadRequest().json(serde_json::json!({
            "error": "host_required",
            "message": "HTTPS is required here, and the request names no Host to redirect to.",
        }));
    };
    let port = match port.0 {
        443 => String::new(),
        other => format!(":{other}"),
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("https://{host}{port}{path}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `host` without its `:port`, keeping an IPv6 literal's brackets.
fn host_without_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_dropped_from_names_and_ipv6_literals() {
        assert_eq!(host_without_port("example.test:80"), "example.test");
        assert_eq!(host_without_port("example.test"), "example.test");
        assert_eq!(host_without_port("[2001:db8::1]:8080"), "[2001:db8::1]");
        assert_eq!(host_without_port("[2001:db8::1]"), "[2001:db8::1]");
    }
}
