//! The corpora, built once under `<data>/corpora`, and the 1% change of step "1% changed".
//!
//! | corpus | full | `--quick` |
//! |---|---|---|
//! | `src` | the distribution's Linux source tree (`linux-source`) | its first 20,000 files |
//! | `bin` | a copy of the Rust toolchain's `lib/` (real binaries) | its files up to 256 MiB |
//! | `big` | one 2 GiB file, half text-like and half random (`generate::big`) | 256 MiB |
//! | `many` | 200,000 small files | 20,000 |
//! | `million` | 1,000,000 tiny files (`--million`; first backup only) | 100,000 |
//!
//! A corpus is built into `<name>.tmp` and renamed when complete, then counted; `<name>.done`
//! holds its description and counts. A corpus with that marker is never rebuilt, so the
//! corpora are built once per data directory and every later run measures the same bytes.
//!
//! The 1% change: in a tree, every 100th regular file in walk order (at least three files),
//! even ones appended to and odd ones with 32 bytes overwritten in the middle, each mtime one
//! second later; the originals are saved first (in `<name>.originals`) and copied back,
//! mtimes included, when the step is over. For `big`, `big.img` and its edited variant `big2`
//! (`<name>.variants`) swap places by renames, so no byte is copied and the page cache stays
//! warm. A run cut short leaves a changed corpus behind; [`Corpus::prepare`] undoes it.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::files::{self, Counts};
use super::generate;
use super::report::thousands;
use crate::cmd::{self, Error, Result};
use crate::linux_source;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Src,
    Bin,
    Big,
    Many,
    Million,
}

impl Kind {
    pub const DEFAULT: [Kind; 4] = [Kind::Src, Kind::Bin, Kind::Big, Kind::Many];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Src => "src",
            Kind::Bin => "bin",
            Kind::Big => "big",
            Kind::Many => "many",
            Kind::Million => "million",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Src, Kind::Bin, Kind::Big, Kind::Many, Kind::Million].into_iter().find(|k| k.name() == s)
    }
}

pub struct Corpus {
    pub kind: Kind,
    /// The directory that is backed up.
    pub root: PathBuf,
    pub what: String,
    pub counts: Counts,
    /// Saved originals of the changed files (trees).
    originals: PathBuf,
    /// `big2.img`, and `big1.img` while the two are swapped (`big`).
    variants: PathBuf,
}

fn io(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p.display().to_string(), e)
}

impl Corpus {
    /// The corpus, built first if needed, in its original state.
    pub fn prepare(kind: Kind, data: &Path, quick: bool) -> Result<Corpus> {
        let dir = data.join("corpora");
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let base = if quick { format!("{}-quick", kind.name()) } else { kind.name().to_string() };
        let at = |suffix: &str| dir.join(format!("{base}{suffix}"));
        let marker = at(".done");
        let mut corpus = Corpus {
            kind,
            root: at(""),
            what: String::new(),
            counts: Counts::default(),
            originals: at(".originals"),
            variants: at(".variants"),
        };
        if !marker.exists() {
            eprintln!("building corpus {base} in {}", corpus.root.display());
            let what = corpus.build(data, quick)?;
            let c = files::count(&corpus.root)?;
            let text = format!(
                "what: {what}\nfiles: {}\ndirs: {}\nsymlinks: {}\nbytes: {}\n",
                c.files, c.dirs, c.symlinks, c.bytes
            );
            std::fs::write(&marker, text).map_err(io(&marker))?;
        }
        corpus.read_marker(&marker)?;
        corpus.undo_change()?;
        Ok(corpus)
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The memory scan measures the first backup only.
    pub fn first_backup_only(&self) -> bool {
        self.kind == Kind::Million
    }

    fn read_marker(&mut self, marker: &Path) -> Result<()> {
        let text = std::fs::read_to_string(marker).map_err(io(marker))?;
        let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix(": ")).unwrap_or_default();
        let number = |k: &str| field(k).parse().unwrap_or(0);
        self.what = field("what").to_string();
        self.counts = Counts {
            files: number("files"),
            dirs: number("dirs"),
            symlinks: number("symlinks"),
            bytes: number("bytes"),
        };
        Ok(())
    }

    /// Build the corpus at `self.root` (through `<root>.tmp`); returns its description.
    fn build(&self, data: &Path, quick: bool) -> Result<String> {
        if self.kind == Kind::Src && !quick {
            return Ok(linux_source::tree(&self.root)?.1 + &package_of_linux_source());
        }
        let tmp = self.root.with_extension("tmp");
        for stale in [&tmp, &self.root] {
            if stale.exists() {
                std::fs::remove_dir_all(stale).map_err(io(stale))?;
            }
        }
        let what = match self.kind {
            Kind::Src => {
                let full = Corpus::prepare(Kind::Src, data, false)?;
                files::copy_tree(&full.root, &tmp, 20_000, u64::MAX)?;
                format!("the first 20,000 files of {}", full.what)
            }
            Kind::Bin => toolchain_lib(&tmp, if quick { 256 * MIB } else { u64::MAX })?,
            Kind::Big => self.big(&tmp, if quick { 256 * MIB } else { 2 * GIB })?,
            Kind::Many => {
                let n = if quick { 20_000 } else { 200_000 };
                generate::many(&tmp, n)?;
                format!(
                    "{} generated files of 512–4096 bytes, half text-like, half random, 50 per directory",
                    thousands(n)
                )
            }
            Kind::Million => {
                let n = if quick { 100_000 } else { 1_000_000 };
                generate::tiny(&tmp, n)?;
                format!(
                    "{} generated tiny files (their own number), 1,000 per directory; first backup only",
                    thousands(n)
                )
            }
        };
        std::fs::rename(&tmp, &self.root).map_err(io(&self.root))?;
        Ok(what)
    }

    fn big(&self, tmp: &Path, len: u64) -> Result<String> {
        std::fs::create_dir_all(tmp).map_err(io(tmp))?;
        let _ = std::fs::remove_dir_all(&self.variants);
        std::fs::create_dir_all(&self.variants).map_err(io(&self.variants))?;
        let big = tmp.join("big.img");
        generate::big(&big, len)?;
        let edits = generate::big2(&big, &self.variants.join("big2.img"))?;
        Ok(format!(
            "one {} MiB file, 1 MiB blocks 60% text-like and 40% random, its last 1/32 repeating its start; \
             the 1% change swaps in big2: {} scattered overwrites, insertions and deletions of 16–200 KiB, \
             {} bytes ({:.2}%)",
            len / MIB,
            edits.applied,
            thousands(edits.bytes),
            100.0 * edits.bytes as f64 / len as f64
        ))
    }

    /// Apply the 1% change; returns what was changed.
    pub fn apply_change(&self) -> Result<String> {
        if self.kind == Kind::Big {
            let (img, big1, big2) = self.big_paths();
            std::fs::rename(&img, &big1).map_err(io(&big1))?;
            std::fs::rename(&big2, &img).map_err(io(&img))?;
            return Ok("big.img replaced by big2".into());
        }
        let (note, _) = self.change_some(&pick)?;
        Ok(note)
    }

    /// Change `n` files spread over the corpus (the watch row: a few changes in a big tree),
    /// undone by [`Corpus::undo_change`]; returns what was changed and their absolute paths.
    pub fn change_files(&self, n: usize) -> Result<(String, Vec<PathBuf>)> {
        self.change_some(&|total: usize| (0..n.min(total)).map(|k| k * total / n.max(1)).collect())
    }

    fn change_some(&self, pick: &dyn Fn(usize) -> Vec<usize>) -> Result<(String, Vec<PathBuf>)> {
        let all: Vec<PathBuf> =
            files::walk(&self.root)?.into_iter().filter(|e| e.kind == files::Kind::File).map(|e| e.rel).collect();
        let picked: Vec<&PathBuf> = pick(all.len()).into_iter().map(|i| &all[i]).collect();
        let saved = self.originals.join("files");
        let mut list = Vec::new();
        for rel in &picked {
            save(&self.root.join(rel), &saved.join(rel))?;
            list.extend_from_slice(rel.as_os_str().as_bytes());
            list.push(b'\n');
        }
        let list_path = self.originals.join("list");
        std::fs::write(&list_path, list).map_err(io(&list_path))?;
        for (k, rel) in picked.iter().enumerate() {
            change(&self.root.join(rel), k)?;
        }
        let paths = picked.iter().map(|rel| self.root.join(rel)).collect();
        Ok((format!("{} of {} files changed", picked.len(), all.len()), paths))
    }

    /// Put the corpus back as it was before [`Corpus::apply_change`] (nothing when it is).
    pub fn undo_change(&self) -> Result<()> {
        if self.kind == Kind::Big {
            let (img, big1, big2) = self.big_paths();
            if big1.exists() {
                if img.exists() {
                    std::fs::rename(&img, &big2).map_err(io(&big2))?;
                }
                std::fs::rename(&big1, &img).map_err(io(&img))?;
            }
            return Ok(());
        }
        let list_path = self.originals.join("list");
        if list_path.exists() {
            let list = std::fs::read(&list_path).map_err(io(&list_path))?;
            for rel in list.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let rel = Path::new(std::ffi::OsStr::from_bytes(rel));
                save(&self.originals.join("files").join(rel), &self.root.join(rel))?;
            }
        }
        if self.originals.exists() {
            std::fs::remove_dir_all(&self.originals).map_err(io(&self.originals))?;
        }
        Ok(())
    }

    fn big_paths(&self) -> (PathBuf, PathBuf, PathBuf) {
        (self.root.join("big.img"), self.variants.join("big1.img"), self.variants.join("big2.img"))
    }
}

/// Indexes of the files to change among `n`: every 100th, or three spread out in small trees.
fn pick(n: usize) -> Vec<usize> {
    if n >= 300 {
        (99..n).step_by(100).collect()
    } else if n >= 3 {
        vec![n / 4, n / 2, 3 * n / 4]
    } else {
        (0..n).collect()
    }
}

/// Copy `from` to `to` with its content, permissions and mtime.
fn save(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mtime = std::fs::metadata(from).and_then(|m| m.modified()).map_err(io(from))?;
    std::fs::copy(from, to).map_err(io(to))?;
    File::options().write(true).open(to).and_then(|f| f.set_modified(mtime)).map_err(io(to))
}

/// The `k`-th change: even `k` appends a line, odd `k` overwrites 32 bytes in the middle.
fn change(path: &Path, k: usize) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let mtime = meta.modified().map_err(io(path))?;
    let mut f = File::options().write(true).open(path).map_err(io(path))?;
    if k.is_multiple_of(2) || meta.len() < 64 {
        f.seek(SeekFrom::End(0)).map_err(io(path))?;
        f.write_all(format!("\n/* arca bench: change {k} */\n").as_bytes()).map_err(io(path))?;
    } else {
        let mut patch = [0u8; 32];
        generate::Rng::new(k as u64).fill(&mut patch);
        f.seek(SeekFrom::Start(meta.len() / 2)).map_err(io(path))?;
        f.write_all(&patch).map_err(io(path))?;
    }
    f.set_modified(mtime + Duration::from_secs(1)).map_err(io(path))
}

/// Copy the running toolchain's `lib/` into `to`, up to `max_bytes`; returns the description.
fn toolchain_lib(to: &Path, max_bytes: u64) -> Result<String> {
    let sysroot = cmd::stdout(Command::new("rustc").args(["--print", "sysroot"]))
        .ok_or_else(|| Error::Check("`rustc --print sysroot` failed".into()))?;
    let lib = Path::new(&sysroot).join("lib");
    let name = Path::new(&sysroot).file_name().unwrap_or_default().to_string_lossy().into_owned();
    files::copy_tree(&lib, &to.join(format!("{name}-lib")), u64::MAX, max_bytes)?;
    let version = cmd::stdout(Command::new("rustc").arg("--version")).unwrap_or_default();
    let cap = if max_bytes == u64::MAX { String::new() } else { format!(", its files up to {} MiB", max_bytes / MIB) };
    Ok(format!("a copy of the Rust toolchain's lib/ ({version}){cap}"))
}

/// " (Debian package NAME VERSION)" for the Linux source tarball, when dpkg knows it.
fn package_of_linux_source() -> String {
    let Some(t) = linux_source::tarball() else { return String::new() };
    let Some(owner) = cmd::stdout(Command::new("dpkg").arg("-S").arg(&t)) else { return String::new() };
    let package = owner.split(':').next().unwrap_or_default().to_string();
    let version =
        cmd::stdout(Command::new("dpkg-query").args(["-W", "-f", "${Version}", &package])).unwrap_or_default();
    format!(" (Debian package {package} {version})")
}
