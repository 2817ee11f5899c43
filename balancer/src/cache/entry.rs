//! A stored response and how it is served again: its age (RFC 9111 4.2.3) and freshness, the
//! one-request revalidation flag behind `EXPIRED`/`STALE`, the validators a revalidation sends
//! and the 304 that refreshes it (3.2, 4.3), and conditional answers to clients (4.3.2).
//! Labelling the answer (`X-Cache`, `X-Upstream`, `X-Request-Id`) is the proxy's response filter.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody, SizedStream};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

use super::date::parse_date;
use super::freshness::{Expiry, age_seconds};
use super::range::{self, Selection};

/// Bytes accounted per entry on top of its headers and body.
const ENTRY_OVERHEAD: usize = 256;

#[derive(Debug)]
pub struct CachedResponse {
    pub status: StatusCode,
    /// End-to-end headers as the upstream sent them, without `Content-Length` and per-request
    /// headers (`X-Request-Id`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `X-Upstream` of the backend that produced it, when responses name backends.
    pub upstream: Option<HeaderValue>,
    pub body: Bytes,
    /// The upstream `Content-Length` of a HEAD response (whose body is empty).
    pub head_length: Option<u64>,
    /// Request headers the response varies on.
    pub vary: Vec<HeaderName>,
    stored_at: Instant,
    expiry: Expiry,
    retention: Duration,
    revalidating: AtomicBool,
}

/// Whether an entry may be served as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale,
}

impl CachedResponse {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        status: StatusCode,
        headers: Vec<(HeaderName, HeaderValue)>,
        upstream: Option<HeaderValue>,
        body: Bytes,
        head_length: Option<u64>,
        vary: Vec<HeaderName>,
        expiry: Expiry,
        stale_window: Duration,
    ) -> Self {
        Self {
            status,
            headers,
            upstream,
            body,
            head_length,
            vary,
            stored_at: Instant::now(),
            expiry,
            retention: expiry.retention(stale_window),
            revalidating: AtomicBool::new(false),
        }
    }

    /// Its current age: the age it arrived with plus the time it has been stored.
    pub fn age(&self) -> Duration {
        self.expiry
            .initial_age
            .saturating_add(self.stored_at.elapsed())
    }

    pub fn expiry(&self) -> &Expiry {
        &self.expiry
    }

    pub fn freshness(&self) -> Freshness {
        if self.expiry.is_fresh(self.age()) {
            Freshness::Fresh
        } else {
            Freshness::Stale
        }
    }

    /// The conditionals that revalidate it (RFC 9111 section 4.3.1).
    pub fn validators(&self) -> impl Iterator<Item = (HeaderName, &HeaderValue)> {
        let etag = self
            .header(&header::ETAG)
            .map(|v| (header::IF_NONE_MATCH, v));
        let modified = self
            .header(&header::LAST_MODIFIED)
            .map(|v| (header::IF_MODIFIED_SINCE, v));
        etag.into_iter().chain(modified)
    }

    /// Its stored headers updated by those of a 304 (RFC 9111 section 3.2): a field the 304
    /// carries replaces the stored one, the others are kept.
    pub fn merged_headers<'a>(
        &self,
        update: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>,
    ) -> HeaderMap {
        let mut merged = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            merged.append(name.clone(), value.clone());
        }
        let mut replaced: Vec<&HeaderName> = Vec::new();
        for (name, value) in update {
            if *name == header::CONTENT_LENGTH {
                continue;
            }
            if replaced.contains(&name) {
                merged.append(name.clone(), value.clone());
            } else {
                merged.insert(name.clone(), value.clone());
                replaced.push(name);
            }
        }
        merged
    }

    /// The same response with `headers` (from [`Self::merged_headers`]) and a new freshness.
    pub fn refreshed(&self, headers: &HeaderMap, expiry: Expiry, stale_window: Duration) -> Self {
        Self::new(
            self.status,
            headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
            self.upstream.clone(),
            self.body.clone(),
            self.head_length,
            self.vary.clone(),
            expiry,
            stale_window,
        )
    }

    /// Whole seconds of freshness left: negative once stale (`Cache-Status`'s `ttl`).
    pub fn ttl_left(&self) -> i64 {
        let (age, lifetime) = (self.age(), self.expiry.lifetime);
        // Rounded up: a response stored with `max-age=60` says 60 right after it is stored.
        let secs = |d: Duration| {
            let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            i64::try_from(whole).unwrap_or(i64::MAX)
        };
        match lifetime.checked_sub(age) {
            Some(left) => secs(left),
            None => -secs(age - lifetime),
        }
    }

    /// How long the store keeps it: its TTL plus the window in which it may be served stale.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Only one request refreshes an expired entry; the others are served it stale meanwhile.
    pub fn try_begin_revalidation(&self) -> bool {
        !self.revalidating.swap(true, Ordering::AcqRel)
    }

    /// The refresh failed: let the next request try again.
    pub fn end_revalidation(&self) {
        self.revalidating.store(false, Ordering::Release);
    }

    /// Bytes this entry accounts for in the store's bound.
    pub fn weight(&self) -> usize {
        ENTRY_OVERHEAD
            + self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum::<usize>()
    }

    fn header(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The client already holds this representation (RFC 9110 section 13.1).
    fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(candidates) = request.get(header::IF_NONE_MATCH) {
            let Some(etag) = self.header(&header::ETAG) else {
                return false;
            };
            let bare = |tag: &[u8]| tag.strip_prefix(b"W/").unwrap_or(tag).to_vec();
            let etag = bare(etag.as_bytes());
            return candidates
                .as_bytes()
                .split(|b| *b == b',')
                .any(|candidate| {
                    let candidate = candidate.trim_ascii();
                    candidate == b"*" || bare(candidate) == etag
                });
        }
        // Checked first: most hits carry no conditional, and then no stored date is parsed.
        let Some(since) = request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| parse_date(v.as_bytes()))
        else {
            return false;
        };
        // Without Last-Modified, the Date it was sent with is the latest it can have changed.
        self.header(&header::LAST_MODIFIED)
            .or_else(|| self.header(&header::DATE))
            .and_then(|v| parse_date(v.as_bytes()))
            .is_some_and(|modified| modified <= since)
    }

    /// The stored response for `req`, with its `Age`: whole, `304` to a matching conditional,
    /// or the byte range a GET asks for (see [`range`]).
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let status = if self.status == StatusCode::OK && self.not_modified(req.headers()) {
            StatusCode::NOT_MODIFIED
        } else {
            self.status
        };
        let selection = match (status, self.head_length) {
            (StatusCode::OK, None) => range::select(
                req.headers(),
                self.body.len(),
                self.header(&header::ETAG),
                self.header(&header::LAST_MODIFIED),
            ),
            _ => Selection::Whole,
        };
        let mut response = match (status, self.head_length, selection) {
            (StatusCode::NOT_MODIFIED, ..) => HttpResponse::NotModified().finish(),
            (_, Some(length), _) => HttpResponse::build(status).body(head_body(length)),
            (_, None, Selection::Whole) => HttpResponse::build(status).body(self.body.clone()),
            (
                _,
                None,
                Selection::Part {
                    span,
                    content_range,
                },
            ) => HttpResponse::PartialContent()
                .insert_header((header::CONTENT_RANGE, content_range))
                .body(self.body.slice(span)),
            (_, None, Selection::Unsatisfiable { content_range }) => {
                return HttpResponse::RangeNotSatisfiable()
                    .insert_header((header::CONTENT_RANGE, content_range))
                    .finish();
            }
        };
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        headers.insert(header::AGE, HeaderValue::from(age_seconds(self.age())));
        response
    }
}

/// The body of a HEAD response: no bytes, but the `Content-Length` a GET would have.
pub fn head_body(length: u64) -> BoxBody {
    SizedStream::new(
        length,
        futures_util::stream::empty::<Result<Bytes, PayloadError>>(),
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn entry() -> CachedResponse {
        CachedResponse::new(
            StatusCode::OK,
            vec![
                (header::ETAG, HeaderValue::from_static("\"v1\"")),
                (
                    header::LAST_MODIFIED,
                    HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
                ),
            ],
            Some(HeaderValue::from_static("u:1")),
            Bytes::from_static(b"body"),
            None,
            Vec::new(),
            Expiry::fresh_for(Duration::from_secs(60)),
            Duration::ZERO,
        )
    }

    fn status_for(header: (HeaderName, &'static str)) -> StatusCode {
        let req = TestRequest::get().insert_header(header).to_http_request();
        entry().respond(&req).status()
    }

    #[test]
    fn conditional_requests_get_304_only_when_matching() {
        assert_eq!(
            status_for((header::IF_NONE_MATCH, "\"v0\", W/\"v1\"")),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            status_for((header::IF_NONE_MATCH, "\"v2\"")),
            StatusCode::OK
        );
        assert_eq!(
            status_for((header::IF_MODIFIED_SINCE, "Wed, 21 Oct 2015 07:28:00 GMT")),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            status_for((header::IF_MODIFIED_SINCE, "Tue, 20 Oct 2015 07:28:00 GMT")),
            StatusCode::OK
        );
    }

    #[test]
    fn rfc9111_4_3_1_validators_and_3_2_a_304_replaces_only_the_fields_it_carries() {
        let stored = entry();
        let sent: Vec<_> = stored
            .validators()
            .map(|(n, v)| (n, v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            sent,
            [
                (header::IF_NONE_MATCH, "\"v1\"".to_owned()),
                (
                    header::IF_MODIFIED_SINCE,
                    "Wed, 21 Oct 2015 07:28:00 GMT".to_owned()
                ),
            ]
        );
        let mut update = HeaderMap::new();
        update.append(header::ETAG, HeaderValue::from_static("\"v2\""));
        update.append(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        let link = HeaderName::from_static("link");
        update.append(link.clone(), HeaderValue::from_static("<a>"));
        update.append(link.clone(), HeaderValue::from_static("<b>"));
        let merged = stored.merged_headers(update.iter());
        assert_eq!(merged.get(header::ETAG).unwrap(), "\"v2\"");
        assert_eq!(
            merged.get(header::LAST_MODIFIED).unwrap(),
            "Wed, 21 Oct 2015 07:28:00 GMT"
        );
        assert!(!merged.contains_key(header::CONTENT_LENGTH));
        assert_eq!(merged.get_all(link).count(), 2);
    }

    #[test]
    fn only_one_revalidation_at_a_time() {
        let entry = entry();
        assert!(entry.try_begin_revalidation());
        assert!(!entry.try_begin_revalidation());
        entry.end_revalidation();
        assert!(entry.try_begin_revalidation());
    }
}
