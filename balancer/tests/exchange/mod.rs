//! What the RFC 9111 flow tests share: a scripted origin with the balancer in front, a GET
//! with its status, headers and body, and HTTP dates relative to now.

// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use std::time::{Duration, SystemTime};

use actix_web::http::header::HttpDate;
use reqwest::header::HeaderMap;
use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

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

/// Starts an origin answering each `(path, script)` and a balancer in front of it.
pub fn origin_with(
    scripts: Vec<(&str, Script)>,
    balancer_args: &[&str],
) -> (ScriptedOrigin, Balancer) {
    let origin = ScriptedOrigin::start();
    for (path, script) in scripts {
        origin.script(path, script);
    }
    let mut args = vec!["--backend".to_owned(), origin.url()];
    args.extend(balancer_args.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (origin, Balancer::start(&args))
}
