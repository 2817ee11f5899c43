//! What the TLS tests share: a test CA and certificates made with rcgen, the balancer started
//! with a TLS listener, curl as the HTTP/1.1 and HTTP/2 client, a rustls client that keeps
//! one connection open and reports the certificate it was served, and an HTTPS client built
//! from rustls and hyper (`https`).

#![allow(dead_code)] // Each test crate uses part of this module.

pub mod https;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::client::ClientSessionStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use test_support::balancer::Balancer;

/// A test CA in a temporary directory, and the files of the certificates it issues.
pub struct Pki {
    pub dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
}

/// One issued certificate: its PEM files and its DER, to recognise it when served.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Its own name: OpenSSL takes a leaf whose issuer equals its subject for self-signed.
        params
            .distinguished_name
            .push(DnType::CommonName, "balancer test CA");
        let key = KeyPair::generate().unwrap();
        let ca = params.self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Self {
            dir,
            issuer: Issuer::new(params, key),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A new key and certificate for `localhost`, written as `<stem>.crt` and `<stem>.key`.
    pub fn issue(&self, stem: &str) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let issued = Issued {
            cert: self.dir.path().join(format!("{stem}.crt")),
            key: self.dir.path().join(format!("{stem}.key")),
            der: cert.der().to_vec(),
        };
        std::fs::write(&issued.cert, cert.pem()).unwrap();
        std::fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }
}

/// Starts the balancer with a TLS listener on port 0 serving `issued`; returns it with the
/// TLS listener's address, once a backend is healthy.
pub fn start_tls(issued: &Issued, args: &[&str]) -> (Balancer, String) {
    let mut all = vec!["--tls-listen", "127.0.0.1:0"];
    all.extend(["--tls-cert", issued.cert.to_str().unwrap()]);
    all.extend(["--tls-key", issued.key.to_str().unwrap()]);
    all.extend(args);
    let balancer = Balancer::start_unready(&all);
    let tls = balancer.wait_line("balancer listening on https://", Duration::from_secs(20));
    balancer.wait_line("stack ready", Duration::from_secs(60));
    (balancer, tls)
}

/// One exchange made by curl.
#[derive(Debug)]
pub struct Exchange {
    pub ok: bool,
    pub version: String,
    pub status: u16,
    pub head: String,
    pub body: String,
    pub stderr: String,
}

impl Exchange {
    /// A response header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// `curl` to `https://localhost:PORT{path}` at the TLS listener `address`, trusting `ca`,
/// with `extra` flags (`--http2`, `--http1.1`, TLS version bounds...).
pub fn curl_https(ca: &Path, address: &str, path: &str, extra: &[&str]) -> Exchange {
    let port = address.rsplit(':').next().unwrap();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    curl(
        &[
            "--cacert",
            ca.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
        ],
        extra,
    )
}

/// `curl` with `args` then `extra`: the head, body and HTTP version of the answer.
pub fn curl(args: &[&str], extra: &[&str]) -> Exchange {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", "-w", "\n%{http_version}"])
        .args(args)
        .args(extra)
        .output()
        .expect("curl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (answer, version) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Exchange {
        ok: output.status.success(),
        version: version.to_owned(),
        status,
        head: head.to_owned(),
        body: body.to_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A kept-alive HTTP/1.1 connection over TLS (rustls, trusting only the test CA).
pub struct TlsConnection {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3) trusting exactly `roots`.
pub fn trusting(roots: rustls::RootCertStore) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A rustls client configuration trusting only the test CA; `sessions` keeps what the server
/// issues for resumption (rustls' own in-memory cache when `None`).
pub fn client_config(
    ca: &Path,
    sessions: Option<Arc<dyn ClientSessionStore>>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca).unwrap())
        .unwrap();
    let mut config = trusting(roots);
    if let Some(sessions) = sessions {
        config.resumption = rustls::client::Resumption::store(sessions);
    }
    Arc::new(config)
}

impl TlsConnection {
    pub fn open(ca: &Path, address: &str) -> Self {
        Self::open_with(client_config(ca, None), address)
    }

    /// A connection made with `config`, so several connections can share its session store.
    pub fn open_with(config: Arc<rustls::ClientConfig>, address: &str) -> Self {
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(config, name).unwrap();
        let socket = TcpStream::connect(address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        // Completes the handshake, so the certificate is known before any request.
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        Self { stream }
    }

    /// Whether the handshake resumed an earlier session instead of a full one.
    pub fn resumed(&self) -> bool {
        self.stream.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    /// The protocol agreed by ALPN.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.stream.conn.alpn_protocol()
    }

    /// Writes raw bytes (an HTTP/2 client's frames, say).
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Everything the server sends until it closes the connection (or an error ends it).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut received = Vec::new();
        let _ = self.stream.read_to_end(&mut received);
        received
    }

    /// The leaf certificate this connection was served.
    pub fn served(&self) -> Vec<u8> {
        self.stream.conn.peer_certificates().unwrap()[0].to_vec()
    }

    /// `GET path` on this connection: the status and body (which must carry a length).
    pub fn get(&mut self, path: &str) -> (u16, String) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut buf).unwrap();
            assert!(n > 0, "the connection closed mid-response");
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("a content-length");
            if body.len() >= length {
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return (status, body[..length].to_owned());
            }
        }
    }
}
