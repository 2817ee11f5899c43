//! Managed workers: the real backend run as `balancer worker`, respawned when killed, scaled
//! through the admin API, and stopped with the balancer.

use std::time::Duration;

use test_support::balancer::{
    Balancer, TOKEN, admin_json, client, eventually, process_alive, send_signal,
};

fn managed(dir: &tempfile::TempDir, count: &str) -> Balancer {
    managed_with(
        dir,
        count,
        &["--worker-arg", "--workers", "--worker-arg", "1"],
    )
}

fn managed_with(dir: &tempfile::TempDir, count: &str, more: &[&str]) -> Balancer {
    let db = dir.path().join("sentiment.db");
    let static_dir = dir.path().join("static");
    std::fs::create_dir_all(&static_dir).unwrap();
    std::fs::write(static_dir.join("index.html"), "<h1>hi</h1>").unwrap();
    let mut args = vec![
        "--workers",
        count,
        "--worker-arg",
        "--db-path",
        "--worker-arg",
        db.to_str().unwrap(),
        "--worker-arg",
        "--static-dir",
        "--worker-arg",
        static_dir.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    Balancer::start(&args)
}

/// A running worker's command line, one argument per item.
fn command_line(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    raw.split(|byte| *byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect()
}

/// The values of `--threads` on a command line.
fn threads_given(args: &[String]) -> Vec<&str> {
    args.iter()
        .zip(args.iter().skip(1))
        .filter(|(flag, _)| *flag == "--threads")
        .map(|(_, value)| value.as_str())
        .collect()
}

async fn worker_pids(client: &reqwest::Client, balancer: &Balancer) -> Vec<u32> {
    let workers = admin_json(client, balancer, "/workers").await;
    workers["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["pid"].as_u64().map(|p| p as u32))
        .collect()
}

async fn healthy_count(client: &reqwest::Client, balancer: &Balancer) -> usize {
    let list = admin_json(client, balancer, "/backends").await;
    list.as_array()
        .unwrap()
        .iter()
        .filter(|b| b["healthy"] == true)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_workers_serve_analyses_and_history_shows_them_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let balancer = managed(&dir, "2");
    let client = client();
    assert!(
        eventually(Duration::from_secs(30), || async {
            healthy_count(&client, &balancer).await == 2
        })
        .await
    );

    let history = format!("{}/history?limit=5", balancer.url);
    let before: Vec<serde_json::Value> = client
        .get(&history)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut read_elsewhere = 0;
    for text in ["I love this", "This is terrible", "It is fine"] {
        let analysed = client
            .post(format!("{}/analyze", balancer.url))
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(analysed.status(), 200);
        let writer = analysed.headers()["x-upstream"].clone();
        let analysed: serde_json::Value = analysed.json().await.unwrap();
        // Purge on write: the very next history read includes it, whichever worker answers.
        let read = client.get(&history).send().await.unwrap();
        if read.headers()["x-upstream"] != writer {
            read_elsewhere += 1;
        }
        let after: Vec<serde_json::Value> = read.json().await.unwrap();
        assert_eq!(after[0]["id"], analysed["id"]);
    }
    assert!(read_elsewhere > 0, "the workers share one store");
    assert!(before.is_empty(), "a fresh store starts empty");

    // Static files are cached per their own Cache-Control.
    let index = format!("{}/", balancer.url);
    assert_eq!(test_support::balancer::get(&client, &index).await.0, 200);
    let (status, _, cache, _) = test_support::balancer::get(&client, &index).await;
    assert_eq!((status, cache.as_str()), (200, "HIT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_share_the_cpus_unless_their_threads_are_chosen() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let client = client();
    for (count, more, expected) in [
        ("2", &[][..], (cpus / 2).max(1).to_string()),
        ("1", &[][..], cpus.to_string()),
        ("2", &["--worker-arg", "--threads=3"][..], String::new()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let balancer = managed_with(&dir, count, more);
        let wanted: usize = count.parse().unwrap();
        assert!(
            eventually(Duration::from_secs(30), || async {
                healthy_count(&client, &balancer).await == wanted
            })
            .await
        );
        for pid in worker_pids(&client, &balancer).await {
            let args = command_line(pid);
            if expected.is_empty() {
                assert!(threads_given(&args).is_empty(), "{args:?}");
                assert!(args.iter().any(|arg| arg == "--threads=3"), "{args:?}");
            } else {
                assert_eq!(threads_given(&args), [expected.as_str()], "{args:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_is_respawned_and_scaling_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut balancer = managed(&dir, "2");
    let client = client();
    assert!(
        eventually(Duration::from_secs(30), || async {
            healthy_count(&client, &balancer).await == 2
        })
        .await
    );
    let pids = worker_pids(&client, &balancer).await;
    assert_eq!(pids.len(), 2);

    send_signal(pids[0], "KILL");
    let respawned = eventually(Duration::from_secs(30), || async {
        let now = worker_pids(&client, &balancer).await;
        now.len() == 2 && !now.contains(&pids[0]) && healthy_count(&client, &balancer).await == 2
    })
    .await;
    assert!(respawned, "the killed worker was not replaced");
    let workers = admin_json(&client, &balancer, "/workers").await;
    let restarts: u64 = workers["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["restarts"].as_u64().unwrap())
        .sum();
    assert_eq!(restarts, 1, "{workers}");

    let scale = |count: usize| {
        client
            .post(format!("{}/workers", balancer.admin))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "count": count }))
            .send()
    };
    assert_eq!(scale(3).await.unwrap().status(), 200);
    assert!(
        eventually(Duration::from_secs(30), || async {
            healthy_count(&client, &balancer).await == 3
        })
        .await
    );
    let three = worker_pids(&client, &balancer).await;
    assert_eq!(scale(1).await.unwrap().status(), 200);
    let list = admin_json(&client, &balancer, "/backends").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let stopped: Vec<_> = three.iter().filter(|pid| !process_alive(**pid)).collect();
    assert_eq!(
        stopped.len(),
        2,
        "scaled-down workers are stopped and reaped"
    );

    let last = worker_pids(&client, &balancer).await;
    assert!(
        balancer.terminate(),
        "the balancer exits cleanly on SIGTERM"
    );
    assert!(
        last.iter().all(|pid| !process_alive(*pid)),
        "workers stop with the balancer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_subcommand_backs_up_the_store_its_workers_write() {
    let dir = tempfile::tempdir().unwrap();
    let balancer = managed(&dir, "1");
    let client = client();
    assert!(
        eventually(Duration::from_secs(30), || async {
            healthy_count(&client, &balancer).await == 1
        })
        .await
    );
    let analysed = client
        .post(format!("{}/analyze", balancer.url))
        .json(&serde_json::json!({ "text": "kept by the backup" }))
        .send()
        .await
        .unwrap();
    assert_eq!(analysed.status(), 200);

    // `balancer worker backup` is `backend backup`, run from the balancer's executable while
    // its worker keeps the store open.
    let store = dir.path().join("sentiment.db");
    let copy = dir.path().join("backup.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_balancer"))
        .args(["worker", "backup", "--db-path"])
        .arg(&store)
        .arg("--to")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.starts_with("backed up 1 analyses (newest id "),
        "{said}"
    );
    assert!(copy.is_file());
}
