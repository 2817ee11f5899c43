//! The edge under hostile clients: uploads that fail are the client's fault, not the backend's;
//! application errors do not eject backends unless asked; passive health never takes out the
//! last backend; tunnels and misframed bodies are refused before a backend sees a byte, and a
//! malformed chunked body gets a JSON 400 however it arrives; client
//! connections are bounded per address; admin input is bounded like the configuration; idle
//! upstream connections are closed on time; a client that stops reading a response is cut off
//! after the send timeout, and one that pipelines without reading cannot make the balancer
//! buffer its answers.

use std::io::{Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use test_support::balancer::{
    Balancer, RawUpstream, Script, ScriptedOrigin, TOKEN, Upstream, backend_view, client,
    config_file, connect_from, eventually, get, raw_exchange,
};

fn address_of(balancer: &Balancer) -> String {
    balancer.url.trim_start_matches("http://").to_owned()
}

/// A chunked `POST /analyze` of about 128 KiB that is cut off halfway or has a garbled chunk.
fn abusive_upload(address: String, garble: bool) {
    let Ok(mut stream) = std::net::TcpStream::connect(&address) else {
        return;
    };
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(
        b"POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    );
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    for _ in 0..4 {
        let _ = stream.write_all(chunk.as_bytes());
    }
    if garble {
        let _ = stream.write_all(b"zz-not-hex\r\nnope\r\n");
        let mut sink = [0u8; 512];
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = stream.read(&mut sink);
    }
    // Dropping the stream cuts the upload off.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_uploads_never_take_a_backend_out() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let balancer = Balancer::start(&["--backend", &a.url(), "--backend", &b.url()]);
    let address = address_of(&balancer);
    let deadline = Instant::now() + Duration::from_secs(60);
    let abuser = std::thread::spawn(move || {
        let mut rounds = 0;
        while rounds < 40 && Instant::now() < deadline {
            let six: Vec<_> = (0..6)
                .map(|i| {
                    let address = address.clone();
                    std::thread::spawn(move || abusive_upload(address, i % 2 == 0))
                })
                .collect();
            six.into_iter().for_each(|t| t.join().unwrap());
            rounds += 1;
        }
        rounds
    });
    let client = client();
    let mut failures = Vec::new();
    for i in 0..100 {
        let response = client
            .post(format!("{}/analyze", balancer.url))
            .json(&serde_json::json!({ "text": format!("legitimate {i}") }))
            .send()
            .await
            .unwrap();
        if response.status() != 200 {
            failures.push(response.status().as_u16());
        }
    }
    let rounds = abuser.join().unwrap();
    assert!(rounds > 0);
    assert!(failures.is_empty(), "legitimate POSTs failed: {failures:?}");
    for upstream in [&a, &b] {
        let view = backend_view(&client, &balancer, &upstream.address)
            .await
            .unwrap();
        assert_eq!(view["healthy"], true, "{view}");
        assert_eq!(view["errors"], 0, "{view}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_stay_in_rotation_unless_5xx_counting_is_configured() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    a.behaviour.fail.store(true, Ordering::SeqCst);
    let client = client();
    let count_500s = |balancer: &Balancer| {
        let url = format!("{}/whoami", balancer.url);
        let client = client.clone();
        async move {
            let mut failures = 0;
            for _ in 0..20 {
                if get(&client, &url).await.0 == 500 {
                    failures += 1;
                }
            }
            failures
        }
    };
    // Active checks stay green (readyz answers) and rarely run, so only passive health acts.
    let quiet = ["--health-interval-ms", "60000"];
    let balancer =
        Balancer::start(&[&quiet[..], &["--backend", &a.url(), "--backend", &b.url()]].concat());
    assert_eq!(
        count_500s(&balancer).await,
        10,
        "a 500 is the application's answer"
    );
    let view = backend_view(&client, &balancer, &a.address).await.unwrap();
    assert_eq!(view["healthy"], true);
    drop(balancer);

    let (_dir, config) = config_file("[health]\npassive_5xx = true\npassive_failures = 3\n");
    let balancer = Balancer::start(
        &[
            &quiet[..],
            &[
                "--config",
                &config,
                "--backend",
                &a.url(),
                "--backend",
                &b.url(),
            ],
        ]
        .concat(),
    );
    assert_eq!(
        count_500s(&balancer).await,
        3,
        "after 3 errors it is ejected"
    );
    let view = backend_view(&client, &balancer, &a.address).await.unwrap();
    assert_eq!(view["healthy"], false);
    assert_eq!(view["ejected"], true);
    assert_eq!(view["up"], true, "active checks still pass");
    assert_eq!(view["errors"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_health_never_takes_out_the_last_backends() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    a.behaviour.fail.store(true, Ordering::SeqCst);
    b.behaviour.fail.store(true, Ordering::SeqCst);
    let (_dir, config) = config_file("[health]\npassive_5xx = true\npassive_failures = 1\n");
    let balancer = Balancer::start(&[
        "--config",
        &config,
        "--health-interval-ms",
        "60000",
        "--backend",
        &a.url(),
        "--backend",
        &b.url(),
    ]);
    let client = client();
    let url = format!("{}/whoami", balancer.url);
    for _ in 0..6 {
        assert_eq!(get(&client, &url).await.0, 500, "never our 503");
    }
    for upstream in [&a, &b] {
        let view = backend_view(&client, &balancer, &upstream.address)
            .await
            .unwrap();
        assert_eq!(view["ejected"], true, "{view}");
    }
    // Panic mode keeps sending to both, so recovery shows at once, not after active checks.
    a.behaviour.fail.store(false, Ordering::SeqCst);
    b.behaviour.fail.store(false, Ordering::SeqCst);
    let (status, _, _, _) = get(&client, &url).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_trace_and_misframed_bodies_never_reach_the_backend() {
    let raw = RawUpstream::start();
    let balancer = Balancer::start(&["--backend", &raw.url()]);
    let address = address_of(&balancer);
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let attempts = [
        (
            format!(
                "POST /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Content-Length: 5\r\n\r\nhello{smuggled}"
            ),
            "400",
            "upgrade_not_supported",
        ),
        (
            format!(
                "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\r\n\r\n{smuggled}"
            ),
            "400",
            "ambiguous_framing",
        ),
        (
            format!("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n{smuggled}"),
            "405",
            "method_not_allowed",
        ),
        (
            "TRACE /a HTTP/1.1\r\nHost: x\r\nCookie: session=1\r\nConnection: close\r\n\r\n"
                .to_owned(),
            "405",
            "method_not_allowed",
        ),
    ];
    for (request, status, code) in attempts {
        let answer = raw_exchange(&address, request.as_bytes());
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")) && answer.contains(code),
            "{request:?} got {answer:?}"
        );
    }
    // A well-formed request still passes, and it is the only thing the backend ever saw.
    let answer = raw_exchange(
        &address,
        b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let lines = raw.lines();
    assert!(
        lines
            .iter()
            .filter(|l| !l.starts_with("GET /readyz"))
            .eq(["POST /c HTTP/1.1"].iter()),
        "{lines:?}"
    );
}

/// A chunked body outside RFC 9112's grammar, sent in one write with its head and a request
/// smuggled behind it: actix-http alone closed such a connection without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunked_body_gets_one_json_400_and_nothing_after_it_is_read() {
    let raw = RawUpstream::start();
    let balancer = Balancer::start(&["--backend", &raw.url()]);
    let address = address_of(&balancer);
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let bodies = [
        ("bare LF", "4\nabcd\n0\n\n"),
        ("size not hex", "zz\r\nabcd\r\n0\r\n\r\n"),
        ("size overflow", "fffffffffffffffff4\r\nabcd\r\n0\r\n\r\n"),
        ("data longer than its size", "2\r\nabcd\r\n0\r\n\r\n"),
        ("LF in an extension", "4;a\nb\r\nabcd\r\n0\r\n\r\n"),
        ("control byte in a trailer", "0\r\nX: \x01\r\n\r\n"),
    ];
    for (what, body) in bodies {
        let request = format!(
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}{smuggled}"
        );
        let answer = raw_exchange(&address, request.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 400"), "{what}: {answer:?}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{what}: {answer:?}");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(
            json["error"], "malformed_chunked_body",
            "{what}: {answer:?}"
        );
    }
    // A body cut off by the client's half-close is named as such, not as malformed.
    let answer = raw_exchange_half_closed(
        &address,
        b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert!(
        answer.contains(r#""error":"incomplete_body""#),
        "{answer:?}"
    );
    assert!(
        answer.contains("the connection ended before the body did"),
        "{answer:?}"
    );
    // Sound chunked bodies, extensions and trailers included, still pass.
    let answer = raw_exchange(
        &address,
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          4;ext=1\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!raw.lines().iter().any(|l| l.contains("/smuggled")));
}

/// Like `raw_exchange`, but shuts the write half after the request.
fn raw_exchange_half_closed(address: &str, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_heads_get_json_and_slow_heads_are_cut_on_every_request() {
    let raw = RawUpstream::start();
    let (_dir, config) = config_file("[proxy]\nclient_request_timeout_ms = 500\n");
    let balancer = Balancer::start(&["--config", &config, "--backend", &raw.url()]);
    let address = address_of(&balancer);
    let cases: [(&[u8], &str, &str); 7] = [
        (b"NOT HTTP AT ALL\r\n\r\n", "400", "malformed_request"),
        (b"GET / HTTP/1.1\r\n\r\n", "400", "malformed_request"),
        // Targets in a form the method may not use, or with a fragment (RFC 9112 section 3.2):
        // actix-http would pass them on as `GET /`, `GET *` and `GET /a`.
        (
            b"GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n",
            "400",
            "malformed_request",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
            "400",
            "malformed_request",
        ),
        (
            b"GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
            "400",
            "malformed_request",
        ),
        (b"POST / HTTP/1.0\r\n\r\n", "411", "length_required"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "400",
            "ambiguous_framing",
        ),
    ];
    for (request, status, code) in cases {
        let answer = raw_exchange(&address, request);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(json["error"], code, "{answer}");
    }
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw_exchange(&address, huge.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("headers_too_large"), "{answer}");
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
    let answer = raw_exchange(&address, long_target.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    assert!(answer.contains("uri_too_long"), "{answer}");

    // A second request's head that never completes is cut off like a first one's.
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHo")
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("HTTP/1.1 408 Request Timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!raw.lines().iter().any(|l| l.contains("/second")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_connection_bound_is_refused_while_others_are_served() {
    let upstream = Upstream::start("a");
    let (_dir, config) = config_file("[proxy]\nmax_connections_per_ip = 4\n");
    let balancer = Balancer::start(&["--config", &config, "--backend", &upstream.url()]);
    let address = address_of(&balancer);
    let held: Vec<_> = (0..4)
        .map(|_| connect_from("127.0.0.2", &address))
        .collect();
    // The balancer counts a connection once it accepts it; give it that moment.
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = connect_from("127.0.0.2", &address);
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = refused.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer:?}");
    assert!(
        answer.contains("\"error\":\"too_many_connections\""),
        "{answer}"
    );

    let mut other = connect_from("127.0.0.3", &address);
    other
        .write_all(b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    drop(held);
    let freed = eventually(Duration::from_secs(5), || {
        let address = address.clone();
        async move {
            let mut again = connect_from("127.0.0.2", &address);
            let _ = again.write_all(b"GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = again.read_to_string(&mut answer);
            answer.starts_with("HTTP/1.1 200")
        }
    })
    .await;
    assert!(freed, "closing connections frees the address's places");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_weights_are_refused_and_the_balancer_keeps_serving() {
    let upstream = Upstream::start("a");
    let balancer = Balancer::start(&["--algorithm", "weighted", "--backend", &upstream.url()]);
    let client = client();
    for weight in [
        serde_json::json!(0),
        serde_json::json!(4_000_000_000u64),
        serde_json::json!(-1),
    ] {
        let response = client
            .post(format!("{}/backends", balancer.admin))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "address": "127.0.0.1:9", "weight": weight }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "weight {weight}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "bad_request");
    }
    let started = Instant::now();
    assert_eq!(get(&client, &format!("{}/fine", balancer.url)).await.0, 200);
    assert!(started.elapsed() < Duration::from_secs(2));

    let (_dir, config) =
        config_file("backends = [{ address = \"127.0.0.1:9\", weight = 4000000000 }]\n");
    let output = test_support::balancer::balancer_command(&["--config", &config])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("backends[0].weight: must be from 1 to 256"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connections_are_closed_after_expiry() {
    let raw = RawUpstream::start();
    let (_dir, config) = config_file("[proxy]\nupstream_idle_timeout_ms = 300\n");
    let balancer = Balancer::start(&[
        "--config",
        &config,
        "--health-interval-ms",
        "60000",
        "--backend",
        &raw.url(),
    ]);
    let client = client();
    for _ in 0..5 {
        assert_eq!(get(&client, &format!("{}/x", balancer.url)).await.0, 200);
    }
    assert!(raw.open.load(Ordering::SeqCst) >= 1);
    // No further request touches the pool: only its timer can close them.
    let closed = eventually(Duration::from_secs(5), || async {
        raw.open.load(Ordering::SeqCst) == 0
    })
    .await;
    assert!(
        closed,
        "{} upstream connections left open",
        raw.open.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_responses_hide_backends_and_private_paths() {
    let upstream = Upstream::start("a");
    let (_dir, config) = config_file("[proxy]\nexpose_upstream = \"never\"\n");
    let balancer = Balancer::start(&["--config", &config, "--backend", &upstream.url()]);
    let client = client();
    let response = client
        .get(format!("{}/x", balancer.url))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("x-upstream").is_none());
    for path in ["/readyz", "//readyz", "/%72eadyz"] {
        let response = client
            .get(format!("{}{path}", balancer.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found");
    }
}

#[test]
fn a_client_that_stops_reading_a_response_is_cut_off_after_the_send_timeout() {
    const BODY_BYTES: usize = 48 << 20;
    let origin = ScriptedOrigin::start();
    let body = "x".repeat(BODY_BYTES);
    origin.script(
        "/large",
        Script::new(200, &[("cache-control", "no-store")], &body),
    );
    let (_dir, config) = config_file("[proxy]\nsend_timeout_s = 1\n");
    let balancer = Balancer::start(&["--backend", &origin.url(), "--config", &config]);
    let mut reader = std::net::TcpStream::connect(address_of(&balancer)).unwrap();
    reader
        .write_all(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The response fills the socket buffers (a few MiB on loopback) and the writes wait; after
    // the 1 s send timeout the balancer closes the connection. Read on afterwards, the client
    // gets what was buffered and then the end, not the whole body.
    std::thread::sleep(Duration::from_secs(4));
    reader
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut received, mut chunk) = (0, vec![0u8; 1 << 16]);
    let started = Instant::now();
    while let Ok(n @ 1..) = reader.read(&mut chunk) {
        received += n;
    }
    assert!(
        received < BODY_BYTES,
        "the whole body arrived after the client paused"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Other clients are served meanwhile and after.
    let request = b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(&address_of(&balancer), request);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
}

/// The balancer's resident memory in bytes.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS in /proc/PID/status");
    kib << 10
}

#[test]
fn clients_pipelining_without_reading_do_not_grow_the_balancer_and_readers_get_every_answer() {
    let origin = ScriptedOrigin::start();
    let cacheable = [("cache-control", "public, max-age=600")];
    origin.script(
        "/small",
        Script::new(200, &cacheable, "a small cached answer"),
    );
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let address = address_of(&balancer);
    let last = b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert!(raw_exchange(&address, last).starts_with("HTTP/1.1 200"));
    let before = resident_bytes(balancer.pid());
    // Four clients send pipelined cache hits and never read: before the pipeline bound,
    // actix-http read on and buffered every answer (the balancer grew by 126 MiB in the 3 s
    // these four took). Now it stops reading once the answers back up, and the writes block.
    let requests = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (address, requests) = (address.clone(), requests.clone());
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                stream
                    .set_write_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(4);
                while Instant::now() < deadline && stream.write(&requests).is_ok() {}
                stream
            })
        })
        .collect();
    let clients: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let grown = resident_bytes(balancer.pid()).saturating_sub(before);
    assert!(grown < 32 << 20, "the balancer grew by {} MiB", grown >> 20);
    drop(clients);
    // A client that reads gets every pipelined answer, the last one included.
    let mut pipelined = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    pipelined.extend_from_slice(last);
    let answers = raw_exchange(&address, &pipelined);
    assert_eq!(answers.matches("HTTP/1.1 200 OK").count(), 101, "{answers}");
    assert_eq!(answers.matches("a small cached answer").count(), 101);
}
