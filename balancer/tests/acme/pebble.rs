//! Pebble, Let's Encrypt's test CA (Debian package `pebble`), run for real: its HTTPS
//! certificate made here with rcgen, its HTTP-01 validations sent to the balancer's plain
//! port, and names resolved by `pebble-challtestsrv` as its DNS server, told through its
//! management API to map the test domain to 127.0.0.1.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use test_support::{Process, eventually};

use crate::tls_support::https::{HttpsConnection, client_config};

/// A port that was free a moment ago on 127.0.0.1, for TCP and UDP alike, and not handed out
/// before in this process. It comes from below the kernel's ephemeral range: Pebble binds it
/// later, a restarted Pebble again, and meanwhile any outgoing connection on the machine may
/// take a port of that range as its own (once, in CI, a restarted Pebble never came up).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let (low, high) = (ephemeral / 3, ephemeral);
    let mut handed_out = HANDED_OUT.lock().unwrap();
    loop {
        let draw = RandomState::new().build_hasher().finish();
        let port = low + (draw % u64::from(high - low)) as u16;
        if !handed_out.contains(&port)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            handed_out.insert(port);
            return port;
        }
    }
}

/// A CA made for Pebble's own HTTPS and a certificate it signed for 127.0.0.1, as files.
pub struct PebbleTls {
    dir: tempfile::TempDir,
    pub ca_pem: String,
}

impl PebbleTls {
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Self {
            dir,
            ca_pem: ca.pem(),
        }
    }

    /// The root the balancer must trust for Pebble's HTTPS (`--acme-ca-root`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

/// `pebble-challtestsrv` as a DNS server only (its own challenge servers off).
pub struct Dns {
    _process: Process,
    pub address: String,
    management: String,
}

impl Dns {
    pub async fn start() -> Self {
        let (dns, management) = (free_port(), free_port());
        let address = format!("127.0.0.1:{dns}");
        let management = format!("127.0.0.1:{management}");
        let process = Process::spawn(
            Command::new("pebble-challtestsrv")
                .args(["-dns01", &address, "-management", &management])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                // No default answers: a name resolves only once mapped (`map_to_loopback`).
                .args(["-defaultIPv4", "", "-defaultIPv6", ""])
                .stderr(Stdio::null()),
        );
        let dns = Self {
            _process: process,
            address,
            management,
        };
        let up = eventually(Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(&dns.management)
                .await
                .is_ok()
        })
        .await;
        assert!(up, "pebble-challtestsrv did not start");
        dns
    }

    /// Answers A queries for `host` with 127.0.0.1.
    pub async fn map_to_loopback(&self, host: &str) {
        let body = serde_json::json!({ "host": host, "addresses": ["127.0.0.1"] });
        let response = reqwest::Client::new()
            .post(format!("http://{}/add-a", self.management))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "add-a: {response:?}");
    }
}

/// A running Pebble; its state (accounts, orders, roots) dies with it, as by design.
pub struct Pebble {
    _process: Process,
    _config: tempfile::TempDir,
    management: u16,
    management_tls: rustls::ClientConfig,
}

impl Pebble {
    /// Starts Pebble on `acme_port`, validating HTTP-01 on `http_port` of whatever address
    /// `dns` gives, and waits until it answers.
    pub async fn start(tls: &PebbleTls, dns: &Dns, acme_port: u16, http_port: u16) -> Self {
        let management = free_port();
        let config = tempfile::tempdir().unwrap();
        let text = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": tls.dir.path().join("cert.pem"),
            "privateKey": tls.dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let path = config.path().join("pebble.json");
        std::fs::write(&path, text.to_string()).unwrap();
        let process = Process::spawn(
            Command::new("pebble")
                .arg("-config")
                .arg(&path)
                .args(["-dnsserver", &dns.address])
                // Validate at once instead of after a random pause of up to 15 s.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .stderr(Stdio::null()),
        );
        let pebble = Self {
            _process: process,
            _config: config,
            management,
            management_tls: client_config(&[&tls.ca_pem], &[b"http/1.1"]),
        };
        let up = eventually(Duration::from_secs(20), || async {
            pebble.try_root().await.is_some()
                && std::net::TcpStream::connect(("127.0.0.1", acme_port)).is_ok()
        })
        .await;
        assert!(up, "pebble did not start");
        pebble
    }

    async fn try_root(&self) -> Option<String> {
        let address = format!("127.0.0.1:{}", self.management);
        let tls = self.management_tls.clone();
        let mut connection = HttpsConnection::open(&address, "127.0.0.1", tls)
            .await
            .ok()?;
        let answer = connection.get("/roots/0").await.ok()?;
        (answer.status == 200).then_some(answer.body)
    }

    /// The root this Pebble run issues under (new on every start).
    pub async fn root_pem(&self) -> String {
        self.try_root().await.expect("Pebble's root certificate")
    }
}
