//! `cargo xtask bench-mount [--quick] [--runs R] [--big-mib N] [--files N]`: browsing a snapshot through
//! `arca mount` and `restic mount` on the same data.
//!
//! restic comes from the distribution's package (installed with apt when missing).
//! Corpus: a Linux source tree (the distribution's `linux-source` package, installed with
//! apt when missing) or, with `--quick`, a generated tree of 20,000 small files; plus one
//! big file of random bytes (2 GiB, `--quick` 256 MiB). Both tools back it up once
//! (untimed). Each run mounts afresh, then times `ls -R` and `ls -lR` of the tree and `cat`
//! of the big file to /dev/null, and unmounts; the source's `ls` (page cache warm) and
//! `arca restore` of the big file are timed beside them. The mount's peak RSS (VmHWM) after
//! the walk is recorded. Medians of R runs (default 3) go to stdout and
//! `benches/results/mount-<date>.md`. For memory at scale, a generated tree of N tiny files
//! (default 1,000,000; `--quick` none unless `--files` asks) is backed up by arca, mounted,
//! walked once with `ls -lR` (every entry looked up and held by the kernel) and the mount's
//! peak RSS recorded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bench_remote::{median, number, timed};
use crate::cmd::{self, quiet, Error, Result};
use crate::linux_source;

const PASSWORD: &str = "bench";

pub fn run(args: &[String]) -> Result<()> {
    let (mut quick, mut runs, mut big_mib, mut files) = (false, 3usize, 2048u64, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => (quick, runs, big_mib) = (true, 1, 256),
            "--runs" => runs = number(it.next(), "--runs")? as usize,
            "--big-mib" => big_mib = number(it.next(), "--big-mib")?,
            "--files" => files = Some(number(it.next(), "--files")?),
            other => return Err(Error::Usage(format!("bench-mount: unexpected argument {other:?}"))),
        }
    }
    let root = cmd::project_root();
    let mut build = cmd::cargo();
    build.args(["build", "--release", "--bin", "arca"]);
    cmd::run(build, &root)?;
    let arca = root.join("target/release/arca");
    let dir = root.join("target/bench-mount");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    let (tree, tree_desc) =
        if quick { small_tree(&dir.join("tree"))? } else { linux_source::tree(&dir.join("linux"))? };
    let big = dir.join("big/big.bin");
    if std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0) != big_mib << 20 {
        eprintln!("writing {big_mib} MiB of random bytes to {}", big.display());
        random_file(&big, big_mib << 20)?;
    }
    let has_restic = || Command::new("restic").arg("version").output().is_ok_and(|o| o.status.success());
    if !has_restic() {
        eprintln!("installing restic (the distribution's package)");
        if let Err(e) = cmd::apt_install(&["restic"]) {
            eprintln!("note: {e}");
        }
    }
    let restic = has_restic();
    let tool = |name: &str, repo: &Path| {
        let mut c = Command::new(if name == "arca" { arca.as_os_str() } else { "restic".as_ref() });
        c.env("ARCA_PASSWORD", PASSWORD)
            .env("RESTIC_PASSWORD", PASSWORD)
            .env("ARCA_CACHE_DIR", dir.join(format!("cache-{name}")))
            .env("RESTIC_CACHE_DIR", dir.join(format!("cache-{name}")))
            .arg("-r")
            .arg(repo);
        c
    };
    let mut tools = vec!["arca"];
    if restic {
        tools.push("restic");
    } else {
        eprintln!("note: restic is not installed; only arca runs");
    }
    for name in &tools {
        let repo = dir.join(format!("repo-{name}"));
        if !repo.join("config").exists() {
            let _ = std::fs::remove_dir_all(&repo);
            let mut init = tool(name, &repo);
            init.arg("init").stdout(Stdio::null());
            quiet(init, &format!("{name} init"))?;
            let mut b = tool(name, &repo);
            b.args(["backup", "-q"]).arg(&tree).arg(&big);
            timed(b, &format!("{name} backup (untimed in the table)"))?;
        }
    }

    // warm the source's page cache and dentries
    let ls = |args: &[&str], path: &Path| {
        let mut c = Command::new("ls");
        c.args(args).arg(path).stdout(Stdio::null());
        c
    };
    quiet(ls(&["-lR"], &tree), "ls -lR source")?;
    quiet(cat(&big), "cat source")?;

    let mut rows: Vec<(String, Vec<f64>)> = vec![];
    let mut add = |k: &str, v: f64| match rows.iter_mut().find(|r| r.0 == k) {
        Some(r) => r.1.push(v),
        None => rows.push((k.to_string(), vec![v])),
    };
    let mut rss = vec![];
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        add("source ls -R", timed(ls(&["-R"], &tree), "source ls -R")?);
        add("source ls -lR", timed(ls(&["-lR"], &tree), "source ls -lR")?);
        add("source cat", timed(cat(&big), "source cat")?);
        for name in &tools {
            let repo = dir.join(format!("repo-{name}"));
            let mnt = dir.join(format!("mnt-{name}"));
            let mut mount = start_mount(tool(name, &repo), &mnt)?;
            let inside = |p: &Path| mnt.join("snapshots/latest").join(p.strip_prefix("/").unwrap_or(p));
            let walked = inside(&tree);
            let r1 = timed(ls(&["-R"], &walked), &format!("{name} mount ls -R"));
            stop_mount(&mut mount, &mnt);
            let mut mount = start_mount(tool(name, &repo), &mnt)?;
            let r2 = timed(ls(&["-lR"], &walked), &format!("{name} mount ls -lR"));
            if *name == "arca" {
                rss.push(peak_rss_mib(mount.id()));
            }
            let r3 = timed(cat(&inside(&big)), &format!("{name} mount cat"));
            stop_mount(&mut mount, &mnt);
            add(&format!("{name} mount ls -R"), r1?);
            add(&format!("{name} mount ls -lR"), r2?);
            add(&format!("{name} mount cat"), r3?);
        }
        let out = dir.join("restored");
        let _ = std::fs::remove_dir_all(&out);
        let mut r = tool("arca", &dir.join("repo-arca"));
        r.args(["restore", "latest", "--include"]).arg(&big).arg("--target").arg(&out);
        add("arca restore of the big file", timed(r, "arca restore big")?);
        let _ = std::fs::remove_dir_all(&out);
    }

    let files = files.unwrap_or(if quick { 0 } else { 1_000_000 });
    let scale = if files > 0 { Some(walk_many(&dir, files, &tool)?) } else { None };

    let med = |k: &str| rows.iter().find(|r| r.0 == k).map(|r| median(r.1.clone()));
    let mut md = String::new();
    let line = |md: &mut String, s: String| {
        println!("{s}");
        md.push_str(&s);
        md.push('\n');
    };
    let mb = (big_mib << 20) as f64 / 1e6;
    line(&mut md, format!("# Mount benchmark ({})\n", cmd::today()));
    line(&mut md, format!("Command: `cargo xtask bench-mount{}`; {}.", if quick { " --quick" } else { "" }, machine()));
    line(&mut md, format!("Tree: {tree_desc}. Big file: {big_mib} MiB of random bytes. Median of {runs} run(s); each step on a fresh mount; the source's page cache warm, the repositories' local caches warm.\n"));
    line(&mut md, "| step | source | arca | restic | arca / source | arca / restic |".into());
    line(&mut md, "|---|---:|---:|---:|---:|---:|".into());
    let f = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} s"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    };
    for (step, src) in [("ls -R", "source ls -R"), ("ls -lR", "source ls -lR"), ("cat big file", "source cat")] {
        let key = if step == "cat big file" { "mount cat".to_string() } else { format!("mount {step}") };
        let (a, r, s) = (med(&format!("arca {key}")), med(&format!("restic {key}")), med(src));
        line(&mut md, format!("| {step} | {} | {} | {} | {} | {} |", f(s), f(a), f(r), ratio(a, s), ratio(a, r)));
    }
    if let (Some(c), Some(r)) = (med("arca mount cat"), med("arca restore of the big file")) {
        line(&mut md, format!("\nRead through the mount: {:.0} MB/s; `arca restore` of the same file: {:.0} MB/s ({:.2}× of restore throughput).", mb / c, mb / r, r / c));
    }
    if !rss.is_empty() {
        line(&mut md, format!("Peak RSS of `arca mount` after `ls -lR` of the tree: {:.0} MiB (median).", median(rss)));
    }
    if let Some((walk, peak, now, backup)) = scale {
        let took = if backup > 0.0 { format!(" in {backup:.0} s") } else { " (in an earlier run)".into() };
        line(&mut md, format!("\nScale: a generated tree of {files} tiny files in {} directories, backed up by arca{took}; `ls -lR` of it through a fresh `arca mount` took {walk:.0} s; the mount's RSS after the walk, the kernel holding every entry, was {now:.0} MiB, its peak {peak:.0} MiB.", files.div_ceil(1000)));
        line(&mut md, "(Every peak includes the Argon2id unlock at start, 64 MiB for a moment.)".into());
    }
    let results = root.join("benches/results").join(format!("mount-{}.md", cmd::today()));
    std::fs::write(&results, md).map_err(|e| Error::io(results.display().to_string(), e))?;
    eprintln!("written to {}", results.display());
    Ok(())
}

/// Back up a tree of `files` tiny files (once), walk it through a fresh mount with
/// `ls -lR`, and return (walk seconds, the mount's peak RSS in MiB, its RSS in MiB after the
/// walk, backup seconds).
fn walk_many(dir: &Path, files: u64, tool: &dyn Fn(&str, &Path) -> Command) -> Result<(f64, f64, f64, f64)> {
    let tree = dir.join(format!("many-{files}"));
    let done = tree.join(".complete");
    if !done.exists() {
        eprintln!("writing {files} tiny files to {}", tree.display());
        for i in 0..files {
            let d = tree.join(format!("d{:04}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display().to_string(), e))?;
            }
            let p = d.join(format!("file-{i:07}.txt"));
            std::fs::write(&p, format!("{}\n", i % 97)).map_err(|e| Error::io(p.display().to_string(), e))?;
        }
        std::fs::write(&done, b"").map_err(|e| Error::io(done.display().to_string(), e))?;
    }
    let repo = dir.join(format!("repo-many-{files}"));
    let mut backup = 0.0;
    if !repo.join("config").exists() {
        let _ = std::fs::remove_dir_all(&repo);
        let mut init = tool("arca", &repo);
        init.arg("init").stdout(Stdio::null());
        quiet(init, "arca init (scale)")?;
        let mut b = tool("arca", &repo);
        b.args(["backup", "-q"]).arg(&tree);
        backup = timed(b, &format!("arca backup of {files} files"))?;
    }
    let mnt = dir.join("mnt-many");
    let mut mount = start_mount(tool("arca", &repo), &mnt)?;
    let mut ls = Command::new("ls");
    ls.arg("-lR").arg(mnt.join("snapshots/latest").join(tree.strip_prefix("/").unwrap_or(&tree))).stdout(Stdio::null());
    let walk = timed(ls, &format!("arca mount ls -lR of {files} files"));
    let (peak, now) = (peak_rss_mib(mount.id()), status_mib(mount.id(), "VmRSS:"));
    stop_mount(&mut mount, &mnt);
    Ok((walk?, peak, now, backup))
}

fn cat(p: &Path) -> Command {
    let mut c = Command::new("cat");
    c.arg(p).stdout(Stdio::null());
    c
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores, FUSE through /dev/fuse as root")
}

fn mounted(p: &Path) -> bool {
    let want = p.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|s| s.lines().any(|l| l.split(' ').nth(4) == Some(&want)))
}

fn start_mount(mut c: Command, mnt: &Path) -> Result<Child> {
    if mounted(mnt) {
        let _ = Command::new("umount").arg("-l").arg(mnt).status();
    }
    std::fs::create_dir_all(mnt).map_err(|e| Error::io(mnt.display().to_string(), e))?;
    let mut child = c
        .arg("mount")
        .arg(mnt)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io("mount", e))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mnt.join("snapshots/latest").exists() {
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            return Err(Error::Failed { what: format!("mounting on {}", mnt.display()), code: 1 });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

fn stop_mount(child: &mut Child, mnt: &Path) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if mounted(mnt) {
        let _ = Command::new("umount").arg("-l").arg(mnt).status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn peak_rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmHWM:")
}

/// A memory figure of `/proc/PID/status` in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

fn random_file(p: &Path, len: u64) -> Result<()> {
    use std::io::Write;
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d.display().to_string(), e))?;
    }
    let f = std::fs::File::create(p).map_err(|e| Error::io(p.display().to_string(), e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut state = 0x0123_4567_89ab_cdefu64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for c in buf.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            c.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes()[..c.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        w.write_all(&buf[..n]).map_err(|e| Error::io(p.display().to_string(), e))?;
        left -= n as u64;
    }
    w.flush().map_err(|e| Error::io(p.display().to_string(), e))
}

/// 20,000 small files in 400 directories (for `--quick`).
fn small_tree(root: &Path) -> Result<(PathBuf, String)> {
    if !root.join("d399/f49").exists() {
        for d in 0..400 {
            let dir = root.join(format!("d{d}"));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
            for f in 0..50 {
                let p = dir.join(format!("f{f}"));
                std::fs::write(&p, format!("file {d}/{f}\n").repeat(1 + (d * f) % 40))
                    .map_err(|e| Error::io(p.display().to_string(), e))?;
            }
        }
    }
    Ok((root.to_path_buf(), "a generated tree of 20,000 small files in 400 directories".into()))
}
