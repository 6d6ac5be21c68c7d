//! `POST /api/restore` and `GET /api/restore/roots`: a restore into a directory of the server's
//! machine, only inside the restore roots it was started with (`--restore-root DIR`, the
//! profile's `serve.restore-roots`); none configured, none allowed.
//!
//! The threat: whoever logs in names any directory, and the server (often root) writes there.
//! The check is made on descriptors, not on a path that could be swapped after it: each root
//! is opened at start ([`Root::open`]); a target is its root's descriptor plus plain names
//! (no `..`), opened one at a time with `O_NOFOLLOW|O_DIRECTORY` (made `0755` when absent), so
//! a symlink anywhere below the root is refused, never followed; a root whose path no longer
//! names the directory opened at start (moved away, replaced by a symlink) is refused. The
//! restore itself is then given the opened directory (`/proc/self/fd/N`), which it opens once
//! and descends by descriptors as it always does: nothing it writes can land outside.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::jobs::{accepted, metered};
use super::paths::snapshot_path;
use super::state::State;
use crate::commands::Filter;
use crate::error::{Error, Result};
use crate::restorer::{Overwrite, RestoreOptions, RestoreProgress};

/// A restore root, opened at start.
pub struct Root {
    /// As configured (absolute).
    pub path: PathBuf,
    /// What it resolved to at start.
    real: PathBuf,
    fd: OwnedFd,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn same_file(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (nix::sys::stat::fstat(a), nix::sys::stat::fstat(b)) {
        (Ok(x), Ok(y)) => (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino),
        _ => false,
    }
}

/// A refusal: the target is not where restores may write.
fn forbidden(message: String, hint: &str) -> ApiError {
    ApiError { status: StatusCode::FORBIDDEN, kind: "forbidden", message, hint: Some(hint.into()) }
}

impl Root {
    /// Open a configured root: an existing directory, named by an absolute path (a symlink
    /// the administrator configured is resolved now, once).
    pub fn open(path: &Path) -> Result<Root> {
        let bad = |why: String| {
            Error::usage(format!("restore root {}: {why}", path.display()))
                .hint("give an existing directory by its absolute path (--restore-root DIR, serve.restore-roots)")
        };
        if !path.is_absolute() {
            return Err(bad("not an absolute path".into()));
        }
        let real = std::fs::canonicalize(path).map_err(|e| bad(e.to_string()))?;
        let fd = nix::fcntl::open(&real, dir_flags(), Mode::empty()).map_err(|e| bad(e.desc().to_string()))?;
        Ok(Root { path: path.to_path_buf(), real, fd })
    }

    /// The names of `target` below this root, if it is under it.
    fn below<'t>(&self, target: &'t Path) -> Option<&'t Path> {
        target.strip_prefix(&self.path).ok().or_else(|| target.strip_prefix(&self.real).ok())
    }

    /// Is the root's path still the directory opened at start?
    fn unchanged(&self) -> bool {
        nix::fcntl::open(&self.real, dir_flags(), Mode::empty()).is_ok_and(|fd| same_file(&fd, &self.fd))
    }
}

/// A target reached through descriptors: the deepest directory there is (or was made), and
/// the names below it that are not there (only in a dry run, which makes nothing).
pub struct Reached {
    pub dir: OwnedFd,
    pub missing: PathBuf,
    /// The target as asked, for messages.
    pub shown: PathBuf,
}

impl Reached {
    /// The path the restore is given: the opened directory itself, whatever happens to the
    /// names that led to it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).join(&self.missing)
    }

    /// `text` with the descriptor path put back as the target that was asked.
    fn shown_in(&self, text: &str) -> String {
        text.replace(&self.path().display().to_string(), &self.shown.display().to_string())
    }
}

/// Check `target` against the roots and open it, making what is missing unless `dry_run`.
pub fn reach(roots: &[Root], target: &str, dry_run: bool) -> Result<Reached, ApiError> {
    if roots.is_empty() {
        return Err(forbidden(
            "this server has no restore roots: it restores nowhere".into(),
            "start arca serve with --restore-root DIR (repeatable) or serve.restore-roots in the profile",
        ));
    }
    let listed = roots.iter().map(|r| r.path.display().to_string()).collect::<Vec<_>>().join(", ");
    let hint = format!("restore into a directory inside one of the restore roots: {listed}");
    let asked = Path::new(target);
    if !asked.is_absolute() || target.contains('\0') {
        return Err(Error::usage(format!("restore target {target:?} is not an absolute path")).hint(hint).into());
    }
    if asked.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(forbidden(format!("restore target {target:?} holds `..`"), &hint));
    }
    let Some((root, rel)) = roots.iter().find_map(|r| r.below(asked).map(|rel| (r, rel))) else {
        return Err(forbidden(format!("restore target {target} is outside the restore roots"), &hint));
    };
    if !root.unchanged() {
        return Err(forbidden(
            format!("restore root {} is no longer the directory it was when the server started", root.path.display()),
            "it was moved or replaced (perhaps by a symlink): restart arca serve once it is what it should be",
        ));
    }
    let mut dir = root.fd.try_clone().map_err(|e| Error::io(root.path.display(), e))?;
    let mut done = root.path.clone();
    let mut missing = PathBuf::new();
    for name in rel.components() {
        let Component::Normal(name) = name else { continue };
        done.push(name);
        if !missing.as_os_str().is_empty() {
            missing.push(name);
            continue;
        }
        let opened = match nix::fcntl::openat(&dir, name, dir_flags(), Mode::empty()) {
            Err(Errno::ENOENT) if dry_run => {
                missing.push(name);
                continue;
            }
            Err(Errno::ENOENT) => match nix::sys::stat::mkdirat(&dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => nix::fcntl::openat(&dir, name, dir_flags(), Mode::empty()),
                Err(e) => Err(e),
            },
            other => other,
        };
        // O_NOFOLLOW|O_DIRECTORY on a symlink fails with ELOOP or ENOTDIR: look at what it is
        let is_link = |dir: &OwnedFd| {
            nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
        };
        dir = match opened {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR) if is_link(&dir) => {
                return Err(forbidden(
                    format!("{} is a symlink: a restore target is never reached through one", done.display()),
                    &hint,
                ))
            }
            Err(Errno::ENOTDIR) => {
                return Err(Error::usage(format!("{} exists and is not a directory", done.display()))
                    .hint("choose another target")
                    .into())
            }
            Err(e) => return Err(Error::io(done.display(), e.into()).into()),
        };
    }
    Ok(Reached { dir, missing, shown: asked.to_path_buf() })
}

/// The body of `POST /api/restore`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    snapshot: String,
    /// The directory (or file) of the snapshot to restore; `/` by default.
    path: Option<String>,
    target: String,
    /// As `restore --overwrite`: always (the CLI's default), if-changed, if-newer, never.
    overwrite: Option<String>,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    dry_run: bool,
}

pub async fn restore(
    AxumState(state): AxumState<Arc<State>>,
    body: Result<Json<RestoreRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::from(
            Error::usage(format!("invalid restore request: {}", e.body_text()))
                .hint("send JSON: {\"snapshot\": ID, \"path\": \"/dir\", \"target\": \"/abs/dir\"}"),
        )
    })?;
    let path = snapshot_path(req.path.as_deref().unwrap_or("/"))?;
    let overwrite = Overwrite::parse(req.overwrite.as_deref().unwrap_or("always"))?;
    // refusals are answered now, before any job: nothing is made outside the roots, and
    // nothing at all when no job could run now
    state.work.jobs.has_room()?;
    let st = state.clone();
    let (target, dry_run) = (req.target.clone(), req.dry_run);
    let reached = super::api::blocking(move || Ok(reach(&st.work.roots, &target, dry_run))).await??;
    // the snapshot must exist too: a typo is an answer, not a failed job
    let (st, selector) = (state.clone(), req.snapshot.clone());
    let (sid, _) = super::api::blocking(move || super::api::snapshot(&st, &selector)).await?;
    let status = state.work.restore_status;
    let repo = state.repo.clone();
    let id = state.work.jobs.start("restore", move |sink| {
        let opts = RestoreOptions {
            target: reached.path(),
            includes: None,
            excludes: Default::default(),
            overwrite,
            delete: req.delete,
            verify: false,
            dry_run: req.dry_run,
            sparse: false,
            concurrency: 8,
            no_owner: false,
            no_special: false,
            no_setuid: false,
            xattrs: Default::default(),
        };
        let progress = Arc::new(RestoreProgress::default());
        let meter = status.map(|f| f(progress.clone()));
        let selector = format!("{}:{path}", sid.to_hex());
        let warn =
            |m: String| tracing::warn!("serve: restore into {}: {}", reached.shown.display(), reached.shown_in(&m));
        let started = std::time::Instant::now();
        let run = || crate::commands::restore::run(&repo, &selector, &Filter::default(), &opts, &progress, &warn);
        let result = match meter {
            Some(m) => metered(m, sink, run),
            None => run(),
        };
        let (sid, summary) = result.map_err(|mut e| {
            e.message = reached.shown_in(&e.message);
            e.object = e.object.map(|o| reached.shown_in(&o));
            e
        })?;
        let _keep_open = &reached.dir;
        Ok(crate::commands::restore::report(&sid, &summary, started.elapsed(), req.dry_run))
    })?;
    Ok(accepted(id))
}

#[derive(Serialize)]
pub struct Roots {
    roots: Vec<String>,
}

pub async fn roots(AxumState(state): AxumState<Arc<State>>) -> Json<Roots> {
    Json(Roots { roots: state.work.roots.iter().map(|r| r.path.display().to_string()).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<Reached, ApiError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.kind,
        }
    }

    #[test]
    fn targets_outside_the_roots_through_dotdot_or_symlinks_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        let roots = vec![Root::open(&root).unwrap()];
        let at = |p: &Path| p.display().to_string();
        assert_eq!(kind(reach(&[], &at(&root), false)), "forbidden", "no roots: nowhere");
        assert_eq!(kind(reach(&roots, &at(&outside), false)), "forbidden");
        assert_eq!(kind(reach(&roots, &at(&root.join("../outside")), false)), "forbidden");
        assert_eq!(kind(reach(&roots, &at(&root.join("evil")), false)), "forbidden");
        assert_eq!(kind(reach(&roots, &at(&root.join("evil/x")), false)), "forbidden");
        assert_eq!(kind(reach(&roots, "relative/x", false)), "usage");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing was made outside");
        // inside: made (and not in a dry run)
        let r = reach(&roots, &at(&root.join("a/b")), true).unwrap();
        assert_eq!(r.missing, Path::new("a/b"));
        assert!(!root.join("a").exists(), "a dry run makes nothing");
        let r = reach(&roots, &at(&root.join("a/b")), false).unwrap();
        assert!(r.missing.as_os_str().is_empty());
        assert!(root.join("a/b").is_dir());
        assert!(r.path().starts_with("/proc/self/fd/"));
        // a root replaced by a symlink to elsewhere: refused
        std::fs::rename(&root, tmp.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&outside, &root).unwrap();
        assert_eq!(kind(reach(&roots, &at(&root.join("c")), false)), "forbidden");
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing was made outside");
    }
}
