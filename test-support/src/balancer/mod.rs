//! The real `balancer` binary on port 0 with its admin API, the fake upstreams it is pointed
//! at, and the HTTP calls its tests make.

mod raw_upstream;
mod scripted_origin;
mod upstream;

use std::process::{Command, Stdio};
use std::time::Duration;

pub use raw_upstream::{RawUpstream, connect_from};
pub use scripted_origin::{Received, Script, ScriptedOrigin};
pub use upstream::{Behaviour, Upstream, pattern};

use crate::process::{Process, cargo_binary};

pub use crate::poll::eventually;
pub use crate::process::{process_alive, send_signal};

pub const TOKEN: &str = "test-token";

/// The balancer binary, stopped with SIGTERM on drop.
pub struct Balancer {
    process: Process,
    pub url: String,
    pub admin: String,
}

pub fn balancer_command(args: &[&str]) -> Command {
    let mut command = Command::new(cargo_binary("balancer"));
    command
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--admin-token", TOKEN, "--health-interval-ms", "100"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    command
}

impl Balancer {
    /// Starts the balancer and waits for `stack ready`.
    pub fn start(args: &[&str]) -> Self {
        let balancer = Self::start_unready(args);
        balancer.wait_line("stack ready", Duration::from_secs(60));
        balancer
    }

    /// Starts the balancer and waits only for its listeners.
    pub fn start_unready(args: &[&str]) -> Self {
        let process = Process::spawn(&mut balancer_command(args));
        let url = process.wait_line("balancer listening on ", Duration::from_secs(20));
        let admin = process.wait_line("admin listening on ", Duration::from_secs(20));
        Self {
            process,
            url,
            admin,
        }
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        self.process.wait_line(prefix, limit)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// SIGTERM and wait (bounded); returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        self.process
            .terminate(Duration::from_secs(20))
            .is_some_and(|status| status.success())
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.terminate();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `X-Upstream`, `X-Cache` and the body of a GET.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, String, String, String) {
    let response = client.get(url).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (upstream, cache) = (header("x-upstream"), header("x-cache"));
    let status = response.status().as_u16();
    (status, upstream, cache, response.text().await.unwrap())
}

pub async fn admin_json(
    client: &reqwest::Client,
    balancer: &Balancer,
    path: &str,
) -> serde_json::Value {
    client
        .get(format!("{}{path}", balancer.admin))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The admin view of one backend.
pub async fn backend_view(
    client: &reqwest::Client,
    balancer: &Balancer,
    address: &str,
) -> Option<serde_json::Value> {
    let list = admin_json(client, balancer, "/backends").await;
    list.as_array()?
        .iter()
        .find(|b| b["address"] == address)
        .cloned()
}

/// Writes a TOML config into a temp dir kept alive by the returned guard.
pub fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("balancer.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

/// Sends `request` on a fresh connection and reads the answer until the balancer closes it
/// (or 10 s pass): for heads no HTTP client would send.
pub fn raw_exchange(address: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connected");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout set");
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}
