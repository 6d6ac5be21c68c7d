//! `arca mount`: check that FUSE is usable, mount, wait for Ctrl-C, SIGTERM or an external
//! unmount, unmount.

use std::sync::Arc;
use std::time::Duration;

use super::args::MountArgs;
use super::exit;
use super::output::Out;
use super::settings::{parse_size, Settings, BACKGROUND_CHILD};
use crate::error::{Error, Kind, Result};
use crate::mount::fuse::{self, MountOptions};
use crate::mount::layout::DEFAULT_TEMPLATES;
use crate::mount::vfs::{Vfs, VfsOptions};

/// Is FUSE usable here? A clear error when it is not, naming what to do.
pub fn fuse_available() -> Result<()> {
    match std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::new(Kind::Usage, "FUSE is not available: /dev/fuse does not exist")
                .hint("load the fuse module (modprobe fuse) or install fuse3; in a container, pass --device /dev/fuse"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::new(Kind::Usage, "not permitted to use /dev/fuse")
                .hint("run as root, or install fuse3 so that fusermount3 can mount for you"))
        }
        Err(e) => Err(Error::io("/dev/fuse", e)),
    }
}

/// `--background`: check the password here, start this command again detached (its own
/// process group, no terminal, stderr to a log), wait until the mount appears, return.
fn background(s: &Settings, out: Out, target: &std::path::Path) -> Result<u8> {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let (repo, password) = s.open_with_password()?;
    drop(repo);
    let log = std::env::temp_dir().join(format!("arca-mount-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log).map_err(|e| Error::io(log.display(), e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the arca executable", e))?;
    // The password read here (perhaps from a prompt) goes to the child through a pipe on its
    // standard input: not a second prompt, and not its environment, which its owner can read
    // in /proc/PID/environ for as long as the mount lives.
    let mut child = crate::platform::without_secrets(&mut std::process::Command::new(exe))
        .args(std::env::args_os().skip(1))
        .env(BACKGROUND_CHILD, "1")
        .env_remove("ARCA_PASSWORD_FILE")
        .env_remove("ARCA_PASSWORD_COMMAND")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("starting the background mount", e))?;
    if let Some(mut pipe) = child.stdin.take() {
        // a child that died first shows why in its log, read below
        let _ = pipe.write_all(&password);
    }
    drop(password);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if mounted(target) {
            out.note(format!(
                "mounted at {} by process {} (log: {}); `umount {}` or `kill {}` to stop",
                target.display(),
                child.id(),
                log.display(),
                target.display(),
                child.id()
            ));
            return Ok(exit::OK);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let why = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            return Err(Error::new(Kind::Other, format!("the background mount stopped ({status}): {}", why.trim())));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err(Error::new(Kind::Other, format!("{} did not appear within 2 minutes", target.display())));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Is `path` a mount point now (per /proc/self/mountinfo)?
fn mounted(path: &std::path::Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return true };
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines().any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

pub fn mount(s: &Settings, out: Out, a: MountArgs) -> Result<u8> {
    let target = std::path::absolute(&a.mountpoint).map_err(|e| Error::io(a.mountpoint.display(), e))?;
    if !target.is_dir() {
        return Err(Error::usage(format!("mount point {} is not a directory", target.display()))
            .hint("create it first: mkdir -p MOUNTPOINT"));
    }
    fuse_available()?;
    if a.background && std::env::var_os(BACKGROUND_CHILD).is_none() {
        return background(s, out, &target);
    }
    let opts = VfsOptions {
        templates: if a.path_templates.is_empty() {
            DEFAULT_TEMPLATES.iter().map(|t| t.to_string()).collect()
        } else {
            a.path_templates.clone()
        },
        time_template: a.time_template.clone(),
        cache_bytes: parse_size(&a.cache_size)? as usize,
        refresh: humantime::parse_duration(&a.refresh)
            .map_err(|e| Error::usage(format!("--refresh {:?}: {e}", a.refresh)))?,
        ..Default::default()
    };
    let repo = Arc::new(s.open()?);
    let lock = repo.lock_read("mount")?;
    let vfs = Arc::new(Vfs::new(repo.clone(), opts)?);
    let mount_options =
        MountOptions { fs_name: format!("arca:{}", repo.location()), allow_other: a.allow_other, threads: a.threads };
    let session = fuse::mount(vfs, &target, &mount_options)?;
    out.note(format!("repository mounted at {}; Ctrl-C (or umount) to unmount", target.display()));
    while !crate::platform::interrupted() && mounted(&target) {
        std::thread::sleep(Duration::from_millis(200));
        lock.ensure_fresh()?;
    }
    if mounted(&target) {
        session.unmount()?;
    } else {
        drop(session);
    }
    out.note(format!("unmounted {}", target.display()));
    Ok(exit::OK)
}
