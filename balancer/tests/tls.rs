//! The TLS listener end to end, with curl as the client: HTTP/1.1 and HTTP/2 (by ALPN) reach a
//! backend as HTTP/1.1 with `Host` and `X-Forwarded-Proto: https`; TLS 1.0 and 1.1 are
//! refused; `--redirect-http` sends plain requests to HTTPS except ACME challenges; HSTS is
//! sent over TLS only; cache entries are kept apart per scheme; a silent client cannot hold a
//! connection slot past the handshake timeout; a returning client resumes with the one ticket
//! each handshake issues; a backend's interim responses reach HTTP/1.1 clients over TLS, and
//! HTTP/2 clients get the final response alone; an HTTP/2 client that resets every stream it
//! opens, or makes the server reset it, gets a GOAWAY, and its requests do not reach the
//! backend; HTTP/2 header blocks and the header lists they decode to are bounded and timed like
//! HTTP/1 heads.

mod tls_support;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::NamedGroup;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use test_support::balancer::{Script, ScriptedOrigin, Upstream, admin_json, config_file};
use test_support::poll::wait_for;
use tls_support::https::{self, HttpsConnection};
use tls_support::{Pki, TlsConnection, client_config, curl, curl_https, start_tls};

#[test]
fn http1_and_http2_reach_the_backend_as_http1_with_host_and_forwarded_proto() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let port = tls.rsplit(':').next().unwrap();
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let answer = curl_https(&pki.ca(), &tls, "/anything?q=1", &[flag]);
        assert!(answer.ok, "{answer:?}");
        assert_eq!((answer.version.as_str(), answer.status), (version, 200));
        let seen = answer.json();
        let headers = seen["headers"].as_object().unwrap();
        assert_eq!(headers["x-forwarded-proto"], "https", "{seen}");
        assert_eq!(headers["host"], format!("localhost:{port}"), "{seen}");
        assert_eq!(headers["x-forwarded-host"], format!("localhost:{port}"));
        assert_eq!(seen["path"], "/anything?q=1");
        for name in headers.keys() {
            assert!(!name.starts_with(':'), "pseudo-header {name} forwarded");
            assert!(!["connection", "te", "upgrade", "keep-alive"].contains(&name.as_str()));
        }
    }
    // An HTTP/2 upload arrives whole, framed for HTTP/1.1.
    let body = "x".repeat(100_000);
    let upload = curl_https(
        &pki.ca(),
        &tls,
        "/echo-body",
        &[
            "--http2",
            "--data-binary",
            &body,
            "-H",
            "content-type: text/plain",
        ],
    );
    assert_eq!((upload.version.as_str(), upload.status), ("2", 200));
    assert_eq!(upload.body, body);
    let plain = curl(&[&format!("{}/anything", balancer.url)], &[]);
    assert_eq!(plain.json()["headers"]["x-forwarded-proto"], "http");
}

#[test]
fn an_http2_request_body_reaches_the_backend_whole_without_a_length_or_behind_expect() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    // Larger than the 64 KiB retry buffer and than h2's 16 KiB frames; printable for curl -i.
    let body: String = (0..200_000)
        .map(|n| char::from(b'a' + (n % 26) as u8))
        .collect();
    std::fs::write(&file, &body).unwrap();
    let data = format!("@{}", file.display());
    let variants: [&[&str]; 3] = [
        // `content-length:` with no value: curl sends the body as DATA frames with no length,
        // which HTTP/2 allows (RFC 9113 section 8.1.1); the backend gets it chunked.
        &["-H", "content-length:"],
        &[],
        // The body held back until a 100 Continue, which must come before curl's 10 s.
        &["-H", "expect: 100-continue", "--expect100-timeout", "10"],
    ];
    for variant in variants {
        let mut flags = vec!["--http2", "-X", "POST", "--data-binary", &data];
        flags.extend(variant);
        let started = Instant::now();
        let answer = curl_https(&pki.ca(), &tls, "/echo-body", &flags);
        let took = started.elapsed();
        assert_eq!(answer.version, "2");
        // curl -i prints a 100 Continue head first; the final one then begins `body`.
        let (status, echoed) = match answer.status {
            100 => answer.body.split_once("\r\n\r\n").unwrap(),
            _ => (answer.head.as_str(), answer.body.as_str()),
        };
        assert!(status.starts_with("HTTP/2 200"), "{variant:?}: {status}");
        assert_eq!(echoed.len(), body.len(), "{variant:?}");
        assert!(echoed == body, "{variant:?}: the body changed on the way");
        assert!(took < Duration::from_secs(5), "{variant:?}: took {took:?}");
    }
}

#[test]
fn interim_responses_reach_http1_and_http2_clients_ahead_of_the_final_one() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let origin = ScriptedOrigin::start();
    origin.script(
        "/hints",
        Script::new(200, &[], "final").with_interim(103, &[("link", "</a.css>; rel=preload")]),
    );
    let (_balancer, tls) = start_tls(&issued, &["--backend", &origin.url()]);
    // curl -i prints the interim head first: it is `head` here, the final one begins `body`.
    for (flag, version) in [("--http1.1", "HTTP/1.1"), ("--http2", "HTTP/2")] {
        let answer = curl_https(&pki.ca(), &tls, "/hints", &[flag]);
        assert_eq!(answer.status, 103, "{answer:?}");
        assert!(
            answer.head.contains("link: </a.css>; rel=preload"),
            "{answer:?}"
        );
        assert!(
            answer.body.starts_with(&format!("{version} 200")),
            "{answer:?}"
        );
        assert!(answer.body.ends_with("final"), "{answer:?}");
    }
}

#[test]
fn tls_1_0_and_1_1_are_refused_by_the_server_and_1_2_and_1_3_served() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    for (low, high) in [("--tlsv1.0", "1.0"), ("--tlsv1.1", "1.1")] {
        // SECLEVEL=0 makes OpenSSL offer the old versions, so the refusal is the server's.
        let old = curl_https(
            &pki.ca(),
            &tls,
            "/",
            &[low, "--tls-max", high, "--ciphers", "DEFAULT@SECLEVEL=0"],
        );
        assert!(!old.ok, "TLS {high} was accepted");
        assert!(
            old.stderr.contains("alert"),
            "not refused by the server: {}",
            old.stderr
        );
    }
    for (low, high) in [("--tlsv1.2", "1.2"), ("--tlsv1.3", "1.3")] {
        let served = curl_https(&pki.ca(), &tls, "/", &[low, "--tls-max", high]);
        assert_eq!(served.status, 200, "TLS {high}: {served:?}");
    }
}

#[test]
fn redirect_http_sends_plain_requests_to_https_but_not_acme_challenges() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&issued, &["--backend", &upstream.url(), "--redirect-http"]);
    let port = tls.rsplit(':').next().unwrap();
    for method in ["GET", "POST"] {
        let answer = curl(
            &[&format!("{}/history?limit=5", balancer.url)],
            &["-X", method, "-H", "Host: example.test:8080"],
        );
        assert_eq!(answer.status, 308, "{answer:?}");
        assert_eq!(
            answer.header("location").unwrap(),
            format!("https://example.test:{port}/history?limit=5")
        );
    }
    let hits = upstream
        .behaviour
        .hits
        .load(std::sync::atomic::Ordering::SeqCst);
    let challenge = curl(
        &[&format!(
            "{}/.well-known/acme-challenge/token-1",
            balancer.url
        )],
        &[],
    );
    assert_eq!(challenge.status, 200, "{challenge:?}");
    assert_eq!(
        challenge.json()["path"],
        "/.well-known/acme-challenge/token-1"
    );
    assert!(
        upstream
            .behaviour
            .hits
            .load(std::sync::atomic::Ordering::SeqCst)
            > hits
    );
    // HTTPS itself is served, not redirected.
    assert_eq!(curl_https(&pki.ca(), &tls, "/history", &[]).status, 200);
}

#[test]
fn hsts_is_sent_over_tls_only() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&issued, &["--backend", &upstream.url(), "--hsts", "600"]);
    for flag in ["--http1.1", "--http2"] {
        let secure = curl_https(&pki.ca(), &tls, "/", &[flag]);
        assert_eq!(
            secure.header("strict-transport-security").as_deref(),
            Some("max-age=600")
        );
    }
    let plain = curl(&[&format!("{}/", balancer.url)], &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("strict-transport-security"), None);
}

#[test]
fn cache_entries_are_not_shared_between_http_and_https() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let port = tls.rsplit(':').next().unwrap();
    // The same Host on both, so only the scheme tells the entries apart.
    let host = format!("Host: localhost:{port}");
    let plain = |_| curl(&[&format!("{}/cached/page", balancer.url)], &["-H", &host]);
    let secure = |_| curl_https(&pki.ca(), &tls, "/cached/page", &[]);
    let caches = |a: &tls_support::Exchange| a.header("x-cache").unwrap_or_default();
    assert_eq!(caches(&plain(())), "MISS");
    assert_eq!(caches(&plain(())), "HIT");
    assert_eq!(caches(&secure(())), "MISS");
    assert_eq!(caches(&secure(())), "HIT");
    assert_eq!(
        upstream
            .behaviour
            .hits
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[test]
fn a_silent_tls_client_holds_its_slot_only_until_the_handshake_times_out() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_dir, config) =
        config_file("[proxy]\nclient_request_timeout_ms = 500\nmax_connections_per_ip = 1\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--backend", &upstream.url(), "--config", &config],
    );
    let started = Instant::now();
    let mut silent = std::net::TcpStream::connect(&tls).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // While it holds the one slot of this address, a second connection is closed unanswered.
    let refused = curl_https(&pki.ca(), &tls, "/", &[]);
    assert!(!refused.ok && refused.status == 0, "{refused:?}");
    let mut sink = Vec::new();
    let _ = silent.read_to_end(&mut sink);
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(3),
        "the silent client was held {held:?}"
    );
    let served = wait_for(Duration::from_secs(5), || {
        (curl_https(&pki.ca(), &tls, "/", &[]).status == 200).then_some(())
    });
    assert!(served.is_some(), "the slot was not freed");
}

#[test]
fn one_http2_connection_has_at_most_128_streams_open_and_the_rest_are_refused() {
    const HEADERS: u8 = 0x1;
    const RST_STREAM: u8 = 0x3;
    const SETTINGS: u8 = 0x4;
    const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    const REFUSED_STREAM: u32 = 7;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    // A short keep-alive: the connection is closed (GOAWAY) once it idles, ending the read.
    let (_dir, config_path) = config_file("[proxy]\nkeep_alive_s = 1\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--config", &config_path, "--backend", &upstream.url()],
    );
    upstream.behaviour.delay_ms.store(1000, Ordering::SeqCst);
    // A client that ignores the server's SETTINGS opens 300 streams at once (h2load and
    // browsers keep to the announced bound, so they would queue instead).
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    let fields = [
        &[0x82, 0x87, 0x04, 5][..],
        b"/slow",
        &[0x01, 9],
        b"localhost",
    ]
    .concat();
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(SETTINGS, 0, 0, &[]));
    for n in 0..300 {
        sent.extend(http2_frame(HEADERS, 0x5, 2 * n + 1, &fields));
    }
    client.write(&sent).unwrap();
    let received = http2_frames(&client.read_to_end());
    let (_, _, _, settings) = received
        .iter()
        .find(|(kind, flags, _, _)| *kind == SETTINGS && *flags == 0)
        .expect("the server's SETTINGS");
    let announced = settings.chunks(6).find_map(|setting| {
        (u16::from_be_bytes([setting[0], setting[1]]) == MAX_CONCURRENT_STREAMS)
            .then(|| u32::from_be_bytes(setting[2..6].try_into().unwrap()))
    });
    assert_eq!(announced, Some(128));
    let refused = received
        .iter()
        .filter(|(kind, _, _, payload)| {
            *kind == RST_STREAM && payload[..] == REFUSED_STREAM.to_be_bytes()
        })
        .count();
    let answered = received
        .iter()
        .filter(|(kind, ..)| *kind == HEADERS)
        .count();
    assert_eq!((answered, refused), (128, 300 - 128));
    assert_eq!(upstream.behaviour.hits.load(Ordering::SeqCst), 128);
}

/// `GET https://localhost/` as an HPACK header block: `:method`, `:scheme` and `:path` from
/// the static table (RFC 7541 appendix A), then a literal `:authority`.
const GET_LOCALHOST: [u8; 14] = *b"\x82\x87\x84\x01\x09localhost";

/// A TLS client configuration that offers only `h2`.
fn h2_client_config(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut config = (*client_config(&pki.ca(), None)).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// An HTTP/2 frame: 9 bytes of header (length, type, flags, stream) and the payload.
fn http2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend([kind, flags]);
    frame.extend(stream.to_be_bytes());
    frame.extend(payload);
    frame
}

/// The frames in what a server sent on an HTTP/2 connection: type, flags, stream, payload (a
/// last frame cut short keeps what arrived).
fn http2_frames(mut received: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    while received.len() >= 9 {
        let length = u32::from_be_bytes([0, received[0], received[1], received[2]]) as usize;
        let stream = u32::from_be_bytes(received[5..9].try_into().unwrap()) & 0x7fff_ffff;
        let end = (9 + length).min(received.len());
        frames.push((received[3], received[4], stream, received[9..end].to_vec()));
        received = &received[end..];
    }
    frames
}

/// The GOAWAY error codes in what the server sent on an HTTP/2 connection.
fn goaway_codes(received: &[u8]) -> Vec<u32> {
    const GOAWAY: u8 = 0x7;
    http2_frames(received)
        .into_iter()
        .filter(|(kind, _, _, payload)| *kind == GOAWAY && payload.len() >= 8)
        .map(|(_, _, _, payload)| u32::from_be_bytes(payload[4..8].try_into().unwrap()))
        .collect()
}

#[test]
fn http2_clients_that_make_every_stream_they_open_reset_are_cut_off_and_others_are_served() {
    const HEADERS: u8 = 0x1;
    const RST_STREAM: u8 = 0x3;
    const WINDOW_UPDATE: u8 = 0x8;
    const END_STREAM_AND_HEADERS: u8 = 0x5;
    const CANCEL: u32 = 8;
    const PROTOCOL_ERROR: u32 = 1;
    const ENHANCE_YOUR_CALM: u32 = 11;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let config = h2_client_config(&pki);
    let fields = GET_LOCALHOST;
    // Rapid reset (CVE-2023-44487): each request cancelled at once. "MadeYouReset"
    // (CVE-2025-8671): each followed by a frame the server must reset the stream for (a
    // WINDOW_UPDATE of 0). 2,000 requests, 50 to a write; the writes stop when the server has
    // closed.
    let attacks = [
        ("rapid reset", RST_STREAM, CANCEL, ENHANCE_YOUR_CALM),
        ("reset provoked", WINDOW_UPDATE, 0, PROTOCOL_ERROR),
    ];
    for (attack, kind, value, expected) in attacks {
        let mut attacker = TlsConnection::open_with(config.clone(), &tls);
        let started = Instant::now();
        assert_eq!(attacker.alpn(), Some(&b"h2"[..]));
        let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        sent.extend(http2_frame(0x4, 0, 0, &[]));
        for batch in 0..40u32 {
            for n in 0..50 {
                let stream = 2 * (batch * 50 + n) + 1;
                sent.extend(http2_frame(
                    HEADERS,
                    END_STREAM_AND_HEADERS,
                    stream,
                    &fields,
                ));
                sent.extend(http2_frame(kind, 0, stream, &value.to_be_bytes()));
            }
            if attacker.write(&std::mem::take(&mut sent)).is_err() {
                break;
            }
        }
        // The server closes the connection (the client's read timeout is 10 s). Its GOAWAY
        // may be lost: closing with the attacker's frames unread resets the connection.
        let codes = goaway_codes(&attacker.read_to_end());
        let held = started.elapsed();
        assert!(held < Duration::from_secs(5), "{attack}: held {held:?}");
        assert!(
            codes.iter().all(|code| *code == expected),
            "{attack}: {codes:?}"
        );
    }
    let forwarded = upstream.behaviour.hits.load(Ordering::SeqCst);
    assert!(
        forwarded < 100,
        "{forwarded} reset requests reached the backend"
    );
    // Another connection from the same address is served.
    let (status, _) = TlsConnection::open(&pki.ca(), &tls).get("/");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_cookie_fields_reach_the_backend_joined_into_one() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let ca = std::fs::read_to_string(pki.ca()).unwrap();
    let config = https::client_config(&[&ca], &[b"h2"]);
    let mut client = HttpsConnection::open(&tls, "localhost", config)
        .await
        .unwrap();
    // Browsers send one cookie field per pair over HTTP/2 (RFC 9113 section 8.2.3).
    let fields = [("cookie", "a=1"), ("cookie", "b=2"), ("cookie", "c=3")];
    let answer = client.get_with("/anything", &fields).await.unwrap();
    assert_eq!(answer.version, hyper::Version::HTTP_2);
    let seen: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    // The backend's echo keeps the last of repeated fields: split, it would show "c=3".
    assert_eq!(seen["headers"]["cookie"], "a=1; b=2; c=3", "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_header_list_decoding_past_64_kib_gets_a_json_431() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let ca = std::fs::read_to_string(pki.ca()).unwrap();
    let config = https::client_config(&[&ca], &[b"h2"]);
    let mut client = HttpsConnection::open(&tls, "localhost", config)
        .await
        .unwrap();
    // HPACK stores the 4,000-byte field once and refers to it after: a block of about 4 KB
    // that decodes to 20 x 4,037 bytes by RFC 9113's measure, past the 64 KiB bound; 10 are
    // within it.
    let value = "a".repeat(4000);
    for (copies, status) in [(20, 431), (10, 200)] {
        let fields = vec![("x-big", value.as_str()); copies];
        let answer = client.get_with("/", &fields).await.unwrap();
        assert_eq!(
            (answer.version, answer.status),
            (hyper::Version::HTTP_2, status)
        );
        if status == 431 {
            let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
            assert_eq!(body["error"], "headers_too_large", "{body}");
        }
    }
    assert_eq!(upstream.behaviour.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn an_http2_header_block_that_never_ends_is_cut_off_past_64_kib_or_the_request_timeout() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_dir, config_path) = config_file("[proxy]\nclient_request_timeout_ms = 2000\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--backend", &upstream.url(), "--config", &config_path],
    );
    let config = h2_client_config(&pki);
    let mut opening = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    opening.extend(http2_frame(0x4, 0, 0, &[]));
    // A HEADERS frame without END_HEADERS: GET https://localhost/ and more to come.
    opening.extend(http2_frame(0x1, 0, 1, &[0x82, 0x87, 0x84]));
    // A CONTINUATION flood: frames of one 16,000-byte literal field each, 80 KB in all; h2
    // alone would wait for 16 MiB. Then a block that stops after its first frame: h2 alone
    // would wait as long as the client answers its pings.
    let field = [
        &[0x00, 5][..],
        b"x-pad",
        &[0x7f, 0x81, 0x7c],
        &[b'p'; 16_000],
    ]
    .concat();
    let flood = [opening.clone(), http2_frame(0x9, 0, 1, &field).repeat(5)].concat();
    // The flood is cut by size, well before the 2 s timeout; the stalled block by the timeout
    // (the client's own read timeout is 10 s).
    let ms = Duration::from_millis;
    for (attack, sent, cut) in [
        ("flood", flood, ms(0)..ms(1500)),
        ("stalled block", opening, ms(1900)..ms(8000)),
    ] {
        let mut attacker = TlsConnection::open_with(config.clone(), &tls);
        let started = Instant::now();
        let _ = attacker.write(&sent);
        attacker.read_to_end();
        let held = started.elapsed();
        assert!(cut.contains(&held), "the {attack} was held {held:?}");
    }
    assert_eq!(upstream.behaviour.hits.load(Ordering::SeqCst), 0);
    let (status, _) = TlsConnection::open(&pki.ca(), &tls).get("/");
    assert_eq!(status, 200);
}

#[test]
fn an_idle_http2_connection_is_closed_with_goaway_after_the_keep_alive_but_not_under_a_request() {
    const GOAWAY: u8 = 0x7;
    const NO_ERROR: u32 = 0;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_dir, config_path) = config_file("[proxy]\nkeep_alive_s = 1\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--config", &config_path, "--backend", &upstream.url()],
    );
    // The request takes twice the keep-alive; the connection is idle only after it.
    upstream.behaviour.delay_ms.store(2000, Ordering::SeqCst);
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(0x4, 0, 0, &[]));
    sent.extend(http2_frame(0x1, 0x5, 1, &GET_LOCALHOST));
    let started = Instant::now();
    client.write(&sent).unwrap();
    // This client answers nothing, not even the server's pings; it only reads.
    let received = http2_frames(&client.read_to_end());
    let held = started.elapsed();
    let answered = received
        .iter()
        .position(|(kind, _, stream, _)| *kind == 0x1 && *stream == 1);
    let goaway = received.iter().position(|(kind, _, _, payload)| {
        *kind == GOAWAY && payload[4..8] == NO_ERROR.to_be_bytes()
    });
    assert!(answered.is_some(), "{received:?}");
    assert!(goaway > answered, "{received:?}");
    // 2 s of request, 1 s of keep-alive, at most 1 s for the GOAWAY to be acknowledged.
    assert!(
        held > Duration::from_millis(2900) && held < Duration::from_secs(6),
        "held {held:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_client_resets_releases_its_upstream_request_at_once() {
    const RST_STREAM: u8 = 0x3;
    const CANCEL: u32 = 8;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    upstream.behaviour.delay_ms.store(3000, Ordering::SeqCst);
    let admin = test_support::balancer::client();
    let in_flight = || async {
        let backends = admin_json(&admin, &balancer, "/backends").await;
        backends[0]["in_flight"].as_u64().unwrap()
    };
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(0x4, 0, 0, &[]));
    sent.extend(http2_frame(0x1, 0x5, 1, &GET_LOCALHOST));
    client.write(&sent).unwrap();
    let started = Instant::now();
    while upstream.behaviour.hits.load(Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never forwarded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(in_flight().await, 1);
    client
        .write(&http2_frame(RST_STREAM, 0, 1, &CANCEL.to_be_bytes()))
        .unwrap();
    let reset = Instant::now();
    // The backend answers 3 s after the request; the proxy lets go well before.
    while in_flight().await != 0 {
        assert!(
            reset.elapsed() < Duration::from_secs(1),
            "upstream request still held"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_request_id_goes_to_http2_clients_as_a_never_indexed_field() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_dir, config_path) = config_file("[proxy]\nkeep_alive_s = 1\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--config", &config_path, "--backend", &upstream.url()],
    );
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(0x4, 0, 0, &[]));
    sent.extend(http2_frame(0x1, 0x5, 1, &GET_LOCALHOST));
    client.write(&sent).unwrap();
    let received = http2_frames(&client.read_to_end());
    let (_, _, _, block) = received
        .iter()
        .find(|(kind, _, stream, _)| *kind == 0x1 && *stream == 1)
        .expect("a response head");
    // A value unique to each response must stay out of the connection's HPACK table, where
    // it would evict the fields that repeat (the cost measured in proxy/response_filter.rs).
    // X-Request-Id is the one such field here.
    assert_eq!(never_indexed_fields(block), 1, "{block:?}");
}

/// How many fields of an HPACK header block (RFC 7541 section 6) are never-indexed literals.
fn never_indexed_fields(mut block: &[u8]) -> usize {
    fn integer(block: &mut &[u8], prefix_bits: u32) -> usize {
        let max = (1usize << prefix_bits) - 1;
        let mut value = (block[0] as usize) & max;
        *block = &block[1..];
        if value == max {
            let mut shift = 0;
            loop {
                let byte = block[0];
                *block = &block[1..];
                value += ((byte & 0x7f) as usize) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
            }
        }
        value
    }
    fn string(block: &mut &[u8]) {
        let length = integer(block, 7);
        *block = &block[length..];
    }
    let mut never_indexed = 0;
    while !block.is_empty() {
        let first = block[0];
        if first & 0x80 != 0 {
            integer(&mut block, 7); // indexed field
            continue;
        }
        if first & 0xe0 == 0x20 {
            integer(&mut block, 5); // dynamic table size update
            continue;
        }
        let prefix = if first & 0x40 != 0 { 6 } else { 4 };
        never_indexed += usize::from(first & 0xf0 == 0x10);
        if integer(&mut block, prefix) == 0 {
            string(&mut block); // a literal name
        }
        string(&mut block);
    }
    never_indexed
}

#[test]
fn on_sigterm_an_http2_request_in_progress_is_answered_then_the_connection_gets_goaway() {
    const GOAWAY: u8 = 0x7;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (mut balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    upstream.behaviour.delay_ms.store(1000, Ordering::SeqCst);
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(0x4, 0, 0, &[]));
    sent.extend(http2_frame(0x1, 0x5, 1, &GET_LOCALHOST));
    client.write(&sent).unwrap();
    let arrived = wait_for(Duration::from_secs(5), || {
        (upstream.behaviour.hits.load(Ordering::SeqCst) == 1).then_some(())
    });
    assert!(arrived.is_some(), "the request reached the backend");
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &balancer.pid().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let received = http2_frames(&client.read_to_end());
    // The response (HEADERS with :status 200, from the static table) and its last DATA frame.
    let answered = received.iter().any(|(kind, _, stream, block)| {
        *kind == 0x1 && *stream == 1 && block.first() == Some(&0x88)
    });
    let ended = received
        .iter()
        .any(|(kind, flags, stream, _)| *kind == 0x0 && *stream == 1 && flags & 0x1 == 1);
    assert!(answered && ended, "{received:?}");
    assert!(
        received.iter().any(|(kind, ..)| *kind == GOAWAY),
        "{received:?}"
    );
    assert!(balancer.terminate(), "the balancer exits cleanly");
}

#[test]
fn an_http2_response_whose_client_opens_no_window_is_reset_after_the_send_timeout() {
    const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
    const RST_STREAM: u8 = 0x3;
    const CANCEL: u32 = 8;
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_dir, config_path) = config_file("[proxy]\nsend_timeout_s = 1\nkeep_alive_s = 1\n");
    let (_balancer, tls) = start_tls(
        &issued,
        &["--config", &config_path, "--backend", &upstream.url()],
    );
    let mut client = TlsConnection::open_with(h2_client_config(&pki), &tls);
    // A stream window of 0, never opened: the response head can go, its body cannot.
    let zero_window = [&SETTINGS_INITIAL_WINDOW_SIZE.to_be_bytes()[..], &[0; 4]].concat();
    let mut sent = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    sent.extend(http2_frame(0x4, 0, 0, &zero_window));
    sent.extend(http2_frame(0x1, 0x5, 1, &GET_LOCALHOST));
    let started = Instant::now();
    client.write(&sent).unwrap();
    // Without the bound the stream stays open, the connection never idles, and the read
    // runs into the client's 10 s timeout with no reset.
    let received = http2_frames(&client.read_to_end());
    let held = started.elapsed();
    let reset = received.iter().any(|(kind, _, stream, payload)| {
        *kind == RST_STREAM && *stream == 1 && payload[..] == CANCEL.to_be_bytes()
    });
    assert!(reset, "{received:?}");
    assert!(
        !received.iter().any(|(kind, ..)| *kind == 0x0),
        "{received:?}"
    );
    assert!(held < Duration::from_secs(5), "held {held:?}");
    assert_eq!(upstream.behaviour.hits.load(Ordering::SeqCst), 1);
}

#[test]
fn a_returning_client_resumes_its_session_with_the_one_ticket_each_handshake_issues() {
    let pki = Pki::new();
    let issued = pki.issue("site");
    let upstream = Upstream::start("a");
    let (_balancer, tls) = start_tls(&issued, &["--backend", &upstream.url()]);
    let tickets = Arc::new(CountedTickets::default());
    let config = client_config(&pki.ca(), Some(tickets.clone()));
    for (handshake, resumed) in [(1, false), (2, true), (3, true)] {
        let mut connection = TlsConnection::open_with(config.clone(), &tls);
        assert_eq!(connection.resumed(), resumed, "handshake {handshake}");
        // Tickets follow the handshake; a request's answer is read after them.
        assert_eq!(connection.get("/").0, 200);
        // One per handshake (nginx sends two on a full one): each is used once, and every
        // connection, resumed or not, brings the next.
        assert_eq!(tickets.issued.load(Ordering::SeqCst), handshake);
    }
}

/// The client's session cache, counting the TLS 1.3 tickets the server issues.
#[derive(Debug)]
struct CountedTickets {
    sessions: ClientSessionMemoryCache,
    issued: AtomicUsize,
}

impl Default for CountedTickets {
    fn default() -> Self {
        Self {
            sessions: ClientSessionMemoryCache::new(16),
            issued: AtomicUsize::new(0),
        }
    }
}

impl ClientSessionStore for CountedTickets {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.sessions.set_kx_hint(name, group)
    }

    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.sessions.kx_hint(name)
    }

    fn set_tls12_session(&self, name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.sessions.set_tls12_session(name, value)
    }

    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.sessions.tls12_session(name)
    }

    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.sessions.remove_tls12_session(name)
    }

    fn insert_tls13_ticket(&self, name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.issued.fetch_add(1, Ordering::SeqCst);
        self.sessions.insert_tls13_ticket(name, value)
    }

    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.sessions.take_tls13_ticket(name)
    }
}
