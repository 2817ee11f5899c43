//! How old a response is and how long it stays fresh (RFC 9111 section 4.2): the received `Age`,
//! the apparent age from `Date`, explicit lifetimes (`s-maxage`, `max-age`, `Expires`) and the
//! heuristic one from `Last-Modified`, and what may be done with it once stale (RFC 5861).

use std::time::{Duration, SystemTime};

use actix_web::http::header::{self, HeaderMap, HeaderName};

use super::date::parse_date;
use super::directives::Directives;

/// Fraction of the time since `Last-Modified` taken as a heuristic lifetime (RFC 9111 4.2.2).
const HEURISTIC_DIVISOR: u32 = 10;
/// Upper bound of a heuristic lifetime.
const HEURISTIC_CAP: Duration = Duration::from_secs(24 * 3600);
/// The largest `Age` sent (RFC 9111 section 1.2.2).
const MAX_AGE_SENT: u64 = 1 << 31;

/// A stored response's freshness, fixed when it is stored or refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Freshness lifetime (zero for `no-cache`: every use is validated).
    pub lifetime: Duration,
    /// Corrected initial age (RFC 9111 section 4.2.3): how old it already was when received.
    pub initial_age: Duration,
    /// `must-revalidate`, `proxy-revalidate`, `s-maxage` or `no-cache`: never served stale.
    pub forbids_stale: bool,
    /// `stale-while-revalidate` window past the lifetime (RFC 5861 section 3).
    pub while_revalidate: Duration,
    /// `stale-if-error` window past the lifetime (RFC 5861 section 4), when given.
    pub if_error: Option<Duration>,
}

impl Expiry {
    /// Freshness from `cc` and `headers` with `lifetime` as the fallback when nothing explicit
    /// is given (`None`: not storable without explicit freshness).
    pub fn of(
        cc: &Directives,
        headers: &HeaderMap,
        fallback: impl FnOnce(Option<Duration>) -> Option<Duration>,
    ) -> Option<Self> {
        let now = SystemTime::now();
        let date = http_date(headers, &header::DATE);
        let lifetime = match explicit_lifetime(cc, headers, date, now) {
            Some(lifetime) => lifetime,
            None => fallback(heuristic_lifetime(headers, date, now))?,
        };
        Some(Self {
            lifetime: if cc.no_cache {
                Duration::ZERO
            } else {
                lifetime
            },
            initial_age: initial_age(headers, date, now),
            forbids_stale: cc.forbids_stale(),
            while_revalidate: Duration::from_secs(cc.stale_while_revalidate.unwrap_or(0)),
            if_error: cc.stale_if_error.map(Duration::from_secs),
        })
    }

    /// Whether it is still fresh at `age`.
    pub fn is_fresh(&self, age: Duration) -> bool {
        age < self.lifetime
    }

    /// May be served stale, at `age`, while one request refreshes it in the background.
    pub fn serves_while_revalidating(&self, age: Duration) -> bool {
        !self.forbids_stale && age < self.lifetime.saturating_add(self.while_revalidate)
    }

    /// May be served stale, at `age`, when the upstream fails; `window` applies when the
    /// response gave no `stale-if-error`.
    pub fn serves_on_error(&self, age: Duration, window: Duration) -> bool {
        self.serves_stale_within(age, self.if_error.unwrap_or(window))
    }

    /// May be served stale, at `age`, up to `window` past its lifetime.
    pub fn serves_stale_within(&self, age: Duration, window: Duration) -> bool {
        !self.forbids_stale && age < self.lifetime.saturating_add(window)
    }

    /// How long past being stored it is worth keeping, given the configured stale `window`.
    pub fn retention(&self, window: Duration) -> Duration {
        let stale = window
            .max(self.while_revalidate)
            .max(self.if_error.unwrap_or_default());
        self.lifetime
            .saturating_add(stale)
            .saturating_sub(self.initial_age)
            .min(Duration::from_secs(365 * 24 * 3600))
    }
}

#[cfg(test)]
impl Expiry {
    /// Fresh for `lifetime` from now, nothing else said.
    pub fn fresh_for(lifetime: Duration) -> Self {
        Self {
            lifetime,
            initial_age: Duration::ZERO,
            forbids_stale: false,
            while_revalidate: Duration::ZERO,
            if_error: None,
        }
    }
}

/// The `Age` to send for `age` (whole seconds, bounded).
pub fn age_seconds(age: Duration) -> u64 {
    age.as_secs().min(MAX_AGE_SENT)
}

/// `s-maxage`, `max-age`, then `Expires` (ignored under a targeted field); an unparseable
/// `Expires` means already expired (RFC 9111 section 5.3).
fn explicit_lifetime(
    cc: &Directives,
    headers: &HeaderMap,
    date: Option<SystemTime>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(seconds) = cc.s_maxage.or(cc.max_age) {
        return Some(Duration::from_secs(seconds));
    }
    if cc.targeted {
        return None;
    }
    let expires = headers.get(header::EXPIRES)?;
    let Some(expires) = parse_date(expires.as_bytes()) else {
        return Some(Duration::ZERO);
    };
    Some(
        expires
            .duration_since(date.unwrap_or(now))
            .unwrap_or_default(),
    )
}

/// A tenth of the time since `Last-Modified`, capped (RFC 9111 section 4.2.2).
fn heuristic_lifetime(
    headers: &HeaderMap,
    date: Option<SystemTime>,
    now: SystemTime,
) -> Option<Duration> {
    let modified = http_date(headers, &header::LAST_MODIFIED)?;
    let since = date.unwrap_or(now).duration_since(modified).ok()?;
    Some((since / HEURISTIC_DIVISOR).min(HEURISTIC_CAP))
}

/// The larger of the apparent age (from `Date`) and the received `Age` (RFC 9111 4.2.3, with
/// no response delay: the clock starts when the response head arrives). `Date` has one-second
/// resolution, so only the whole seconds past that count.
fn initial_age(headers: &HeaderMap, date: Option<SystemTime>, now: SystemTime) -> Duration {
    let apparent = date
        .and_then(|date| now.duration_since(date).ok())
        .map_or(Duration::ZERO, |d| d.saturating_sub(Duration::from_secs(1)));
    apparent.max(received_age(headers))
}

/// The first `Age` value (RFC 9111 section 5.1): digits only, huge values saturate, anything
/// else is ignored.
fn received_age(headers: &HeaderMap) -> Duration {
    let first = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .unwrap_or_default();
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Duration::ZERO;
    }
    Duration::from_secs(first.parse().unwrap_or(u64::MAX))
}

fn http_date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    parse_date(headers.get(name)?.as_bytes())
}

#[cfg(test)]
mod tests {
    //! RFC 9111 sections 4.2.1-4.2.4 and 5.1/5.3, RFC 5861.
    use super::*;
    use actix_web::http::header::{HeaderValue, HttpDate};

    fn map(pairs: &[(HeaderName, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn date(offset_s: i64) -> String {
        let now = SystemTime::now();
        let at = if offset_s >= 0 {
            now + Duration::from_secs(offset_s.unsigned_abs())
        } else {
            now - Duration::from_secs(offset_s.unsigned_abs())
        };
        HttpDate::from(at).to_string()
    }

    fn expiry(pairs: &[(HeaderName, String)]) -> Option<Expiry> {
        let headers = map(pairs);
        Expiry::of(&Directives::of(&headers), &headers, |h| h)
    }

    fn cc(value: &str) -> (HeaderName, String) {
        (header::CACHE_CONTROL, value.into())
    }

    #[test]
    fn rfc9111_4_2_1_s_maxage_then_max_age_then_expires() {
        let e = expiry(&[cc("max-age=60, s-maxage=5")]).unwrap();
        assert_eq!(e.lifetime, Duration::from_secs(5));
        assert!(e.forbids_stale, "s-maxage forbids stale (5.2.2.10)");
        let e = expiry(&[cc("max-age=60"), (header::EXPIRES, date(-100))]).unwrap();
        assert_eq!(e.lifetime, Duration::from_secs(60));
        let e = expiry(&[(header::DATE, date(0)), (header::EXPIRES, date(100))]).unwrap();
        assert!((99..=100).contains(&e.lifetime.as_secs()));
    }

    #[test]
    fn rfc9111_5_3_expires_in_three_formats_and_invalid_means_expired() {
        let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
        let imf = HttpDate::from(in_an_hour).to_string();
        let parsed = parse_date(imf.as_bytes()).unwrap();
        // The same instant in RFC 850 and asctime form.
        let rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
        let asctime = "Sun Nov  6 08:49:37 1994";
        assert_eq!(
            parse_date(rfc850.as_bytes()),
            parse_date(asctime.as_bytes())
        );
        assert_eq!(
            parse_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            parse_date(asctime.as_bytes())
        );
        assert!(parsed > SystemTime::now());
        let e = expiry(&[(header::EXPIRES, "0".into())]).unwrap();
        assert_eq!(e.lifetime, Duration::ZERO);
    }

    #[test]
    fn rfc9111_4_2_2_heuristic_is_a_tenth_of_last_modified_age_capped() {
        let e = expiry(&[
            (header::DATE, date(0)),
            (header::LAST_MODIFIED, date(-1000)),
        ])
        .unwrap();
        assert_eq!(e.lifetime, Duration::from_secs(100));
        let e = expiry(&[(header::LAST_MODIFIED, date(-100_000_000))]).unwrap();
        assert_eq!(e.lifetime, HEURISTIC_CAP);
        assert_eq!(expiry(&[]), None, "no explicit nor heuristic freshness");
    }

    #[test]
    fn rfc9111_4_2_3_received_age_counts_first_value_only_digits() {
        let age = |v: &str| received_age(&map(&[(header::AGE, v.into())])).as_secs();
        assert_eq!(age("7200"), 7200);
        assert_eq!(age("7200, 0"), 7200);
        assert_eq!(age("0, 7200"), 0);
        assert_eq!(age("abc"), 0);
        assert_eq!(age("-7200"), 0);
        assert_eq!(age("7200.0"), 0);
        assert_eq!(age("99999999999999999999999"), u64::MAX);
        let e = expiry(&[cc("max-age=3600"), (header::AGE, "3601".into())]).unwrap();
        assert!(!e.is_fresh(e.initial_age));
        let slow = expiry(&[cc("max-age=3600"), (header::DATE, date(-30))]).unwrap();
        assert!((28..=30).contains(&slow.initial_age.as_secs()));
        assert_eq!(age_seconds(Duration::from_secs(u64::MAX)), MAX_AGE_SENT);
    }

    #[test]
    fn rfc9111_4_2_4_and_rfc5861_stale_windows() {
        let e = expiry(&[cc(
            "max-age=10, stale-while-revalidate=20, stale-if-error=40",
        )])
        .unwrap();
        let at = Duration::from_secs;
        assert!(e.is_fresh(at(9)) && !e.is_fresh(at(10)));
        assert!(e.serves_while_revalidating(at(29)) && !e.serves_while_revalidating(at(30)));
        assert!(e.serves_on_error(at(49), at(0)) && !e.serves_on_error(at(50), at(0)));
        let plain = expiry(&[cc("max-age=10")]).unwrap();
        assert!(!plain.serves_while_revalidating(at(10)));
        assert!(plain.serves_on_error(at(39), at(30)) && !plain.serves_on_error(at(40), at(30)));
        for strict in [
            "max-age=10, must-revalidate",
            "max-age=10, proxy-revalidate",
        ] {
            let e = expiry(&[cc(strict)]).unwrap();
            assert!(!e.serves_on_error(at(11), at(30)), "{strict}");
        }
        let no_cache = expiry(&[cc("max-age=10, no-cache")]).unwrap();
        assert!(!no_cache.is_fresh(at(0)) && no_cache.forbids_stale);
        assert_eq!(e.retention(at(30)), at(50));
    }
}
