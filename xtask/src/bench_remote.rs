//! `cargo xtask bench-remote [--mib N] [--runs R] [--quick] [--arca-only]`: backup and
//! restore through the real servers of `scripts/test-servers` (S3: moto, SFTP: OpenSSH's
//! sshd), arca and restic side by side on the same corpus and the same servers.
//!
//! The corpus is N MiB (default 256) of files from 64 KiB to 8 MiB, about half random and half
//! compressible text, generated once. Each run uses a fresh repository on the server: `init`
//! (untimed), then a first `backup` and a full `restore`, each timed as the wall time of the
//! whole command. Medians of R runs (default 3) are printed with throughput and arca's
//! speed-up, as a Markdown table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::cmd::{self, Error, Result};
use crate::servers::Servers;

const PASSWORD: &str = "bench";

pub fn run(args: &[String]) -> Result<()> {
    let mut mib: u64 = 256;
    let mut runs = 3;
    let mut peers = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => (mib, runs) = (64, 1),
            "--arca-only" => peers = false,
            "--mib" => mib = number(it.next(), "--mib")?,
            "--runs" => runs = number(it.next(), "--runs")? as usize,
            other => return Err(Error::Usage(format!("bench-remote: unexpected argument {other:?}"))),
        }
    }
    let root = cmd::project_root();
    let mut build = cmd::cargo();
    build.args(["build", "--release", "--bin", "arca"]);
    cmd::run(build, &root)?;
    let arca = root.join("target/release/arca");
    let dir = root.join("target/bench-remote");
    let _ = std::fs::remove_dir_all(&dir);
    let src = dir.join("src");
    eprintln!("generating {mib} MiB in {}", src.display());
    let bytes = generate(&src, mib)?;
    let servers = Servers::start(&root)?;
    let var = |k: &str| servers.vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let restic = peers && Command::new("restic").arg("version").output().is_ok_and(|o| o.status.success());
    if peers && !restic {
        eprintln!("note: restic is not installed; only arca runs");
    }

    let mut rows = vec![];
    for target in ["s3", "sftp"] {
        for tool in ["arca", "restic"] {
            if tool == "restic" && !restic {
                continue;
            }
            let (mut backups, mut restores) = (vec![], vec![]);
            for run in 0..runs {
                let name = format!("bench-{tool}-{}-{run}", std::process::id());
                let base = |args: &[&str]| {
                    let mut c = if tool == "arca" { Command::new(&arca) } else { Command::new("restic") };
                    servers.apply(&mut c);
                    c.env("AWS_ACCESS_KEY_ID", var("ARCA_TEST_S3_ACCESS_KEY"))
                        .env("AWS_SECRET_ACCESS_KEY", var("ARCA_TEST_S3_SECRET_KEY"))
                        .env("AWS_REGION", var("ARCA_TEST_S3_REGION"))
                        .env("ARCA_PASSWORD", PASSWORD)
                        .env("RESTIC_PASSWORD", PASSWORD)
                        .env("ARCA_CACHE_DIR", dir.join(format!("cache-{name}")))
                        .env("RESTIC_CACHE_DIR", dir.join(format!("cache-{name}")))
                        .env("XDG_STATE_HOME", dir.join("state"));
                    let repo = location(tool, target, &name, &var);
                    c.args(["-r", &repo]).args(args);
                    c
                };
                cmd::quiet(base(&["init"]), &format!("{tool} init on {target}"))?;
                let s = src.to_str().unwrap_or_default();
                backups.push(timed(base(&["backup", "-q", s]), &format!("{tool} backup to {target}"))?);
                let out = dir.join(format!("restore-{name}"));
                let t = out.to_str().unwrap_or_default();
                restores.push(timed(
                    base(&["restore", "latest", "--target", t]),
                    &format!("{tool} restore from {target}"),
                )?);
                let _ = std::fs::remove_dir_all(&out);
            }
            rows.push((target, tool, median(backups), median(restores)));
        }
    }
    drop(servers);

    let mb = bytes as f64 / 1e6;
    println!("\n{mb:.0} MB in files of 64 KiB–8 MiB, half random, half text; fresh repository each run;");
    println!("median of {runs} run(s), wall time of the whole command, servers on loopback\n");
    println!("| server | tool | backup s | MB/s | restore s | MB/s |");
    println!("|---|---|---:|---:|---:|---:|");
    for (target, tool, b, r) in &rows {
        println!("| {target} | {tool} | {b:.2} | {:.0} | {r:.2} | {:.0} |", mb / b, mb / r);
    }
    for target in ["s3", "sftp"] {
        let find = |tool| rows.iter().find(|r| r.0 == target && r.1 == tool);
        if let (Some(a), Some(r)) = (find("arca"), find("restic")) {
            println!("\n{target}: arca is {:.2}× restic's backup throughput, {:.2}× its restore", r.2 / a.2, r.3 / a.3);
        }
    }
    Ok(())
}

pub(crate) fn number(v: Option<&String>, flag: &str) -> Result<u64> {
    v.and_then(|v| v.parse().ok()).ok_or_else(|| Error::Usage(format!("{flag} needs a number")))
}

fn location(tool: &str, target: &str, name: &str, var: &dyn Fn(&str) -> String) -> String {
    let (host, port, user) = (var("ARCA_TEST_SFTP_HOST"), var("ARCA_TEST_SFTP_PORT"), var("ARCA_TEST_SFTP_USER"));
    let sftp_dir = PathBuf::from(var("ARCA_TEST_SFTP_ROOT")).join(name);
    let bucket = var("ARCA_TEST_S3_BUCKET");
    match (tool, target) {
        ("arca", "s3") => format!("s3:{}/{bucket}/{name}", var("ARCA_TEST_S3_ENDPOINT")),
        ("restic", "s3") => format!("s3:{}/{bucket}/{name}", var("ARCA_TEST_S3_ENDPOINT")),
        ("arca", _) => format!("sftp:{user}@{host}:{port}:{}", sftp_dir.display()),
        _ => format!("sftp://{user}@{host}:{port}/{}", sftp_dir.display()),
    }
}

/// Files of 64 KiB to 8 MiB, alternating random and text, `mib` MiB in all; returns bytes.
fn generate(src: &Path, mib: u64) -> Result<u64> {
    let total = mib * 1024 * 1024;
    let mut written = 0u64;
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut i = 0u64;
    while written < total {
        let d = src.join(format!("d{:03}", i / 50));
        std::fs::create_dir_all(&d).map_err(|e| Error::io(d.display().to_string(), e))?;
        let size = (64 * 1024 + next() % (8 * 1024 * 1024 - 64 * 1024)).min(total - written);
        let mut body = Vec::with_capacity(size as usize);
        if i.is_multiple_of(2) {
            while (body.len() as u64) < size {
                body.extend_from_slice(&next().to_le_bytes());
            }
        } else {
            while (body.len() as u64) < size {
                let n = next();
                body.extend_from_slice(
                    format!("line {n:x} of file {i}: the quick brown fox {}\n", n % 1000).as_bytes(),
                );
            }
        }
        body.truncate(size as usize);
        let p = d.join(format!("f{i:05}"));
        std::fs::write(&p, &body).map_err(|e| Error::io(p.display().to_string(), e))?;
        written += size;
        i += 1;
    }
    Ok(written)
}

pub(crate) fn timed(c: Command, what: &str) -> Result<f64> {
    let start = Instant::now();
    cmd::quiet(c, what)?;
    let s = start.elapsed().as_secs_f64();
    eprintln!("{what}: {s:.2} s");
    Ok(s)
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
