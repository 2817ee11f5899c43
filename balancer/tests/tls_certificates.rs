//! Static certificates: a SIGHUP reload serves the new certificate to new connections while an
//! open keep-alive connection goes on working, a broken reload keeps the certificate served,
//! a SIGHUP with no certificate to reload stops nothing, and a missing, unparsable or
//! mismatched certificate or key stops the start-up with a message naming the file.

mod tls_support;

use std::time::Duration;

use test_support::balancer::{Balancer, Upstream, balancer_command, raw_exchange, send_signal};
use test_support::poll::wait_for;
use tls_support::{Pki, TlsConnection, start_tls};

#[test]
fn sighup_serves_the_new_certificate_and_keeps_open_connections() {
    let pki = Pki::new();
    let first = pki.issue("site");
    let upstream = Upstream::start("a");
    let (balancer, tls) = start_tls(&first, &["--backend", &upstream.url()]);
    let mut kept = TlsConnection::open(&pki.ca(), &tls);
    assert_eq!(kept.served(), first.der);
    assert_eq!(kept.get("/one").0, 200);

    // A new certificate and key in place of the old files.
    let second = pki.issue("next");
    std::fs::rename(&second.cert, &first.cert).unwrap();
    std::fs::rename(&second.key, &first.key).unwrap();
    send_signal(balancer.pid(), "HUP");
    let reloaded = wait_for(Duration::from_secs(10), || {
        (TlsConnection::open(&pki.ca(), &tls).served() == second.der).then_some(())
    });
    assert!(reloaded.is_some(), "the new certificate was never served");
    assert_eq!(
        kept.get("/two").0,
        200,
        "the open connection stopped working"
    );
    assert_eq!(kept.served(), first.der);

    // A broken file: the reload fails and the current certificate stays.
    std::fs::write(&first.cert, "not a certificate").unwrap();
    send_signal(balancer.pid(), "HUP");
    std::thread::sleep(Duration::from_millis(500));
    let mut after = TlsConnection::open(&pki.ca(), &tls);
    assert_eq!(after.served(), second.der);
    assert_eq!(after.get("/three").0, 200);
    assert_eq!(kept.get("/four").0, 200);
}

// `systemctl reload` sends SIGHUP whatever the configuration; its default action would end the
// balancer.
#[test]
fn sighup_without_static_certificates_keeps_the_balancer_serving() {
    let upstream = Upstream::start("a");
    let mut balancer = Balancer::start(&["--backend", &upstream.url()]);
    for _ in 0..2 {
        send_signal(balancer.pid(), "HUP");
        std::thread::sleep(Duration::from_millis(300));
        let address = balancer.url.trim_start_matches("http://");
        let request = b"GET /after-hangup HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answer = raw_exchange(address, request);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert!(balancer.terminate(), "the balancer did not stop cleanly");
}

/// Runs the balancer with a TLS listener on `cert` and `key`; returns its stderr after it exits
/// (it must, with a failure status).
fn refused_start(cert: &str, key: &str) -> String {
    let mut command = balancer_command(&[
        "--backend",
        "http://127.0.0.1:9",
        "--tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ]);
    let output = command.output().expect("the balancer runs");
    assert!(!output.status.success(), "started with {cert} and {key}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_bad_certificate_or_key_stops_the_start_up_naming_the_file() {
    let pki = Pki::new();
    let good = pki.issue("good");
    let other = pki.issue("other");
    let (cert, key) = (good.cert.to_str().unwrap(), good.key.to_str().unwrap());
    let missing = pki.dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let other_key = other.key.to_str().unwrap();

    let cases = [
        (missing, key, missing, "cannot read"),
        (cert, missing, missing, "cannot read"),
        (garbage, key, garbage, "not valid PEM"),
        (empty, key, empty, "no CERTIFICATE"),
        (cert, empty, empty, "private key"),
        (key, cert, key, "CERTIFICATE"),
        (cert, other_key, other_key, "does not match"),
    ];
    for (cert, key, named, reason) in cases {
        let stderr = refused_start(cert, key);
        assert!(stderr.contains(named), "{cert} {key}: {stderr}");
        assert!(stderr.contains(reason), "{cert} {key}: {stderr}");
    }
}
