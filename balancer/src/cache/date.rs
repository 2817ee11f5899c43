//! HTTP dates (RFC 9110 section 5.6.7) as caches meet them in `Expires`, `Date`,
//! `Last-Modified` and `If-Modified-Since`.

use std::time::SystemTime;

use actix_web::http::header::HttpDate;

/// IMF-fixdate, RFC 850 and asctime dates (RFC 9110 section 5.6.7), read robustly as that
/// section encourages: a date whose only faults are the letter case of its names or a weekday
/// that does not match is read as the date it names.
pub fn parse_date(value: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let strict = |text: &str| text.parse::<HttpDate>().ok().map(SystemTime::from);
    strict(text).or_else(|| {
        let text = canonical_case(text);
        let weekday_end = text.find(|c: char| !c.is_ascii_alphabetic())?;
        let long = weekday_end > 3;
        WEEKDAYS.iter().find_map(|(short, full)| {
            let weekday = if long { full } else { short };
            strict(&format!("{weekday}{}", &text[weekday_end..]))
        })
    })
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("Mon", "Monday"),
    ("Tue", "Tuesday"),
    ("Wed", "Wednesday"),
    ("Thu", "Thursday"),
    ("Fri", "Friday"),
    ("Sat", "Saturday"),
    ("Sun", "Sunday"),
];

/// Day and month names capitalised, `GMT` upper case.
fn canonical_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.eq_ignore_ascii_case("gmt") {
            out.push_str("GMT");
        } else {
            for (i, c) in word.chars().enumerate() {
                out.push(if i == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                });
            }
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9110_5_6_7_dates_are_read_robustly_but_not_loosely() {
        let named = parse_date(b"Mon, 08 Aug 2050 02:01:18 GMT");
        assert!(named.is_some());
        for lenient in [
            "Thu Aug  8 02:01:18 2050",
            "Thu, 08 Aug 2050 02:01:18 GMT",
            "mon, 08 aug 2050 02:01:18 gmt",
            "MONDAY, 08-AUG-50 02:01:18 GMT",
        ] {
            assert_eq!(parse_date(lenient.as_bytes()), named, "{lenient}");
        }
        for invalid in [
            "Mon, 08 Aug 2050 02:01:18 UTC",
            "Mon, 08 Aug 50 02:01:18 GMT",
            "Mon 08 Aug 2050 02:01:18 GMT",
            "Mon, 08 Aug 2050 2:01:18 GMT",
            "Mon, 08-Aug-2050 02:01:18 GMT",
        ] {
            assert_eq!(parse_date(invalid.as_bytes()), None, "{invalid}");
        }
    }
}
