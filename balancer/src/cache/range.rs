//! Byte ranges served from a stored complete `200` (RFC 9110 section 14): one satisfiable range
//! becomes a `206` with `Content-Range`, a range set of which nothing is satisfiable a `416`
//! with `Content-Range: bytes */length`. Several satisfiable ranges get the whole `200`, which
//! section 14.2 allows (a server may ignore `Range`), as does any other range unit, a malformed
//! `Range`, and a `Range` whose `If-Range` validator does not match the stored one (14.3).

use std::ops::Range as Span;

use actix_web::http::header::{self, ByteRangeSpec, HeaderMap, HeaderValue, HttpDate, Range};

/// What part of a stored representation a request gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Selection {
    Whole,
    /// These bytes, as a `206` with this `Content-Range`.
    Part {
        span: Span<usize>,
        content_range: HeaderValue,
    },
    /// A `416` with this `Content-Range`.
    Unsatisfiable {
        content_range: HeaderValue,
    },
}

/// The part of a `length`-byte representation (with these validators) that `request` asks for.
pub fn select(
    request: &HeaderMap,
    length: usize,
    etag: Option<&HeaderValue>,
    last_modified: Option<&HeaderValue>,
) -> Selection {
    let Some(range) = request.get(header::RANGE) else {
        return Selection::Whole;
    };
    if let Some(validator) = request.get(header::IF_RANGE)
        && !if_range_matches(validator, etag, last_modified)
    {
        return Selection::Whole;
    }
    let Some(Range::Bytes(specs)) = range.to_str().ok().and_then(|r| r.parse().ok()) else {
        return Selection::Whole;
    };
    let total = length as u64;
    let satisfiable: Vec<(u64, u64)> = specs
        .iter()
        .filter_map(|spec: &ByteRangeSpec| spec.to_satisfiable_range(total))
        .collect();
    match satisfiable.as_slice() {
        [] => Selection::Unsatisfiable {
            content_range: content_range(format!("bytes */{total}")),
        },
        // Both ends are within `length`, which is a usize.
        [(first, last)] => Selection::Part {
            span: *first as usize..*last as usize + 1,
            content_range: content_range(format!("bytes {first}-{last}/{total}")),
        },
        _ => Selection::Whole,
    }
}

/// Digits, spaces, `-`, `*` and `/` are always a valid header value.
fn content_range(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("bytes */0"))
}

/// `If-Range` (RFC 9110 section 13.1.5): an entity tag must match the stored one strongly (a
/// weak tag never does); a date must equal the stored `Last-Modified`.
fn if_range_matches(
    validator: &HeaderValue,
    etag: Option<&HeaderValue>,
    last_modified: Option<&HeaderValue>,
) -> bool {
    let validator = validator.as_bytes().trim_ascii();
    if validator.starts_with(b"W/") {
        return false;
    }
    if validator.starts_with(b"\"") {
        return etag.is_some_and(|etag| {
            let etag = etag.as_bytes().trim_ascii();
            !etag.starts_with(b"W/") && etag == validator
        });
    }
    let date = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<HttpDate>().ok();
    match (
        date(validator),
        last_modified.and_then(|v| date(v.as_bytes())),
    ) {
        (Some(asked), Some(stored)) => asked == stored,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    const ETAG: HeaderValue = HeaderValue::from_static("\"v1\"");
    const MODIFIED: HeaderValue = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");

    fn select_for(pairs: &[(HeaderName, &'static str)]) -> Selection {
        let mut request = HeaderMap::new();
        for (name, value) in pairs {
            request.insert(name.clone(), HeaderValue::from_static(value));
        }
        select(&request, 11, Some(&ETAG), Some(&MODIFIED))
    }

    fn part(first: usize, last: usize) -> Selection {
        Selection::Part {
            span: first..last + 1,
            content_range: content_range(format!("bytes {first}-{last}/11")),
        }
    }

    fn range(value: &'static str) -> Selection {
        select_for(&[(header::RANGE, value)])
    }

    // RFC 9110 section 14.1.2: first-last, first-, -suffix, clipped to the length.
    #[test]
    fn one_satisfiable_range_is_a_part_with_its_content_range() {
        assert_eq!(range("bytes=0-1"), part(0, 1));
        assert_eq!(range("bytes=5-"), part(5, 10));
        assert_eq!(range("bytes=-1"), part(10, 10));
        assert_eq!(range("bytes=3-400"), part(3, 10));
        assert_eq!(range("bytes=-400"), part(0, 10));
        assert_eq!(range("bytes=12-, 1-2"), part(1, 2));
    }

    // RFC 9110 section 14.2 (a server may ignore Range) and 15.5.17 (416).
    #[test]
    fn nothing_satisfiable_is_416_and_the_rest_the_whole() {
        assert_eq!(
            range("bytes=11-"),
            Selection::Unsatisfiable {
                content_range: HeaderValue::from_static("bytes */11")
            }
        );
        assert_eq!(range("bytes=0-1, 4-5"), Selection::Whole);
        assert_eq!(range("items=0-1"), Selection::Whole);
        assert_eq!(range("bytes=5-2"), Selection::Whole);
        assert_eq!(range("bytes=abc"), Selection::Whole);
        assert_eq!(select_for(&[]), Selection::Whole);
    }

    // RFC 9110 section 13.1.5: a strong ETag match or the exact Last-Modified date.
    #[test]
    fn if_range_must_match_the_stored_validator_else_the_whole() {
        let with = |validator: &'static str| {
            select_for(&[(header::RANGE, "bytes=0-1"), (header::IF_RANGE, validator)])
        };
        assert_eq!(with("\"v1\""), part(0, 1));
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT"), part(0, 1));
        assert_eq!(with("\"v2\""), Selection::Whole);
        assert_eq!(with("W/\"v1\""), Selection::Whole);
        assert_eq!(with("Wed, 21 Oct 2015 07:28:01 GMT"), Selection::Whole);
        assert_eq!(with("garbage"), Selection::Whole);
    }
}
