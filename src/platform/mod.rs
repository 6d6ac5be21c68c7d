//! The operating system: who and where we are, and file metadata in both directions
//! (reading a node from `lstat`, applying a node's metadata on restore).

pub mod keyring;
pub mod malloc;
pub mod process;

use crate::util::sync::IgnorePoison;
use std::collections::HashMap;
use std::sync::Mutex;

pub fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".into())
}

pub fn username() -> String {
    user_name(nix::unistd::getuid().as_raw()).or_else(|| std::env::var("USER").ok()).unwrap_or_default()
}

pub fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)
}

pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

fn cached(
    table: &Mutex<HashMap<u32, Option<String>>>,
    id: u32,
    look: impl FnOnce(u32) -> Option<String>,
) -> Option<String> {
    let mut t = table.lock().ignore_poison();
    t.entry(id).or_insert_with(|| look(id)).clone()
}

pub fn user_name(uid: u32) -> Option<String> {
    static USERS: std::sync::OnceLock<Mutex<HashMap<u32, Option<String>>>> = std::sync::OnceLock::new();
    cached(USERS.get_or_init(Default::default), uid, |u| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u)).ok().flatten().map(|u| u.name)
    })
}

pub fn group_name(gid: u32) -> Option<String> {
    static GROUPS: std::sync::OnceLock<Mutex<HashMap<u32, Option<String>>>> = std::sync::OnceLock::new();
    cached(GROUPS.get_or_init(Default::default), gid, |g| {
        nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(g)).ok().flatten().map(|g| g.name)
    })
}

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Has the user asked us to stop (SIGINT/SIGTERM)? Long loops poll this and wind down,
/// releasing locks and writing nothing half-done.
pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Install the handler: the first signal asks to stop, a second one exits at once (130).
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("interrupted: stopping (press Ctrl-C again to exit at once)");
    });
}

/// The error for an interrupted operation.
pub fn interrupted_error() -> crate::error::Error {
    crate::error::Error::new(crate::error::Kind::Interrupted, "interrupted")
        .hint("nothing was lost: what was stored is reused by the next run")
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Environment variables that hold a password itself (not a file or a command that yields
/// one). Every child arca starts (hooks, password commands, `--stdin-from-command`, the
/// background mount) gets an environment without them: a hook is configuration, not a
/// password holder, and `/proc/PID/environ` of a long-lived child is readable by its owner.
pub const SECRET_ENV: &[&str] = &["ARCA_PASSWORD", "ARCA_FROM_PASSWORD"];

/// Remove [`SECRET_ENV`] from the environment `cmd` will start its child with.
pub fn without_secrets(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for var in SECRET_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Raise the soft limit on open descriptors to the hard limit. A backup holds one descriptor
/// per directory level it is inside (plus those of queued files), so a deep tree must not meet
/// the customary soft limit of 1024 while the hard limit allows far more. Best effort.
pub fn raise_open_file_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::debug!("raising the open file limit from {soft} to {hard}: {e}");
            }
        }
    }
}
