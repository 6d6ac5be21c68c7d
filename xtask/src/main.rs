//! `cargo xtask`: arca's project automation, in Rust so it runs wherever cargo does.
//!
//! The alias in `.cargo/config.toml` makes `cargo xtask <task>` run this binary. Tasks:
//!
//! - `layers`: check that `crate::` paths in `src/` only point down the layer table, and that
//!   each pinned external crate (fuser, OpenDAL, tokio, rusqlite, clap, …) is used only in the
//!   modules its row of the crate table names (`layers.rs`; both mirror the "house" in STYLE.md).
//! - `ci`: fmt check, clippy, layers, then the tests with the real storage servers of
//!   `scripts/test-servers` running; stops at the first failure with its exit code.
//! - `fuzz [--seconds N | --cpu-seconds N [--jobs J]] [TARGET...]`: run the cargo-fuzz targets in
//!   `fuzz/` for N seconds each, or until each has used N seconds of CPU (J at a time).
//! - `bench [--quick] [--reps N] [--tools LIST] [--corpora LIST] [--million] [--data DIR] [--out FILE]
//!   [--timeout S]`: arca side by side with restic, borg, rustic and bupstash on the same corpora:
//!   backups (first, unchanged, after a 1% change), repository size and a verified restore, each
//!   timed with peak RSS; medians and per-rep ratios to the best peer and to each step's measured
//!   limit as Markdown, raw figures as TSV (`bench_peers/`).
//! - `stat-walk DIR`: list and `lstat` every entry under DIR, one thread, nothing else (the
//!   bench's walk limit, `bench_peers/limits.rs`).
//! - `bench-stages [--quick] [FILTER]`: run the criterion benchmarks of each stage and of the whole
//!   pipeline (`benches/stages.rs`, `benches/pipeline.rs`).
//! - `bench-maintenance [--files N] [--quick]`: prune and check on N blobs, arca and restic.
//! - `man [DIR]`: write arca's man pages, generated from its clap definitions.
//! - `bench-mount [--quick] [--runs R] [--big-mib N] [--files N]`: browsing through `arca mount` and
//!   `restic mount`: `ls -R`, `ls -lR` and reading a big file, against the source and restore.
//! - `torture [--trials N] [--seed S]`: the crash suite with N kills per command, then the
//!   fault, hostile-repository and concurrency suites.
//! - `bench-remote [--mib N] [--runs R]`: backup and restore through local S3 and SFTP
//!   servers, arca and restic.
//!
//! Only std is used, so building xtask costs seconds and pulls nothing into the lock file.

mod bench_maintenance;
mod bench_mount;
mod bench_peers;
mod bench_remote;
mod bench_stages;
mod ci;
mod cmd;
mod compat;
mod fuzz;
mod layers;
mod linux_source;
mod man;
mod rust_scan;
mod sealed;
mod servers;
mod torture;

use std::process::ExitCode;

use cmd::Error;

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  layers                          check the allowed `crate::` edges between modules of src/ and
                                  which modules may use each pinned external crate
  ci                              fmt --check, clippy -D warnings, layers, test (stops at the first failure)
  fuzz [--seconds N | --cpu-seconds N [--jobs J]] [TARGET...]
                                  run fuzz targets for N seconds each (default 10; all targets), or
                                  until each has used N CPU-seconds, J at once at low priority
  bench [--quick] [--reps N] [--tools arca,restic,borg,rustic,bupstash] [--corpora src,bin,big,many]
        [--million] [--data DIR] [--out FILE] [--timeout S]
                                  arca side by side with its peers: backups, repository size, verified
                                  restore; medians and per-rep ratios (default 3 reps; --quick: small
                                  corpora, 1 rep; data in $ARCA_BENCH_DATA or ~/.cache/arca-bench;
                                  results in benches/results/peers-<date>.md and .tsv)
  bench-stages [--quick] [FILTER] run the stage and pipeline benchmarks (benches/stages.rs, pipeline.rs)
  bench-maintenance [--files N] [--quick]
                                  prune and check on N blobs (default 1,000,000), arca vs restic
  bench-mount [--quick] [--runs R] [--big-mib N] [--files N]
                                  ls -R and big-file reads through arca mount and restic mount
  bench-remote [--mib N] [--runs R] [--quick] [--arca-only]
                                  backup and restore through local S3 and SFTP servers, arca vs restic
  torture [--trials N] [--seed S]  kill arca N times at random moments of each command (default 200), then
                                  the stop-at-every-write, fault, hostile and concurrency suites
  man [DIR]                       write the man pages (default target/man)
  compat                          regenerate the README's restic-compatibility table from the clap definitions
  help                            show this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "layers" => no_args(rest).and_then(|()| layers::run(&cmd::project_root())),
        "ci" => no_args(rest).and_then(|()| ci::run()),
        "fuzz" => fuzz::run(rest),
        "bench" => bench_peers::run(rest),
        "bench-stages" => bench_stages::run(rest),
        "stat-walk" => bench_peers::stat_walk_main(rest),
        "bench-maintenance" => bench_maintenance::run(rest),
        "gen-stream" => bench_maintenance::gen_stream(rest), // hidden: bench-maintenance --scale-blobs's generator
        "bench-remote" => bench_remote::run(rest),
        "bench-mount" => bench_mount::run(rest),
        "man" => man::run(rest),
        "compat" => compat::run(rest),
        "torture" => torture::run(rest),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Error::Usage(format!("unknown task {other:?}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            if let Error::Usage(_) = e {
                eprintln!("{USAGE}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn no_args(rest: &[String]) -> Result<(), Error> {
    match rest.first() {
        None => Ok(()),
        Some(a) => Err(Error::Usage(format!("unexpected argument {a:?}"))),
    }
}
