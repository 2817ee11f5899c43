//! The TLS listener end to end, with curl as the client: HTTP/1.1 and HTTP/2 (by ALPN) reach a
//! backend as HTTP/1.1 with `Host` and `X-Forwarded-Proto: https`; a backend's interim
//! responses reach both ahead of the final one; TLS 1.0 and 1.1 are refused; `--redirect-http`
//! sends plain requests to HTTPS except ACME challenges; HSTS is sent over TLS only; cache
//! entries are kept apart per scheme; a silent client cannot hold a connection slot past the
//! handshake timeout; a returning client resumes with the one ticket each handshake issues.
//! HTTP/2's own behaviour and bounds are in tests/http2.rs.

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
use test_support::balancer::{Script, ScriptedOrigin, Upstream, config_file};
use test_support::poll::wait_for;
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
