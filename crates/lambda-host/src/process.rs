//! Instance processes: each in its own process group, killed with its whole group when the
//! instance is dropped, when the owning process exits (`atexit`), or when it dies outright
//! (`PR_SET_PDEATHSIG`, which follows the *thread* that spawned the child: every instance is
//! spawned by one thread that lives as long as the process).

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock, mpsc};

use tokio::sync::watch;

/// Process groups of live instances; `atexit` kills whatever is left.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static REGISTER_EXIT_HOOK: Once = Once::new();

extern "C" fn kill_live_groups() {
    let groups: Vec<i32> = LIVE_GROUPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .copied()
        .collect();
    for group in groups {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<std::process::Child>>);

fn spawn_from_spawner_thread(command: Command) -> std::io::Result<std::process::Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("lambda-host-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
                // Never return: the children's death signal fires when this thread ends.
                loop {
                    std::thread::park();
                }
            })
            .expect("starting the instance spawner thread");
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the instance spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the instance spawner thread is gone"))?
}

/// A running instance process. Dropping it kills its process group.
#[derive(Debug)]
pub(crate) struct InstanceProcess {
    group: i32,
    exited: Arc<AtomicBool>,
    exit: watch::Receiver<Option<ExitStatus>>,
}

impl InstanceProcess {
    /// Starts `command` (whose environment the caller set) with stdin closed and stdout and
    /// stderr appended to `log`.
    pub(crate) fn spawn(mut command: Command, log: &Path) -> std::io::Result<Self> {
        REGISTER_EXIT_HOOK.call_once(|| {
            // SAFETY: registers a plain extern "C" fn that only calls killpg.
            unsafe {
                libc::atexit(kill_live_groups);
            }
        });
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let out = File::options().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        // SAFETY: the closure only calls prctl, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = spawn_from_spawner_thread(command)?;
        let group = i32::try_from(child.id()).map_err(std::io::Error::other)?;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(group);
        let exited = Arc::new(AtomicBool::new(false));
        let (exit_sender, exit) = watch::channel(None);
        let exited_flag = exited.clone();
        std::thread::Builder::new()
            .name("lambda-instance-wait".to_owned())
            .spawn(move || {
                let status = child.wait().unwrap_or_else(|_| ExitStatus::from_raw(-1));
                exited_flag.store(true, Ordering::SeqCst);
                let _ = exit_sender.send(Some(status));
            })?;
        Ok(Self {
            group,
            exited,
            exit,
        })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.group
    }

    /// Resolves when the process has exited, with its status.
    pub(crate) fn exit_watch(&self) -> watch::Receiver<Option<ExitStatus>> {
        self.exit.clone()
    }

    pub(crate) fn kill(&self) {
        // Once the leader is reaped its pid may be reused: only signal a group still ours.
        if !self.exited.load(Ordering::SeqCst) {
            // SAFETY: killpg has no memory-safety preconditions.
            unsafe {
                libc::killpg(self.group, libc::SIGKILL);
            }
        }
    }
}

impl Drop for InstanceProcess {
    fn drop(&mut self) {
        self.kill();
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.group);
    }
}

/// How Lambda words an exit: `exit status 1`, `signal: killed`.
pub(crate) fn describe_exit(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(libc::SIGKILL)) => "signal: killed".to_owned(),
        (None, Some(libc::SIGABRT)) => "signal: aborted".to_owned(),
        (None, Some(libc::SIGSEGV)) => "signal: segmentation fault".to_owned(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "unknown exit".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn group_alive(group: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::killpg(group, 0) == 0 }
    }

    #[tokio::test]
    async fn dropping_an_instance_kills_its_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "sh -c 'trap \"\" TERM; sleep 60' & sleep 60"]);
        let process = InstanceProcess::spawn(command, &dir.path().join("log")).unwrap();
        let group = process.pid();
        assert!(group_alive(group));
        drop(process);
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(group) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!group_alive(group), "process group {group} survived");
    }

    #[tokio::test]
    async fn exits_are_reported_with_lambdas_wording() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/instance.log");
        let mut command = Command::new("sh");
        command.args(["-c", "echo to-the-log; exit 3"]);
        let process = InstanceProcess::spawn(command, &log).unwrap();
        let mut exit = process.exit_watch();
        let status = *exit.wait_for(Option::is_some).await.unwrap();
        assert_eq!(describe_exit(&status.unwrap()), "exit status 3");
        assert_eq!(std::fs::read_to_string(log).unwrap(), "to-the-log\n");
    }
}
