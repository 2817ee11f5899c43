//! Automatic certificates against a real ACME server, Pebble (SLOW: each test runs Pebble, its
//! DNS server and the balancer for a few seconds; Pebble's validation pauses are turned off).
//! Each balancer starts before its Pebble, as Pebble must know the plain port to validate on:
//! so every test also sees the ACME server down at start-up, plain HTTP serving meanwhile, and
//! issuance once Pebble is up. Certificates are checked as a client sees them: the chain
//! verified against the root of the Pebble run that issued it, over HTTP/2 and HTTP/1.1.

mod acme {
    pub mod pebble;
}
mod tls_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use acme::pebble::{Dns, Pebble, PebbleTls, free_port};
use test_support::balancer::{Upstream, balancer_command};
use test_support::{Logs, Process, eventually};
use tls_support::https::{HttpsConnection, client_config};

const DOMAIN: &str = "acme.test";
/// A name the test DNS server does not answer for, so its validation fails.
const UNRESOLVABLE: &str = "nowhere.test";
const ISSUANCE: Duration = Duration::from_secs(30);

/// What every issuance test starts from: an upstream, Pebble's certificate, the test DNS server
/// answering `DOMAIN` with loopback, an empty state directory, and the port Pebble will use.
struct Scenario {
    upstream: Upstream,
    pebble_tls: PebbleTls,
    dns: Dns,
    /// Kept for the test's length: the directory goes with it.
    _state_root: tempfile::TempDir,
    state: PathBuf,
    acme_port: u16,
}

impl Scenario {
    async fn new() -> Self {
        let dns = Dns::start().await;
        dns.map_to_loopback(DOMAIN).await;
        let state_root = tempfile::tempdir().unwrap();
        Self {
            upstream: Upstream::start("a"),
            pebble_tls: PebbleTls::new(),
            dns,
            state: state_root.path().join("acme"),
            _state_root: state_root,
            acme_port: free_port(),
        }
    }

    /// A balancer for this scenario, with `extra` arguments.
    fn balancer(&self, extra: &[&str]) -> AcmeBalancer {
        AcmeBalancer::start(
            &self.upstream,
            &self.pebble_tls,
            self.acme_port,
            &self.state,
            extra,
        )
    }

    /// Pebble, validating HTTP-01 against `balancer`'s plain listener.
    async fn pebble(&self, balancer: &AcmeBalancer) -> Pebble {
        let plain_port = balancer.plain_port();
        Pebble::start(&self.pebble_tls, &self.dns, self.acme_port, plain_port).await
    }
}

/// A balancer with ACME on, its listeners' addresses and its log.
struct AcmeBalancer {
    process: Process,
    plain: String,
    tls: String,
    logs: Logs,
}

impl AcmeBalancer {
    /// With ACME for `DOMAIN` (another `--acme-domain` in `extra` adds to it); waits until
    /// the upstream is healthy.
    fn start(
        upstream: &Upstream,
        pebble_tls: &PebbleTls,
        acme_port: u16,
        state: &Path,
        extra: &[&str],
    ) -> Self {
        let directory = format!("https://127.0.0.1:{acme_port}/dir");
        let mut command = balancer_command(&["--backend", &upstream.url()]);
        command
            .args(["--tls-listen", "127.0.0.1:0", "--acme-domain", DOMAIN])
            .args([
                "--acme-directory",
                &directory,
                "--acme-contact",
                "mailto:ops@acme.test",
            ])
            .arg("--acme-ca-root")
            .arg(pebble_tls.ca_path())
            .arg("--acme-state-dir")
            .arg(state)
            .args(extra)
            .env("RUST_LOG", "warn,balancer::acme=info")
            .stderr(Stdio::piped());
        let mut process = Process::spawn(&mut command);
        let logs = Logs::capture(process.take_stderr().expect("stderr is piped"));
        let plain = process.wait_line("balancer listening on http://", Duration::from_secs(20));
        let tls = process.wait_line("balancer listening on https://", Duration::from_secs(20));
        process.wait_line("stack ready", Duration::from_secs(20));
        Self {
            process,
            plain,
            tls,
            logs,
        }
    }

    fn plain_port(&self) -> u16 {
        self.plain.rsplit(':').next().unwrap().parse().unwrap()
    }

    async fn connect(
        &self,
        root_pem: &str,
        alpn: &[&[u8]],
    ) -> Result<HttpsConnection, tls_support::https::Failure> {
        HttpsConnection::open(&self.tls, DOMAIN, client_config(&[root_pem], alpn)).await
    }

    /// Waits until a handshake verified against `root_pem` succeeds, and returns it.
    async fn wait_for_certificate(&self, root_pem: &str) -> HttpsConnection {
        let deadline = tokio::time::Instant::now() + ISSUANCE;
        while tokio::time::Instant::now() < deadline {
            if let Ok(connection) = self.connect(root_pem, &[b"h2", b"http/1.1"]).await {
                return connection;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = self.logs.lines().join("\n");
        panic!("no certificate from this Pebble was served; log:\n{log}")
    }

    fn orders(&self) -> usize {
        self.logs
            .lines()
            .iter()
            .filter(|line| line.contains("ACME order "))
            .count()
    }
}

fn stored_chain(state: &Path) -> Vec<u8> {
    std::fs::read(state.join("certificate.pem")).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn plain_get(balancer: &AcmeBalancer, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{}{path}", balancer.plain))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// SLOW (about 5 s): issuance over HTTP-01 after Pebble comes up late, HTTP/2 and HTTP/1.1 over
/// the issued chain, the challenge path on the plain listener only, the state directory's
/// modes, and a restart that serves the stored certificate without ordering again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_over_http01_serves_h2_and_http11_and_reuses_the_certificate_after_restart() {
    let scenario = Scenario::new().await;
    let state = &scenario.state;
    let mut balancer = scenario.balancer(&[]);

    // Pebble is not running yet: plain HTTP serves, HTTPS has no certificate, ACME retries.
    let (status, _) = plain_get(&balancer, "/").await;
    assert_eq!(status, 200);
    balancer.logs.wait_for("retrying in");
    let pebble = scenario.pebble(&balancer).await;
    let root = pebble.root_pem().await;
    assert!(
        balancer
            .connect(&scenario.pebble_tls.ca_pem, &[b"h2"])
            .await
            .is_err()
    );

    let mut h2 = balancer.wait_for_certificate(&root).await;
    let answer = h2.get("/").await.unwrap();
    assert_eq!(
        (answer.status, answer.version),
        (200, hyper::Version::HTTP_2)
    );
    let mut http11 = balancer.connect(&root, &[b"http/1.1"]).await.unwrap();
    let answer = http11.get("/").await.unwrap();
    assert_eq!(
        (answer.status, answer.version),
        (200, hyper::Version::HTTP_11)
    );
    assert_eq!(h2.leaf, http11.leaf);

    // The challenge path is the balancer's on the plain listener, the upstream's over TLS.
    let (status, body) = plain_get(&balancer, "/.well-known/acme-challenge/no-such-token").await;
    assert_eq!(status, 404);
    assert!(body.contains("\"error\":\"unknown_challenge\""), "{body}");
    let over_tls = h2
        .get("/.well-known/acme-challenge/no-such-token")
        .await
        .unwrap();
    assert_eq!(
        over_tls.status, 200,
        "the upstream answered: {}",
        over_tls.body
    );

    assert_eq!(mode(state), 0o700);
    for file in ["account.json", "certificate.pem", "certificate.key"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    let chain = stored_chain(state);
    assert_eq!(balancer.orders(), 1);
    assert!(
        balancer
            .process
            .terminate(Duration::from_secs(20))
            .is_some()
    );

    // A restart serves the stored certificate at once and orders nothing.
    let balancer = scenario.balancer(&[]);
    let mut again = balancer.connect(&root, &[b"h2"]).await.unwrap();
    assert_eq!(again.leaf, h2.leaf);
    assert_eq!(again.get("/").await.unwrap().status, 200);
    balancer.logs.wait_for("serving the stored certificate");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(balancer.orders(), 0, "{}", balancer.logs.lines().join("\n"));
    assert_eq!(stored_chain(state), chain);
}

/// SLOW (about 8 s): a first certificate is issued through `--redirect-http`. Then, with it
/// stored and the ACME server down at start-up, HTTPS
/// serves the stored certificate; a forced renewal (`--acme-renew-before 1`) fails and is
/// retried with back-off until a new Pebble is up, then the new certificate is swapped in
/// without a restart while a connection opened before keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_renewal_waits_for_the_acme_server_and_swaps_in_without_a_restart() {
    let scenario = Scenario::new().await;
    let state = &scenario.state;

    // HTTP-01 must get through `--redirect-http`, which exempts the challenge path.
    let redirect = ["--redirect-http"];
    let mut first = scenario.balancer(&redirect);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let plain = no_redirects
        .get(format!("http://{}/", first.plain))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 308);
    let pebble = scenario.pebble(&first).await;
    let first_root = pebble.root_pem().await;
    let issued = first.wait_for_certificate(&first_root).await.leaf;
    assert!(first.process.terminate(Duration::from_secs(20)).is_some());
    let first_chain = stored_chain(state);
    drop(pebble);

    let balancer = scenario.balancer(&["--acme-renew-before", "1"]);
    let mut before = balancer.connect(&first_root, &[b"h2"]).await.unwrap();
    assert_eq!(
        before.leaf, issued,
        "the stored certificate serves while Pebble is down"
    );
    balancer
        .logs
        .wait_for("the current certificate keeps serving");
    let (status, _) = plain_get(&balancer, "/").await;
    assert_eq!(status, 200);

    let pebble = scenario.pebble(&balancer).await;
    let second_root = pebble.root_pem().await;
    let after = balancer.wait_for_certificate(&second_root).await;
    assert_ne!(after.leaf, issued);
    let stored = eventually(Duration::from_secs(5), || async {
        stored_chain(state) != first_chain
    });
    assert!(stored.await, "the renewed certificate is stored");
    assert_eq!(
        before.get("/").await.unwrap().status,
        200,
        "the older connection still serves"
    );
    assert!(
        balancer.connect(&first_root, &[b"h2"]).await.is_err(),
        "the old certificate is gone"
    );
}

/// SLOW (about 3 s): an order whose validation fails is logged with the ACME problem document
/// and retried with back-off; plain HTTP serves on and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_order_is_logged_with_its_problem_document_and_retried() {
    let scenario = Scenario::new().await;
    let state = &scenario.state;
    let extra = ["--acme-domain", UNRESOLVABLE];
    let balancer = scenario.balancer(&extra);
    let _pebble = scenario.pebble(&balancer).await;

    let lines = balancer.logs.wait_for("ACME order refused");
    let refusal = lines
        .iter()
        .find(|line| line.contains("ACME order refused"))
        .unwrap();
    assert!(refusal.contains("urn:ietf:params:acme:error:"), "{refusal}");
    assert!(refusal.contains(UNRESOLVABLE), "{refusal}");
    assert!(refusal.contains("retrying in"), "{refusal}");
    assert_eq!(plain_get(&balancer, "/").await.0, 200);
    assert!(!state.join("certificate.pem").exists());
}

/// A bad `--acme-ca-root` stops the balancer at start-up with a message naming the file.
#[test]
fn a_missing_acme_ca_root_is_refused_at_start_up() {
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(test_support::cargo_binary("balancer"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args([
            "--backend",
            "http://127.0.0.1:9",
            "--tls-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--acme-domain",
            DOMAIN,
            "--acme-ca-root",
            "/nonexistent/root.pem",
        ])
        .arg("--acme-state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/root.pem"), "{stderr}");
}
