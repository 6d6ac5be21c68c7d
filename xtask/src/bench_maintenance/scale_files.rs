//! `bench-maintenance --scale-files N`: the first backup and the unchanged re-backup of a
//! generated tree of N tiny files.
//!
//! ext4 spends a 4 KiB block on every non-empty file, so ten million files would not fit on
//! this machine's disk as plain files. The tree lives in an ext4 image made for it instead:
//! `mkfs.ext4 -O inline_data -N <inodes> -I 256` on a sparse file, loop-mounted with `noatime`;
//! a file of at most 60 bytes lives in its 256-byte inode, so the image costs ~300 bytes per
//! file. File i holds `"{i}\n"` (distinct contents: N data blobs, the index at its largest),
//! 1,000 files per directory. The repository and the cache are on the ordinary disk. The
//! image is unmounted and deleted however the run ends (an error, or a panic).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{arca_cmd, timed, Row};
use crate::cmd::{self, Error, Result};

pub fn run(arca: &Path, dir: &Path, files: u64, reps: usize) -> Result<Vec<Row>> {
    let image = Image::create(dir, files)?;
    let src = image.mount.join("tree");
    eprintln!("generating {files} files in {}", src.display());
    let start = std::time::Instant::now();
    generate(&src, files)?;
    eprintln!("generated in {:.1} s", start.elapsed().as_secs_f64());
    let repo = dir.join("files-repo");
    let cache = dir.join("files-cache");
    let s = src.to_str().ok_or_else(|| Error::Usage("the tree's path is not UTF-8".into()))?;
    let mut rows = vec![];
    let mut step = |name: &str, args: &[&str]| -> Result<()> {
        let (wall, rss, _) = timed(arca_cmd(arca, &repo, &cache, args), &format!("arca {name} ({files} files)"))?;
        rows.push(Row { tool: "arca", step: name.to_string(), wall, rss_kib: rss });
        Ok(())
    };
    step("init", &["init"])?;
    step("backup (first)", &["backup", "-q", s])?;
    for rep in 1..=reps {
        step(&format!("backup (unchanged, run {rep})"), &["backup", "-q", s])?;
    }
    drop(image);
    for d in [&repo, &cache] {
        std::fs::remove_dir_all(d).map_err(|e| Error::io(format!("removing {}", d.display()), e))?;
    }
    Ok(rows)
}

/// N files of distinct tiny contents, 1,000 per directory.
fn generate(src: &Path, files: u64) -> Result<()> {
    for i in 0..files {
        let d = src.join(format!("d{:05}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display().to_string(), e))?;
        }
        let p = d.join(format!("f{i:08}"));
        std::fs::write(&p, format!("{i}\n")).map_err(|e| Error::io(p.display().to_string(), e))?;
    }
    Ok(())
}

/// A loop-mounted ext4 image with inline data; unmounted and deleted on drop.
struct Image {
    file: PathBuf,
    mount: PathBuf,
    mounted: bool,
}

impl Image {
    fn create(dir: &Path, files: u64) -> Result<Image> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        let file = dir.join("files.ext4");
        let mount = dir.join("files-mnt");
        let mut image = Image { file, mount, mounted: false };
        // inodes: the files, their directories and slack; size: 256-byte inodes, ~40 bytes of
        // directory entry per file, the journal; sparse, so only what is written takes disk
        let inodes = files + files / 1000 + 10_000;
        let size = (inodes * 512).max(1 << 30);
        let f = std::fs::File::create(&image.file).map_err(|e| Error::io(image.file.display().to_string(), e))?;
        f.set_len(size).map_err(|e| Error::io(format!("sizing {}", image.file.display()), e))?;
        drop(f);
        let mut mkfs = Command::new("mkfs.ext4");
        mkfs.args(["-q", "-F", "-O", "inline_data", "-I", "256", "-N", &inodes.to_string()]).arg(&image.file);
        cmd::quiet(mkfs, "mkfs.ext4 -O inline_data")?;
        std::fs::create_dir_all(&image.mount).map_err(|e| Error::io(image.mount.display().to_string(), e))?;
        let mut mount = Command::new("mount");
        mount.args(["-o", "loop,noatime"]).arg(&image.file).arg(&image.mount);
        cmd::quiet(mount, "mount -o loop (needs root and /dev/loop*)")?;
        image.mounted = true;
        Ok(image)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if self.mounted {
            let ok = Command::new("umount").arg(&self.mount).status().is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "warning: could not unmount {}; unmount it and delete {} by hand",
                    self.mount.display(),
                    self.file.display()
                );
                return;
            }
        }
        let _ = std::fs::remove_dir(&self.mount);
        if let Err(e) = std::fs::remove_file(&self.file) {
            eprintln!("warning: could not delete the image {}: {e}", self.file.display());
        }
    }
}
