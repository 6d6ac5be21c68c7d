//! The restore check: the restored tree against the corpus as it was backed up.
//!
//! Both trees are walked in the same order (see `files::walk`) and merged in one pass. A
//! difference is an entry on one side only, an entry of another type, a regular file of
//! another size or content (compared byte for byte), or a symlink with another target.
//! Ownership, modes and times are not compared: tools differ in what they restore by default.

use std::cmp::Ordering;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::files::{self, Entry, Kind};
use crate::cmd::{Error, Result};

/// The differences, described (at most `shown` of them) and counted.
pub struct Differences {
    pub count: u64,
    pub shown: Vec<String>,
}

/// Compare `source` with its restore at `restored` inside the restore target `top` (the same
/// directory, or one below it for a tool that restores absolute paths: then anything in `top`
/// beside the directories leading to `restored` is extra).
pub fn compare(source: &Path, top: &Path, restored: &Path) -> Result<Differences> {
    let mut d = Differences { count: 0, shown: vec![] };
    let mut note = |what: String| {
        d.count += 1;
        if d.shown.len() < 20 {
            d.shown.push(what);
        }
    };
    for stray in strays(top, restored)? {
        note(format!("extra: {}", stray.display()));
    }
    if !restored.is_dir() {
        note(format!("missing: {}", restored.display()));
        return Ok(d);
    }
    let (a, b) = (files::walk(source)?, files::walk(restored)?);
    let mut buffers = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.rel.cmp(&y.rel),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => note(format!("missing: {}", a[i].rel.display())),
            Ordering::Greater => note(format!("extra: {}", b[j].rel.display())),
            Ordering::Equal => {
                if let Some(what) = differs(source, restored, &a[i], &b[j], &mut buffers)? {
                    note(format!("{what}: {}", a[i].rel.display()));
                }
            }
        }
        i += usize::from(order != Ordering::Greater);
        j += usize::from(order != Ordering::Less);
    }
    Ok(d)
}

/// Entries of the directories from `top` down to `inner` that do not lead to `inner`.
fn strays(top: &Path, inner: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = vec![];
    let Ok(rel) = inner.strip_prefix(top) else { return Ok(out) };
    let mut dir = top.to_path_buf();
    for next in rel.components() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(dir.display().to_string(), e))?;
            if e.file_name() != next.as_os_str() {
                out.push(e.path());
            }
        }
        dir.push(next);
        if !dir.is_dir() {
            break;
        }
    }
    Ok(out)
}

type Buffers = (Vec<u8>, Vec<u8>);

fn differs(
    source: &Path,
    restored: &Path,
    x: &Entry,
    y: &Entry,
    buffers: &mut Buffers,
) -> Result<Option<&'static str>> {
    let (p, q) = (source.join(&x.rel), restored.join(&y.rel));
    Ok(match (x.kind, y.kind) {
        (k, l) if k != l => Some("another type"),
        (Kind::File, _) if x.len != y.len => Some("another size"),
        (Kind::File, _) if !same_content(&p, &q, buffers)? => Some("another content"),
        (Kind::Symlink, _) => {
            let target = |p: &Path| std::fs::read_link(p).map_err(|e| Error::io(p.display().to_string(), e));
            (target(&p)? != target(&q)?).then_some("another symlink target")
        }
        _ => None,
    })
}

fn same_content(p: &Path, q: &Path, (x, y): &mut Buffers) -> Result<bool> {
    let open = |p: &Path| File::open(p).map_err(|e| Error::io(p.display().to_string(), e));
    let (mut f, mut g) = (open(p)?, open(q)?);
    loop {
        let n = read_full(&mut f, x).map_err(|e| Error::io(p.display().to_string(), e))?;
        let m = read_full(&mut g, y).map_err(|e| Error::io(q.display().to_string(), e))?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Fill `buf` as far as the file goes; returns the bytes read.
fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
