//! Supervised child processes: each runs in its own process group, logs into the run directory,
//! and is killed with its whole group when dropped, when the owning process exits normally
//! (`atexit`, which covers a test binary whose shared post office lives in a `static`), or when
//! `postoffice local` receives Ctrl-C. If the owning process is killed outright, the kernel kills
//! the children (`PR_SET_PDEATHSIG`); as that signal follows the *thread* that spawned them, all
//! children are spawned by one thread that lives as long as the process.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Mutex, Once, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Process groups still running; `atexit` kills whatever is left in here.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static REGISTER_EXIT_HOOK: Once = Once::new();

extern "C" fn kill_live_groups() {
    let groups: Vec<i32> = match LIVE_GROUPS.lock() {
        Ok(groups) => groups.iter().copied().collect(),
        Err(poisoned) => poisoned.into_inner().iter().copied().collect(),
    };
    for group in groups {
        // SAFETY: killpg has no memory-safety preconditions; a stale group id fails with ESRCH.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

type SpawnRequest = (
    std::process::Command,
    mpsc::Sender<std::io::Result<std::process::Child>>,
);

/// Spawns `command` from the process-long spawner thread.
fn spawn_from_spawner(command: std::process::Command) -> std::io::Result<std::process::Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("postoffice-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
                // Never return: the children's death signal fires when this thread ends.
                loop {
                    std::thread::park();
                }
            })
            .expect("starting the spawner thread");
        Mutex::new(requests)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// A child in its own process group. Dropping it terminates the group (SIGTERM, then SIGKILL).
#[derive(Debug)]
pub struct ChildProcess {
    name: String,
    child: std::process::Child,
    group: i32,
}

impl ChildProcess {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(
        name: &str,
        mut command: std::process::Command,
        log: &Path,
    ) -> anyhow::Result<Self> {
        REGISTER_EXIT_HOOK.call_once(|| {
            // SAFETY: registering a plain extern "C" fn that only calls async-signal-safe killpg.
            unsafe {
                libc::atexit(kill_live_groups);
            }
        });
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
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
        let child = spawn_from_spawner(command)
            .with_context(|| format!("starting {name} (log: {})", log.display()))?;
        let group = i32::try_from(child.id()).context("process id out of range")?;
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(group);
        Ok(Self {
            name: name.to_owned(),
            child,
            group,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (also its process group id), while it runs.
    pub fn pid(&self) -> Option<i32> {
        Some(self.group)
    }

    /// The exit status when the child has already exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn terminate(&mut self) {
        let group = self.group;
        let signal_group = |signal| {
            // SAFETY: see kill_live_groups.
            unsafe { libc::killpg(group, signal) == 0 }
        };
        if signal_group(libc::SIGTERM) {
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && self.exited().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Grandchildren (function binaries under cargo lambda watch) may outlive the leader.
        signal_group(libc::SIGKILL);
        let _ = self.child.kill();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(10));
        }
        LIVE_GROUPS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.group);
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Every process of one post office, stopped in reverse start order when dropped.
#[derive(Debug, Default)]
pub struct Supervisor {
    children: Vec<ChildProcess>,
}

impl Supervisor {
    pub fn add(&mut self, child: ChildProcess) {
        self.children.push(child);
    }

    /// The first child that has exited, with its status: a post office with a dead part is
    /// broken, and `local up` stops instead of serving half a platform.
    pub fn first_exited(&mut self) -> Option<(String, std::process::ExitStatus)> {
        self.children
            .iter_mut()
            .find_map(|child| child.exited().map(|status| (child.name.clone(), status)))
    }

    pub fn stop(&mut self) {
        while let Some(child) = self.children.pop() {
            drop(child);
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Raises this process's soft limit on open files to its hard limit and returns the limit now in
/// force: the IoT gateway holds one descriptor per connected device, and a soft limit of 1024
/// (a common default) would refuse the 1025th. Children started afterwards inherit it.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_alive(group: i32) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::killpg(group, 0) == 0 }
    }

    #[tokio::test]
    async fn dropping_a_child_kills_its_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new("sh");
        // The grandchild ignores SIGTERM, so only the SIGKILL of the group stops it.
        command.args(["-c", "sh -c 'trap \"\" TERM; sleep 60' & sleep 60"]);
        let child = ChildProcess::spawn("sleeper", command, &dir.path().join("log")).unwrap();
        let group = child.group;
        assert!(group_alive(group));
        drop(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(group) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !group_alive(group),
            "process group {group} survived the drop"
        );
        assert!(!LIVE_GROUPS.lock().unwrap().contains(&group));
    }

    #[tokio::test]
    async fn output_goes_to_the_log_and_exits_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut command = std::process::Command::new("sh");
        command.args(["-c", "echo hello; exit 3"]);
        let mut supervisor = Supervisor::default();
        supervisor.add(ChildProcess::spawn("short", command, &log).unwrap());
        let deadline = Instant::now() + Duration::from_secs(5);
        let exited = loop {
            if let Some(exited) = supervisor.first_exited() {
                break exited;
            }
            assert!(Instant::now() < deadline, "the child never exited");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(exited.0, "short");
        assert_eq!(exited.1.code(), Some(3));
        assert_eq!(std::fs::read_to_string(log).unwrap(), "hello\n");
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        let raised = raise_open_files_limit().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes only into the struct it is given.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        assert_eq!(raised, limit.rlim_cur);
    }
}
