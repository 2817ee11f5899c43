//! The `Idempotency-Key` request header of `POST /analyze`, after the IETF draft "The
//! Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header).
//!
//! The draft makes the value a Structured Field string (`Idempotency-Key: "8e03978e-40d5"`);
//! many clients send a bare key instead (Stripe's style), so both are accepted and name the same
//! key. A key is 1 to 255 visible ASCII characters. The stores keep it under a unique index;
//! what a repeated key gets back is decided in `store::idempotency`.

use actix_web::http::header::{HeaderMap, HeaderName};

/// The request header carrying the key.
pub use crate::contract::headers::IDEMPOTENCY_KEY;
/// The response header marking an answer as the replay of an earlier one (Stripe's name).
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdempotencyKey {
    #[error("send one Idempotency-Key header, not several")]
    Repeated,
    #[error("a quoted Idempotency-Key must be a well-formed Structured Field string")]
    MalformedString,
    #[error("an Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters")]
    OutOfRange,
}

impl IdempotencyKey {
    /// The key of a request, if it sent one.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, InvalidIdempotencyKey> {
        let mut values = headers.get_all(IDEMPOTENCY_KEY);
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(InvalidIdempotencyKey::Repeated);
        }
        Self::parse(value.as_bytes()).map(Some)
    }

    /// Reads a header value: a Structured Field string (its parameters, which the draft does
    /// not define, are ignored as RFC 9651 asks) or the bare key.
    pub fn parse(value: &[u8]) -> Result<Self, InvalidIdempotencyKey> {
        let value = value.trim_ascii();
        let key = if value.first() == Some(&b'"') {
            let item = sfv::Parser::new(value)
                .parse::<sfv::Item>()
                .map_err(|_| InvalidIdempotencyKey::MalformedString)?;
            let string = item
                .bare_item
                .as_string()
                .ok_or(InvalidIdempotencyKey::MalformedString)?;
            string.as_str().as_bytes().to_vec()
        } else {
            value.to_vec()
        };
        if !(1..=MAX_KEY_LEN).contains(&key.len()) || !key.iter().all(u8::is_ascii_graphic) {
            return Err(InvalidIdempotencyKey::OutOfRange);
        }
        // Visible ASCII is valid UTF-8.
        String::from_utf8(key)
            .map(Self)
            .map_err(|_| InvalidIdempotencyKey::OutOfRange)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn key(value: &str) -> Result<String, InvalidIdempotencyKey> {
        IdempotencyKey::parse(value.as_bytes()).map(|key| key.as_str().to_owned())
    }

    #[test]
    fn a_structured_string_and_a_bare_key_name_the_same_key() {
        assert_eq!(
            key(r#""8e03978e-40d5-43e8""#).unwrap(),
            "8e03978e-40d5-43e8"
        );
        assert_eq!(key("8e03978e-40d5-43e8").unwrap(), "8e03978e-40d5-43e8");
        assert_eq!(key(r#"  "abc"  "#).unwrap(), "abc");
        assert_eq!(key(r#""a\"b\\c""#).unwrap(), r#"a"b\c"#, "escapes unfold");
        assert_eq!(key(r#""abc";v=1"#).unwrap(), "abc", "parameters ignored");
        assert_eq!(key(&"k".repeat(255)).unwrap().len(), 255);
    }

    #[test]
    fn malformed_keys_are_refused() {
        use InvalidIdempotencyKey::{MalformedString, OutOfRange};
        assert_eq!(key(r#""unterminated"#), Err(MalformedString));
        assert_eq!(
            key(r#""a", "b""#),
            Err(MalformedString),
            "a list is not a key"
        );
        assert_eq!(key(r#""tab	inside""#), Err(MalformedString));
        assert_eq!(key(""), Err(OutOfRange));
        assert_eq!(key(r#""""#), Err(OutOfRange));
        assert_eq!(key(r#""has space""#), Err(OutOfRange));
        assert_eq!(key("has space"), Err(OutOfRange));
        assert_eq!(key(&"k".repeat(256)), Err(OutOfRange));
        assert_eq!(key(&format!("\"{}\"", "k".repeat(256))), Err(OutOfRange));
        assert_eq!(
            IdempotencyKey::parse("caf\u{e9}".as_bytes()),
            Err(OutOfRange)
        );
    }

    #[test]
    fn one_header_at_most() {
        let mut headers = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&headers), Ok(None));
        headers.append(IDEMPOTENCY_KEY, HeaderValue::from_static("a"));
        assert_eq!(
            IdempotencyKey::from_headers(&headers),
            Ok(Some(IdempotencyKey("a".into())))
        );
        headers.append(IDEMPOTENCY_KEY, HeaderValue::from_static("b"));
        assert_eq!(
            IdempotencyKey::from_headers(&headers),
            Err(InvalidIdempotencyKey::Repeated)
        );
    }
}
