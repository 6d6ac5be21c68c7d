//! One shell command run to completion under a deadline: what hooks and the notification
//! command channel both do.
//!
//! `sh -c COMMAND` with stdin closed, without the secrets of [`super::SECRET_ENV`] in its
//! environment, in its own process group (so a deadline kills what it started too, not only
//! the shell), its stdout and stderr passed on to arca's stderr line by line as `[TAG] …` as
//! they come. At the deadline the whole group gets SIGKILL and the shell is reaped. The caller
//! words the outcome: hooks and notifications say it differently.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How a shell command failed to run to its end (a non-zero exit is not one of these: it is
/// in the [`ExitStatus`]).
#[derive(Debug)]
pub enum ShellFailure {
    /// `sh` could not be started.
    Start(std::io::Error),
    /// The deadline passed; its process group was killed.
    TimedOut,
    /// Waiting for it failed.
    Wait(std::io::Error),
}

/// Run `sh -c command` with `env` added, its output tagged `[tag]`, for at most `timeout`.
pub fn run_shell<I, K, V>(command: &str, env: I, tag: &str, timeout: Duration) -> Result<ExitStatus, ShellFailure>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<std::ffi::OsStr>,
    V: AsRef<std::ffi::OsStr>,
{
    let mut child = super::without_secrets(&mut Command::new("sh"))
        .args(["-c", command])
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // its own process group, so a timeout kills what the command started too
        .process_group(0)
        .spawn()
        .map_err(ShellFailure::Start)?;
    // pass the output on as it comes, from both pipes
    let pipes: [Option<Box<dyn Read + Send>>; 2] = [
        child.stdout.take().map(|o| Box::new(o) as Box<dyn Read + Send>),
        child.stderr.take().map(|e| Box::new(e) as Box<dyn Read + Send>),
    ];
    let relays: Vec<_> = pipes
        .into_iter()
        .flatten()
        .map(|pipe| {
            let tag = tag.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                    eprintln!("[{tag}] {line}");
                }
            })
        })
        .collect();
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let group = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                break Err(ShellFailure::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => break Err(ShellFailure::Wait(e)),
        }
    };
    // the relays end when every holder of the pipes has exited (after a kill: the whole group)
    for r in relays {
        let _ = r.join();
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_and_the_added_environment_reach_the_caller() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let cmd = format!("echo \"$A_VAR\" > {}; exit 5", out.display());
        let status = run_shell(&cmd, [("A_VAR", "value")], "t", Duration::from_secs(10)).unwrap();
        assert_eq!(status.code(), Some(5));
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "value\n");
        // stdin is closed: a command reading it sees the end at once instead of hanging
        let status = run_shell("cat", Vec::<(String, String)>::new(), "t", Duration::from_secs(10)).unwrap();
        assert!(status.success());
    }

    #[test]
    fn at_the_deadline_the_whole_process_group_is_killed_not_only_the_shell() {
        let tmp = tempfile::tempdir().unwrap();
        let pid_file = tmp.path().join("pid");
        // the shell starts a grandchild that keeps the output pipe open, then waits for it
        let cmd = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
        let t = Instant::now();
        let r = run_shell(&cmd, Vec::<(String, String)>::new(), "t", Duration::from_millis(300));
        assert!(matches!(r, Err(ShellFailure::TimedOut)), "{r:?}");
        // returning at all proves the relays ended, so nothing held the pipes any more
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // the grandchild is gone, or a zombie waiting for a reaper that is not us (SIGKILL
        // takes effect as it is scheduled: it may still be on its way out for a moment)
        let dead = || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or_default().split_whitespace().next().map(str::to_string);
            (matches!(state.as_deref(), None | Some("Z") | Some("X")), stat)
        };
        let until = Instant::now() + Duration::from_secs(5);
        while !dead().0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (gone, stat) = dead();
        assert!(gone, "sleep {pid} still runs: {stat}");
    }
}
