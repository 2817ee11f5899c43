//! Managed local workers: the supervisor starts N worker processes on free ports (each prints
//! `backend listening on http://ADDR`), registers them as backends, restarts one that dies with
//! exponential back-off, scales the count at run time, and stops them with SIGTERM (awaited).
//! How one worker is started, and its settings, are in [`spec`].

pub(crate) mod cpu_share;
mod spec;

use std::io;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep};

use crate::backends::{AddressError, Backend, BackendAddress, BackendSet};

pub use spec::{WorkerSettings, WorkerSpec, WorkersLayer};

/// A worker that ran this long before dying restarts with the minimum back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot start {program}: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("reading the worker's output failed: {0}")]
    Output(#[from] io::Error),
    #[error("the worker announced a bad address: {0}")]
    Address(#[from] AddressError),
    #[error("the worker did not announce its address within {0:?}")]
    StartupTimeout(Duration),
    #[error("the worker exited before announcing its address")]
    ExitedEarly,
}

/// What the admin API shows about a worker slot.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerStatus {
    pub slot: usize,
    pub address: Option<String>,
    pub pid: Option<u32>,
    pub restarts: u32,
}

enum Request {
    Scale(usize, oneshot::Sender<Vec<WorkerStatus>>),
    List(oneshot::Sender<Vec<WorkerStatus>>),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the supervisor task; cheap to clone and usable from any thread.
#[derive(Clone)]
pub struct Supervisor {
    commands: mpsc::Sender<Request>,
}

/// The supervisor task is gone (the balancer is stopping).
#[derive(Debug, thiserror::Error)]
#[error("the worker supervisor has stopped")]
pub struct SupervisorGone;

impl Supervisor {
    /// Starts `count` workers; must be called on the main actix arbiter.
    pub fn start(spec: WorkerSpec, backends: Arc<BackendSet>, count: usize) -> Self {
        let (commands, receiver) = mpsc::channel(16);
        actix_web::rt::spawn(supervise(Arc::new(spec), backends, receiver, count));
        Self { commands }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, SupervisorGone> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| SupervisorGone)?;
        answer.await.map_err(|_| SupervisorGone)
    }

    /// Sets the number of workers: new slots start at once, removed ones are drained and stopped
    /// before this returns.
    pub async fn scale(&self, count: usize) -> Result<Vec<WorkerStatus>, SupervisorGone> {
        self.ask(|reply| Request::Scale(count, reply)).await
    }

    pub async fn list(&self) -> Result<Vec<WorkerStatus>, SupervisorGone> {
        self.ask(Request::List).await
    }

    /// Stops every worker (SIGTERM, awaited) and the supervisor.
    pub async fn shutdown(&self) {
        let _ = self.ask(Request::Shutdown).await;
    }
}

struct Slot {
    stop: oneshot::Sender<()>,
    task: actix_web::rt::task::JoinHandle<()>,
    status: Arc<Mutex<WorkerStatus>>,
}

async fn supervise(
    spec: Arc<WorkerSpec>,
    backends: Arc<BackendSet>,
    mut commands: mpsc::Receiver<Request>,
    initial: usize,
) {
    let mut slots = Vec::new();
    let mut next_slot = 0;
    let mut resize = async |slots: &mut Vec<Slot>, count: usize| {
        while slots.len() < count {
            let status = Arc::new(Mutex::new(WorkerStatus {
                slot: next_slot,
                ..WorkerStatus::default()
            }));
            next_slot += 1;
            let (stop, stopped) = oneshot::channel();
            let task = actix_web::rt::spawn(run_slot(
                spec.clone(),
                backends.clone(),
                stopped,
                status.clone(),
            ));
            slots.push(Slot { stop, task, status });
        }
        let removed: Vec<Slot> = slots.drain(count.min(slots.len())..).collect();
        let tasks = removed.into_iter().map(|slot| {
            let _ = slot.stop.send(());
            slot.task
        });
        futures_util::future::join_all(tasks).await;
    };
    let list = |slots: &[Slot]| -> Vec<WorkerStatus> {
        slots
            .iter()
            .map(|s| s.status.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    };
    resize(&mut slots, initial).await;
    while let Some(command) = commands.recv().await {
        match command {
            Request::Scale(count, reply) => {
                resize(&mut slots, count).await;
                let _ = reply.send(list(&slots));
            }
            Request::List(reply) => {
                let _ = reply.send(list(&slots));
            }
            Request::Shutdown(reply) => {
                resize(&mut slots, 0).await;
                let _ = reply.send(());
                return;
            }
        }
    }
    resize(&mut slots, 0).await;
}

/// Keeps one worker running until told to stop.
async fn run_slot(
    spec: Arc<WorkerSpec>,
    backends: Arc<BackendSet>,
    mut stop: oneshot::Receiver<()>,
    status: Arc<Mutex<WorkerStatus>>,
) {
    let slot = status.lock().unwrap_or_else(|e| e.into_inner()).slot;
    let set_status = |address: Option<String>, pid: Option<u32>, restarted: bool| {
        let mut status = status.lock().unwrap_or_else(|e| e.into_inner());
        status.address = address;
        status.pid = pid;
        if restarted {
            status.restarts += 1;
        }
    };
    let mut backoff = spec.backoff_min;
    loop {
        let started = Instant::now();
        let launched = tokio::select! {
            launched = launch(&spec, slot) => launched,
            _ = &mut stop => return,
        };
        match launched {
            Ok((mut child, address)) => {
                let registered = backends.add(Backend::new(address.clone(), 1, true, None));
                if let Err(error) = &registered {
                    log::error!("worker {slot}: {error}");
                }
                set_status(Some(address.to_string()), child.id(), false);
                tokio::select! {
                    exit = child.wait() => {
                        log::warn!("worker {slot} ({address}) exited ({exit:?}); restarting in {backoff:?}");
                        let _ = backends.remove(address.as_str());
                    }
                    _ = &mut stop => {
                        if let Ok(backend) = registered {
                            drain(&backend, spec.stop_timeout / 2).await;
                            let _ = backends.remove(address.as_str());
                        }
                        terminate(child, spec.stop_timeout).await;
                        set_status(None, None, false);
                        return;
                    }
                }
            }
            Err(error) => {
                log::error!("worker {slot} failed to start: {error}; retrying in {backoff:?}")
            }
        }
        set_status(None, None, true);
        if started.elapsed() >= STABLE_AFTER {
            backoff = spec.backoff_min;
        }
        tokio::select! {
            _ = sleep(backoff) => {}
            _ = &mut stop => return,
        }
        backoff = (backoff * 2).min(spec.backoff_max);
    }
}

/// Spawns a worker and waits for the line announcing its address.
async fn launch(spec: &WorkerSpec, slot: usize) -> Result<(Child, BackendAddress), LaunchError> {
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the forked child before exec and only makes the async-signal-
    // safe prctl(2) call, so a worker never outlives a balancer that was killed outright.
    unsafe {
        command
            .pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from));
    }
    let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
        program: spec.program.display().to_string(),
        source,
    })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let announced = async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = backend::contract::startup_line::parse(&line) {
                return Ok(BackendAddress::parse(url)?);
            }
            log::info!("worker {slot}: {line}");
        }
        Err(LaunchError::ExitedEarly)
    };
    let address = tokio::time::timeout(spec.startup_timeout, announced)
        .await
        .map_err(|_| LaunchError::StartupTimeout(spec.startup_timeout))??;
    // Keep reading so a chatty worker never blocks on a full pipe.
    actix_web::rt::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            log::info!("worker {slot}: {line}");
        }
    });
    log::info!("worker {slot} listening on {address}");
    Ok((child, address))
}

/// Stops sending new requests and waits (bounded) for those in flight.
async fn drain(backend: &Backend, limit: Duration) {
    backend.start_draining();
    let deadline = Instant::now() + limit;
    while backend.in_flight() > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
}

/// SIGTERM, then SIGKILL if the worker has not exited within `limit`.
async fn terminate(mut child: Child, limit: Duration) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            log::warn!("worker {:?} ignored SIGTERM; killing it", child.id());
            let _ = child.kill().await;
        }
    }
}
