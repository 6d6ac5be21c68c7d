//! The distribution's Linux source tree, the benchmarks' real-world corpus of many small text
//! files: the newest `/usr/src/linux-source-*.tar.xz` (the `linux-source` package, installed
//! with apt when missing), unpacked once.
//!
//! tar unpacks into a sibling `<out>.tmp` that is renamed to `<out>` only when it succeeded,
//! so an interrupted unpack never looks complete to the next run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{self, Error, Result};

/// The unpacked tree under `out` (e.g. `out/linux-source-6.1`) and a phrase describing it.
pub fn tree(out: &Path) -> Result<(PathBuf, String)> {
    if let Some(tree) = first_entry(out) {
        let name = tree.file_name().unwrap_or_default().to_string_lossy().into_owned();
        return Ok((tree, format!("the Linux source tree {name}")));
    }
    if tarball().is_none() {
        eprintln!("installing the linux-source package");
        cmd::apt_install(&["linux-source"])?;
    }
    let t = tarball()
        .ok_or_else(|| Error::Check("no /usr/src/linux-source-*.tar.xz after installing linux-source".into()))?;
    let tmp = out.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(tmp.display().to_string(), e))?;
    eprintln!("unpacking {} into {}", t.display(), out.display());
    let mut x = Command::new("tar");
    x.arg("-xf").arg(&t).arg("-C").arg(&tmp);
    cmd::quiet(x, "unpacking the Linux source")?;
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out.display().to_string(), e))?;
    tree(out)
}

/// The newest Linux source tarball in /usr/src, if any.
pub fn tarball() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/src").ok()?;
    let is_source = |p: &PathBuf| {
        let n = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        n.starts_with("linux-source-") && n.ends_with(".tar.xz")
    };
    entries.flatten().map(|e| e.path()).filter(is_source).max()
}

fn first_entry(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).min()
}
