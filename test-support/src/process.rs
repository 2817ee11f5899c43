//! A binary under test as a child process: its stdout read line by line on a thread (so it never
//! blocks on a full pipe), its start-up line, SIGTERM and a bounded wait, its stderr captured.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use backend::contract::startup_line;

use crate::poll::wait_for;

/// The path of binary `name` of the package under test. Cargo builds a package's binaries
/// before its integration tests, next to the `deps` folder holding the test executable.
pub fn cargo_binary(name: &str) -> PathBuf {
    let test_executable = std::env::current_exe().expect("the test executable's path");
    let profile_dir = test_executable
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(name);
    assert!(binary.exists(), "no binary {name} at {}", binary.display());
    binary
}

/// A running binary, killed on drop if it is still running.
pub struct Process {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

impl Process {
    /// Starts `command` with its stdout piped to this harness and no stdin.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary under test starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child: Some(child),
            lines,
        }
    }

    /// Its stderr, when the command piped it.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.as_mut()?.stderr.take()
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line[prefix.len()..].to_owned(),
                Ok(_) => {}
                Err(error) => panic!("the process never printed `{prefix}`: {error}"),
            }
        }
    }

    /// The URL of a backend, from its first stdout line, which must be the start-up line.
    pub fn backend_url(&self, limit: Duration) -> String {
        let line = self
            .lines
            .recv_timeout(limit)
            .unwrap_or_else(|error| panic!("the backend printed no start-up line: {error}"));
        startup_line::parse(&line)
            .unwrap_or_else(|| panic!("unexpected first line from the backend: {line:?}"))
            .to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the process runs").id()
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; kills the process and returns `None`
    /// when it did not exit in time (or was stopped already).
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        send_signal(child.id(), "TERM");
        let status = wait_for(limit, || child.try_wait().ok().flatten());
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        status
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends a signal with the `kill` command (keeps the tests free of unsafe code).
pub fn send_signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status();
}

/// Whether `pid` runs (exists and is not a zombie).
pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.contains(") Z "))
            .unwrap_or(true)
}

/// The lines a process wrote on a stream so far, collected on a thread.
#[derive(Default, Clone)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Logs {
    pub fn capture(stream: impl Read + Send + 'static) -> Self {
        let logs = Self::default();
        let lines = Arc::clone(&logs.lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line).into_owned();
                lines.lock().expect("no writer panicked").push(line);
            }
        });
        logs
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("no writer panicked").clone()
    }

    /// Waits (up to 10 s) until a line contains `needle`, then returns every line so far.
    pub fn wait_for(&self, needle: &str) -> Vec<String> {
        wait_for(Duration::from_secs(10), || {
            let lines = self.lines();
            lines
                .iter()
                .any(|line| line.contains(needle))
                .then_some(lines)
        })
        .unwrap_or_else(|| {
            panic!(
                "no log line with {needle:?} in:\n{}",
                self.lines().join("\n")
            )
        })
    }
}
