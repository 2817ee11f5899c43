//! RFC 9110 section 15.2 through the real balancer, against an origin that sends interim
//! responses before its final one: an HTTP/1.1 client gets them as they come (end-to-end
//! fields only, never a `100` the balancer's own answered), before the final response and after
//! any response owed for an earlier pipelined request; an HTTP/1.0 client gets none; the final
//! response goes through intact and is stored, the interim ones never are (nor their fields);
//! a 101 nobody asked for is refused. HTTP/2 and TLS are in `tls.rs`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client, raw_exchange};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_never_reach_the_stored_response() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    let client = client();
    let link = "</styles.css>; rel=preload; as=style";
    for (path, status) in [("/hints", 103), ("/processing", 102), ("/continue", 100)] {
        origin.script(
            path,
            Script::new(200, &[("cache-control", "max-age=3600")], "final")
                .with_interim(status, &[("link", link), ("x-interim", "yes")])
                .with_interim(status, &[("x-interim", "again")]),
        );
        let url = format!("{}{path}", balancer.url);
        for expected in ["MISS", "HIT"] {
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["x-cache"], expected, "{path}");
            assert!(response.headers().get("x-interim").is_none(), "{path}");
            assert!(response.headers().get("link").is_none(), "{path}");
            assert_eq!(response.text().await.unwrap(), "final");
        }
        assert_eq!(origin.received(path).len(), 1);
    }
    // The connection the interim responses came on is still in step: a plain answer follows.
    origin.script("/after", Script::new(200, &[], "after"));
    let after = client.get(format!("{}/after", balancer.url)).send().await;
    assert_eq!(after.unwrap().text().await.unwrap(), "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrequested_protocol_switch_is_a_bad_gateway() {
    let origin = ScriptedOrigin::start();
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    origin.script(
        "/switch",
        Script::new(200, &[], "never").with_interim(101, &[("upgrade", "websocket")]),
    );
    let response = client()
        .get(format!("{}/switch", balancer.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
}

const LINK: &str = "</styles.css>; rel=preload; as=style";

/// An origin answering `/hints` with a 100, a 102 and a 103 (with a hop-by-hop field), then
/// after `pause` a cacheable 200; `/plain` with a plain 200.
fn hinting_origin(pause: Duration) -> (ScriptedOrigin, Balancer) {
    let origin = ScriptedOrigin::start();
    origin.script(
        "/hints",
        Script::new(200, &[("cache-control", "max-age=3600")], "final")
            .with_interim(100, &[])
            .with_interim(102, &[])
            .with_interim(
                103,
                &[("link", LINK), ("connection", "x-hop"), ("x-hop", "1")],
            )
            .with_pause(pause),
    );
    origin.script("/plain", Script::new(200, &[], "plain"));
    let balancer = Balancer::start(&["--backend", &origin.url()]);
    (origin, balancer)
}

fn connect(balancer: &Balancer) -> TcpStream {
    let stream = TcpStream::connect(balancer.url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads from `stream` until what was read ends with `end`.
fn read_until(stream: &mut TcpStream, read: &mut String, end: &str) {
    let mut buf = [0u8; 4096];
    while !read.ends_with(end) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {read:?}");
        read.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
}

/// The status lines of the responses in `answer`, in order (a head follows the body before
/// it on the same line).
fn status_lines(answer: &str) -> Vec<&str> {
    answer
        .match_indices("HTTP/1.")
        .map(|(at, _)| answer[at..].split("\r\n").next().unwrap())
        .collect()
}

#[test]
fn an_http11_client_gets_the_interim_responses_before_the_final_one_arrives() {
    let pause = Duration::from_secs(1);
    let (_origin, balancer) = hinting_origin(pause);
    let mut stream = connect(&balancer);
    let sent = Instant::now();
    stream
        .write_all(b"GET /hints HTTP/1.1\r\nHost: site\r\n\r\n")
        .unwrap();
    let mut read = String::new();
    read_until(&mut stream, &mut read, &format!("link: {LINK}\r\n\r\n"));
    // Early: while the origin still holds its final response back.
    assert!(sent.elapsed() < pause, "took {:?}", sent.elapsed());
    assert_eq!(
        read,
        format!("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: {LINK}\r\n\r\n")
    );
    read_until(&mut stream, &mut read, "final");
    assert_eq!(
        status_lines(&read),
        [
            "HTTP/1.1 102 Processing",
            "HTTP/1.1 103 Early Hints",
            "HTTP/1.1 200 OK"
        ]
    );
    assert!(read.contains("x-cache: MISS"), "{read}");
    // Stored without them: the hit on the same connection is the final response alone.
    stream
        .write_all(b"GET /hints HTTP/1.1\r\nHost: site\r\n\r\n")
        .unwrap();
    let mut hit = String::new();
    read_until(&mut stream, &mut hit, "final");
    assert_eq!(status_lines(&hit), ["HTTP/1.1 200 OK"]);
    assert!(hit.contains("x-cache: HIT"), "{hit}");
    assert!(!hit.contains("x-hop") && !hit.contains("link:"), "{hit}");
}

#[test]
fn pipelined_responses_and_interim_ones_keep_their_order() {
    let (_origin, balancer) = hinting_origin(Duration::from_millis(200));
    for (first, second) in [("/plain", "/hints"), ("/hints", "/plain")] {
        let mut stream = connect(&balancer);
        // The cache is skipped, so every /hints goes to the origin and brings its hints.
        let request = |path: &str| {
            format!("GET {path} HTTP/1.1\r\nHost: site\r\nCache-Control: no-cache\r\n\r\n")
        };
        stream
            .write_all((request(first) + &request(second)).as_bytes())
            .unwrap();
        let mut read = String::new();
        let last_body = if second == "/hints" { "final" } else { "plain" };
        read_until(&mut stream, &mut read, last_body);
        let hints_at = read.find("HTTP/1.1 102").unwrap();
        let final_at = read.find("\r\n\r\nfinal").unwrap();
        let plain_at = read.find("\r\n\r\nplain").unwrap();
        assert!(hints_at < final_at, "{read}");
        if first == "/plain" {
            assert!(plain_at < hints_at, "{read}");
        } else {
            assert!(final_at < plain_at, "{read}");
        }
        assert_eq!(status_lines(&read).len(), 4, "{read}");
    }
}

#[test]
fn an_http10_client_gets_no_interim_response() {
    let (_origin, balancer) = hinting_origin(Duration::ZERO);
    let answer = raw_exchange(
        balancer.url.trim_start_matches("http://"),
        b"GET /hints HTTP/1.0\r\nHost: site\r\n\r\n",
    );
    assert_eq!(status_lines(&answer).len(), 1, "{answer}");
    assert!(answer.ends_with("final"), "{answer}");
}
