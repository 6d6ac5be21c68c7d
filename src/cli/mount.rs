//! `arca mount`: the options parsed, then `commands::mount` (it checks that FUSE is usable,
//! locks, mounts, and serves until Ctrl-C, SIGTERM or an external unmount); or, with
//! `--background`, this command started again detached.

use std::sync::Arc;
use std::time::Duration;

use super::args::MountArgs;
use super::exit;
use super::output::Out;
use super::settings::{parse_size, Settings, BACKGROUND_CHILD};
use crate::commands::{self, mount::is_mounted, mount::MountCommand};
use crate::error::{Error, Kind, Result};
use crate::mount::layout::DEFAULT_TEMPLATES;
use crate::mount::vfs::{Select, VfsOptions};

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
        if is_mounted(target) {
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

pub fn mount(s: &Settings, out: Out, a: MountArgs) -> Result<u8> {
    let target = commands::mount::mountpoint(&a.mountpoint)?;
    if a.background && std::env::var_os(BACKGROUND_CHILD).is_none() {
        return background(s, out, &target);
    }
    let vfs = VfsOptions {
        templates: if a.path_templates.is_empty() {
            DEFAULT_TEMPLATES.iter().map(|t| t.to_string()).collect()
        } else {
            a.path_templates.clone()
        },
        time_template: a.time_template.clone(),
        cache_bytes: parse_size(&a.cache_size)? as usize,
        refresh: humantime::parse_duration(&a.refresh)
            .map_err(|e| Error::usage(format!("--refresh {:?}: {e}", a.refresh)))?,
        select: {
            let f = super::handlers::filter(&a.filter);
            let all = f.hosts.is_empty() && f.tags.is_empty() && f.paths.is_empty();
            (!all).then(|| Select(Arc::new(move |snap| f.matches(snap))))
        },
        ..Default::default()
    };
    let repo = Arc::new(s.open()?);
    let cmd = MountCommand { target, vfs, allow_other: a.allow_other, threads: a.threads };
    let serving = commands::mount::mount(repo, cmd)?;
    out.note(format!("repository mounted at {}; Ctrl-C (or umount) to unmount", serving.target().display()));
    let report = serving.serve()?;
    out.note(format!("unmounted {}", report.mountpoint));
    Ok(exit::OK)
}
