//! RFC 9110 section 15.2 through the real balancer, against an origin that sends interim
//! responses before its final one: the final response goes through intact and is stored, the
//! interim ones are never stored (nor their header fields), and a 101 nobody asked for is
//! refused. (actix-http cannot send a 1xx of ours to the client; balancer/README.md says so.)

use test_support::balancer::{Balancer, Script, ScriptedOrigin, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_are_consumed_and_never_stored() {
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
