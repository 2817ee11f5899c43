//! Tests of the header handling: what is forwarded, stripped, kept and generated.

use super::*;
use crate::upstream::OutgoingBody;
use actix_web::test::TestRequest;

/// The header lines of the head written for `req`.
fn forwarded(req: &HttpRequest, trusted: &TrustedProxies) -> Vec<String> {
    let mut head = RequestHead::new(req.method(), "/");
    forward_request_headers(
        req,
        trusted,
        &mut head,
        &HeaderValue::from_static("id-1"),
        false,
    );
    let wire = head.wire("backend:1", &OutgoingBody::Empty);
    let text = String::from_utf8(wire.to_vec()).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

fn trusting(networks: &[&str]) -> TrustedProxies {
    TrustedProxies::new(networks.iter().map(|n| n.parse().unwrap()).collect())
}

#[test]
fn hop_by_hop_connection_listed_and_forged_headers_are_dropped() {
    let req = TestRequest::get()
        .insert_header((header::CONNECTION, "keep-alive, x-secret"))
        .insert_header(("x-secret", "1"))
        .insert_header(("keep-alive", "timeout=5"))
        .insert_header((header::CONTENT_LENGTH, "0"))
        .insert_header(("x-kept", "yes"))
        .insert_header((header::HOST, "example.test"))
        .insert_header(("x-request-id", "from-client"))
        .insert_header(("x-forwarded-proto", "gopher"))
        .insert_header(("x-forwarded-for", "6.6.6.6"))
        .insert_header(("x-forwarded-host", "evil.test"))
        .insert_header(("forwarded", "for=6.6.6.6"))
        .insert_header(("x-real-ip", "6.6.6.6"))
        .peer_addr("10.1.2.3:999".parse().unwrap())
        .to_http_request();
    assert_eq!(
        forwarded(&req, &TrustedProxies::default()),
        [
            "host: example.test",
            "x-forwarded-for: 10.1.2.3",
            "x-forwarded-host: example.test",
            "x-forwarded-proto: http",
            "x-kept: yes",
            "x-request-id: id-1",
        ]
    );
}

#[test]
fn a_response_keeps_its_end_to_end_headers_in_place_every_value_of_them() {
    let mut headers = HeaderMap::new();
    let fields = [
        ("connection", "close, x-hop"),
        ("x-hop", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("content-length", "12"),
        ("content-type", "text/plain"),
        ("set-cookie", "a=1"),
        ("set-cookie", "b=2"),
    ];
    for (name, value) in fields {
        headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let mut copied: Vec<_> = end_to_end(&headers, &[])
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    keep_end_to_end(&mut headers);
    let mut kept: Vec<_> = headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "content-type: text/plain",
            "set-cookie: a=1",
            "set-cookie: b=2"
        ]
    );
    copied.sort();
    assert_eq!(copied, kept, "the copying and the in-place filter agree");
}

#[test]
fn a_trusted_proxys_headers_are_kept_and_extended() {
    let req = TestRequest::get()
        .append_header(("x-forwarded-for", "192.0.2.1"))
        .append_header(("x-forwarded-for", "192.0.2.2"))
        .insert_header(("x-forwarded-proto", "https"))
        .insert_header(("x-forwarded-host", "public.test"))
        .insert_header(("forwarded", "for=192.0.2.2"))
        .peer_addr("[2001:db8::1]:999".parse().unwrap())
        .to_http_request();
    let lines = forwarded(&req, &trusting(&["2001:db8::/64"]));
    assert!(lines.contains(&"x-forwarded-for: 192.0.2.1, 192.0.2.2, 2001:db8::1".into()));
    assert!(lines.contains(&"x-forwarded-proto: https".into()));
    assert!(lines.contains(&"x-forwarded-host: public.test".into()));
    assert!(lines.contains(&"forwarded: for=192.0.2.2".into()));
    assert!(lines.contains(&"host: backend:1".into()));
    // The same request from an untrusted peer: only what the peer itself is.
    let lines = forwarded(&req, &trusting(&["10.0.0.0/8"]));
    assert!(lines.contains(&"x-forwarded-for: 2001:db8::1".into()));
    assert!(lines.contains(&"x-forwarded-proto: http".into()));
    assert!(!lines.iter().any(|l| l.starts_with("forwarded")));
}

#[test]
fn the_client_ip_is_the_nearest_untrusted_hop() {
    let trusted = trusting(&["10.0.0.0/8"]);
    let req = |xff: &str, peer: &str| {
        TestRequest::get()
            .insert_header(("x-forwarded-for", xff))
            .peer_addr(peer.parse().unwrap())
            .to_http_request()
    };
    let ip = |xff, peer| client_ip(&req(xff, peer), &trusted).unwrap().to_string();
    assert_eq!(
        ip("6.6.6.6, 203.0.113.7, 10.0.0.5", "10.0.0.1:1"),
        "203.0.113.7"
    );
    assert_eq!(ip("203.0.113.7", "198.51.100.1:1"), "198.51.100.1");
    assert_eq!(ip("garbage, 10.0.0.9", "10.0.0.1:1"), "10.0.0.9");
}

#[test]
fn request_ids_are_echoed_or_generated_uniquely() {
    let ids = RequestIds::default();
    let given = TestRequest::get()
        .insert_header(("x-request-id", "abc"))
        .to_http_request();
    assert_eq!(ids.for_request(&given), "abc");
    for refused in ["has space", "café"] {
        let odd = TestRequest::get()
            .insert_header(("x-request-id", refused))
            .to_http_request();
        assert_ne!(ids.for_request(&odd), refused);
    }
    let long = TestRequest::get()
        .insert_header(("x-request-id", "x".repeat(129)))
        .to_http_request();
    assert_eq!(ids.for_request(&long).len(), 21);
    let plain = TestRequest::get().to_http_request();
    let (first, second) = (ids.for_request(&plain), ids.for_request(&plain));
    assert_ne!(first, second);
    let text = second.to_str().unwrap();
    assert_eq!(&text[..9], format!("{:08x}-", ids.prefix));
    assert_eq!(&text[9..], "000000000004");
}

#[test]
fn client_addresses_are_written_as_display_writes_them() {
    let mut buf = [0u8; 48];
    let mut check = |ip: IpAddr| {
        let text = format_ip(ip, &mut buf).to_vec();
        assert_eq!(String::from_utf8(text).unwrap(), ip.to_string());
    };
    // Every octet value, in every position (one, two and three digits each).
    for octet in 0..=255u8 {
        for position in 0..4 {
            let mut octets = [7, 10, 192, 255];
            octets[position] = octet;
            check(IpAddr::from(octets));
        }
    }
    check("2001:db8::1".parse().unwrap());
    check("::ffff:192.0.2.1".parse().unwrap());
    check(
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap(),
    );
}
