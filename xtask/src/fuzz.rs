//! `cargo xtask fuzz [--seconds N | --cpu-seconds N [--jobs J]] [--no-sanitizer] [TARGET...]`:
//! run the cargo-fuzz targets of `fuzz/`.
//!
//! cargo-fuzz needs unstable compiler flags (`-Zsanitizer`, coverage instrumentation); on a
//! stable toolchain `RUSTC_BOOTSTRAP=1` unlocks them, so no nightly is required. The targets
//! are built once together (shared dependencies compile once), then each runs for N seconds
//! of wall time (`--seconds`, CI), or until it has used N seconds of CPU time (`--cpu-seconds`,
//! the long runs: J targets at once, at the lowest priority, so a build beside them is barely
//! slowed; each one's libFuzzer log goes to `fuzz/target/cpu-runs/<target>.log`). Every target
//! runs even after one fails, so one pass reports all crashing targets; crash inputs land in
//! `fuzz/artifacts/<target>/`. Each target starts from its corpus in `fuzz/corpus/<target>/`,
//! which is kept in the repository (minimized with `-merge=1`); the long runs add to it, the
//! short ones write what they find to `fuzz/target/short-run-corpus/` and leave the checkout
//! clean. Short runs of `model` start from nothing, since replaying its corpus takes minutes.
//!
//! The targets are built with AddressSanitizer unless `--no-sanitizer` is given. CI's short run
//! gives it: the sanitizer's build is 440 s against 277 s without (cold, 2 cores), and what it
//! watches is small here: arca denies `unsafe` outside two one-line blocks (an mmap and
//! `malloc_trim`) and the C libraries (zstd, SQLite) are not instrumented either way. The long
//! runs keep it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::bench_remote::number;
use crate::cmd::{self, Error, Result};

const DEFAULT_SECONDS: u64 = 10;

/// Budget per target: wall-clock seconds through `cargo fuzz run`, or CPU seconds of the
/// fuzzer process run directly.
enum Budget {
    Wall(u64),
    Cpu { seconds: u64, jobs: usize },
}

pub fn run(args: &[String]) -> Result<()> {
    let mut budget = Budget::Wall(DEFAULT_SECONDS);
    let mut jobs = 1;
    let mut sanitizer: &[&str] = &[];
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => budget = Budget::Wall(number(it.next(), "--seconds")?),
            "--cpu-seconds" => budget = Budget::Cpu { seconds: number(it.next(), "--cpu-seconds")?, jobs: 1 },
            "--jobs" => jobs = number(it.next(), "--jobs")?.max(1) as usize,
            "--no-sanitizer" => sanitizer = &["--sanitizer", "none"],
            t if !t.starts_with('-') => targets.push(t.to_string()),
            other => return Err(Error::Usage(format!("fuzz: unexpected argument {other:?}"))),
        }
    }
    if let Budget::Cpu { jobs: j, .. } = &mut budget {
        *j = jobs;
    }

    let fuzz_dir = cmd::project_root().join("fuzz");
    let known = list_targets(&fuzz_dir)?;
    if targets.is_empty() {
        targets = known;
    } else if let Some(t) = targets.iter().find(|t| !known.contains(t)) {
        return Err(Error::Usage(format!("unknown fuzz target {t:?}; known: {}", known.join(", "))));
    }

    ensure_cargo_fuzz()?;
    let build: Vec<&str> = ["build"].iter().chain(sanitizer).copied().collect();
    cmd::run(cargo_fuzz(&build), &fuzz_dir)?;

    let failed = match budget {
        Budget::Wall(seconds) => {
            let max_time = format!("-max_total_time={seconds}");
            let mut failed = Vec::new();
            for t in &targets {
                // the same build flags, or `run` would build the targets again
                let mut args = vec!["run", t.as_str()];
                args.extend(sanitizer);
                // New inputs go to a scratch directory (libFuzzer writes to the first one), so a
                // short run leaves the kept corpus as it was; it still replays that corpus, except
                // model's: a program runs for tens of milliseconds and replaying them all would
                // take minutes, so its short run starts from nothing (the long runs use it).
                let scratch = fuzz_dir.join("target/short-run-corpus").join(t);
                let _ = std::fs::remove_dir_all(&scratch);
                std::fs::create_dir_all(&scratch)
                    .map_err(|e| Error::io(format!("creating {}", scratch.display()), e))?;
                let scratch = scratch.to_string_lossy().into_owned();
                let kept = fuzz_dir.join("corpus").join(t).to_string_lossy().into_owned();
                args.push(&scratch);
                if t != "model" {
                    args.push(&kept);
                }
                args.extend(["--", max_time.as_str()]);
                args.extend(extra_args(t));
                if let Err(e) = cmd::run(cargo_fuzz(&args), &fuzz_dir) {
                    eprintln!("fuzz target {t}: {e}");
                    failed.push(t.clone());
                }
            }
            failed
        }
        Budget::Cpu { seconds, jobs } => cpu_runs(&fuzz_dir, &targets, seconds, jobs)?,
    };
    if failed.is_empty() {
        let how = match budget {
            Budget::Wall(s) => format!("{s} s each"),
            Budget::Cpu { seconds, .. } => format!("{seconds} CPU-seconds each"),
        };
        eprintln!("fuzz: {} targets ran {how} without a crash", targets.len());
        Ok(())
    } else {
        Err(Error::Check(format!("fuzz targets failed: {} (inputs in fuzz/artifacts/)", failed.join(", "))))
    }
}

/// libFuzzer options a target needs. The model target's inputs are operation programs: they
/// may be long from the start (libFuzzer would otherwise grow them from 4 bytes slowly). It runs
/// the storage layer's tokio threads, whose thread-local parkers LeakSanitizer reports when
/// those threads end: not leaks of arca's, and not growing, so leak detection is off for it.
fn extra_args(target: &str) -> &'static [&'static str] {
    match target {
        "model" => &["-len_control=0", "-max_len=600", "-detect_leaks=0"],
        _ => &[],
    }
}

/// Run the built fuzzers directly, `jobs` at a time at the lowest priority, each until its
/// process has used `seconds` of CPU time. Returns the targets that found a crash.
fn cpu_runs(fuzz_dir: &Path, targets: &[String], seconds: u64, jobs: usize) -> Result<Vec<String>> {
    let bin_dir = fuzz_dir.join("target/x86_64-unknown-linux-gnu/release");
    let log_dir = fuzz_dir.join("target/cpu-runs");
    std::fs::create_dir_all(&log_dir).map_err(|e| Error::io(format!("creating {}", log_dir.display()), e))?;
    let mut queue: Vec<&String> = targets.iter().rev().collect();
    let mut running: Vec<(String, Child)> = vec![];
    let mut failed = vec![];
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < jobs {
            let Some(t) = queue.pop() else { break };
            running.push((t.clone(), start_fuzzer(fuzz_dir, &bin_dir, &log_dir, t)?));
        }
        std::thread::sleep(Duration::from_secs(5));
        let mut still = vec![];
        for (t, mut child) in running.drain(..) {
            let used = cpu_seconds(child.id());
            if let Some(status) = child.try_wait().map_err(|e| Error::io(format!("waiting for {t}"), e))? {
                // it stopped by itself: libFuzzer found a crash (or could not start)
                eprintln!(
                    "fuzz target {t}: stopped with {status} after {used:.0} CPU-s; see {}",
                    log_path(&log_dir, &t).display()
                );
                failed.push(t);
            } else if used >= seconds as f64 {
                // SIGINT: libFuzzer prints its final statistics and exits
                let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
                let _ = child.wait();
                eprintln!("fuzz target {t}: {used:.0} CPU-s without a crash ({})", last_stats(&log_dir, &t));
            } else {
                still.push((t, child));
            }
        }
        running = still;
    }
    Ok(failed)
}

fn log_path(log_dir: &Path, target: &str) -> PathBuf {
    log_dir.join(format!("{target}.log"))
}

fn start_fuzzer(fuzz_dir: &Path, bin_dir: &Path, log_dir: &Path, target: &str) -> Result<Child> {
    let corpus = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    for d in [&corpus, &artifacts] {
        std::fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    }
    let log = log_path(log_dir, target);
    let out = std::fs::File::create(&log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
    let mut c = Command::new("nice");
    c.arg("-n19")
        .arg(bin_dir.join(target))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .args(extra_args(target))
        .arg(&corpus)
        // as `cargo fuzz run` does: sqlite's amalgamation defines a static twice, harmlessly
        .env("ASAN_OPTIONS", "detect_odr_violation=0")
        .stdout(Stdio::null())
        .stderr(out);
    eprintln!("fuzz target {target}: started, log {}", log.display());
    c.spawn().map_err(|e| Error::io(format!("starting fuzzer {target}"), e))
}

/// CPU time a process has used, in seconds, all its threads together, ended ones included
/// (`/proc/<pid>/stat` fields 14 and 15, user and system time in clock ticks: 100 a second, the
/// `USER_HZ` every Linux reports there). The main thread alone (`/proc/<pid>/schedstat`) is not
/// enough: the model target does most of its work in the storage layer's runtime threads.
fn cpu_seconds(pid: u32) -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // after the command name, which may hold spaces, in parentheses: field 3 (state) onwards
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |field: usize| fields.get(field - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(14) + ticks(15)) as f64 / TICKS_PER_SECOND
}

/// libFuzzer's last status line (`#runs ... cov: ... exec/s: ...`) of a target's log.
fn last_stats(log_dir: &Path, target: &str) -> String {
    let log = std::fs::read_to_string(log_path(log_dir, target)).unwrap_or_default();
    log.lines().rev().find(|l| l.starts_with('#')).unwrap_or("no statistics").trim().to_string()
}

/// `cargo fuzz <args>` with the stable-toolchain unlock.
fn cargo_fuzz(args: &[&str]) -> Command {
    let mut c = cmd::cargo();
    c.arg("fuzz").args(args).env("RUSTC_BOOTSTRAP", "1");
    c
}

/// Target names: the files of `fuzz/fuzz_targets/`, sorted.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    let mut names = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?.path();
        if path.extension().is_some_and(|x| x == "rs") {
            if let Some(stem) = path.file_stem() {
                names.push(stem.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = cmd::cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is missing; installing it (a few minutes)");
    let mut install = cmd::cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    cmd::run(install, &cmd::project_root())
}
