//! `arca serve` on a repository with 1,000 snapshots: the time a request takes, measured at
//! the client over loopback HTTP against the real binary (so it is the server's handler time
//! plus one local HTTP round trip and the client reading the body: an upper bound of the
//! server-side time), each route warm (asked once before timing, as a UI would have).
//!
//! The repository, built here through the library into a temporary directory:
//! - the tree the 1,000 snapshots are of, backed up by `archiver::backup` several times, a few
//!   files rewritten between runs (each run with the previous tree as parent, as `arca backup`
//!   does), one distinct root tree per run. By default a generated tree of 3,000 text files
//!   (2–8 KiB, 60 directories, ~15 MB), 20 runs, 3 files rewritten between them. With
//!   `ARCA_BENCH_SERVE_TREE=DIR` (e.g. an unpacked linux source tree) a copy of DIR instead
//!   (copied, so DIR is never written), `ARCA_BENCH_SERVE_BACKUPS` runs (default 10), between
//!   runs its top-level `Makefile` and two other files chosen by the run's number get a line
//!   appended (a release's version bump and two patches);
//! - 1,000 snapshots of it saved with `Repository::save_snapshot`, one an hour back from now,
//!   on four hosts in turn, snapshot `i` holding the tree of run `i * runs / 1000` with that
//!   run's summary: what 1,000 hourly backups of a slowly changing tree look like, without
//!   running 1,000;
//! - one snapshot (host `wide`) of a directory of 100,000 empty files, one backup;
//! - one snapshot (host `big`) of one file of random bytes (`ARCA_BENCH_SERVE_MIB`, default
//!   2048 MiB), one backup.
//!
//! Timed (criterion, medians in its report; group `serve`, or `serve_tree` with a given tree):
//! `GET /api/dashboard`; the listing of the backed-up directory of the newest of the 1,000
//! snapshots (`/tree?path=SRC`: the generated tree's 60 directories, or the given tree's top
//! level); the first page (1,000 entries) of the 100,000-entry directory; one file's version
//! history once the `find` catalog is warm (`SRC/d07/f0003.txt`, or the given tree's
//! `Makefile`, rewritten in every run). Then, not by criterion: the big file downloaded over
//! HTTP into a file against `arca restore` of the same snapshot (median of 3 each, the
//! repository in the page cache for both), and the server's resident memory (`VmRSS`,
//! `VmHWM` from /proc) after all of it.
//!
//! `cargo bench --bench serve`, or `ARCA_BENCH_SERVE_TREE=/path/to/linux cargo bench --bench
//! serve` (results of 2026-12-07 in `benches/results/serve-2026-12-07.md`).
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)] // a benchmark whose setup fails has nothing to measure

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca::archiver::{self, BackupOptions, Progress, Source};
use arca::backend::Location;
use arca::format::snapshot::{Snapshot, Summary};
use arca::id::TreeId;
use arca::repo::{LockMode, Repository};
use common::{text, XorShift, MIB};
use criterion::{criterion_group, criterion_main, Criterion};

const PASSWORD: &str = "bench serve";
const SNAPSHOTS: usize = 1000;
const BACKUPS: usize = 20;
const WIDE: usize = 100_000;

struct Built {
    dir: tempfile::TempDir,
    repo: PathBuf,
    src: PathBuf,
    /// The timed history's file, relative to `src`.
    history: &'static str,
    given: bool,
    wide: PathBuf,
    newest: String,
    wide_id: String,
    big_id: String,
    big_bytes: u64,
}

fn backup(repo: &Arc<Repository>, path: &Path, parent: Option<TreeId>) -> archiver::BackupOutcome {
    let opts = BackupOptions { parent_tree: parent, ..Default::default() };
    archiver::backup(repo.clone(), Source::Paths(vec![path.to_path_buf()]), &opts, &Progress::default(), &|w| {
        panic!("warning: {w}")
    })
    .expect("backup")
}

fn snapshot(path: &Path, host: &str, time: chrono::DateTime<chrono::Utc>, tree: TreeId, summary: Summary) -> Snapshot {
    Snapshot {
        time: time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        tree,
        paths: vec![path.to_string_lossy().into_owned()],
        hostname: host.into(),
        username: "bench".into(),
        uid: 1000,
        gid: 1000,
        tags: vec![],
        parent: None,
        excludes: vec![],
        program_version: "arca bench".into(),
        summary: Some(summary),
        original: None,
        change_list: None,
    }
}

/// The tree the 1,000 snapshots are of, and how it changes between its backups.
struct Tree {
    path: PathBuf,
    /// Its regular files, relative, in a stable order: the pool of the real tree's rewrites.
    files: Vec<PathBuf>,
    backups: usize,
    /// Relative path of the file whose history is timed.
    history: &'static str,
    given: bool,
}

impl Tree {
    fn generated(dir: &Path, rng: &mut XorShift) -> Tree {
        let path = dir.join("src");
        for d in 0..60 {
            let sub = path.join(format!("d{d:02}"));
            std::fs::create_dir_all(&sub).expect("mkdir");
            for f in 0..50 {
                let n = 2048 + (rng.next() % 6144) as usize;
                std::fs::write(sub.join(format!("f{f:04}.txt")), text(n, rng)).expect("write");
            }
        }
        Tree { path, files: vec![], backups: BACKUPS, history: "d07/f0003.txt", given: false }
    }

    /// A copy of `from` under `dir` (never `from` itself: the runs rewrite files).
    fn given(from: &Path, dir: &Path) -> Tree {
        let name = from.file_name().map_or_else(|| "tree".into(), |n| n.to_os_string());
        let path = dir.join(name);
        let mut files = vec![];
        let (mut bytes, t) = (0u64, Instant::now());
        copy_tree(from, &path, Path::new(""), &mut files, &mut bytes);
        assert!(path.join("Makefile").is_file(), "{}: no top-level Makefile to take the history of", from.display());
        let backups =
            std::env::var("ARCA_BENCH_SERVE_BACKUPS").ok().and_then(|v| v.parse().ok()).unwrap_or(10usize).max(1);
        eprintln!(
            "serve bench: tree {} copied to {} ({} files, {:.0} MB, {:.1} s)",
            from.display(),
            path.display(),
            files.len(),
            bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        Tree { path, files, backups, history: "Makefile", given: true }
    }

    /// The changes between backup `k - 1` and backup `k`.
    fn rewrite(&self, k: usize, rng: &mut XorShift) {
        if !self.given {
            for j in 0..3 {
                let f = self.path.join(format!("d{:02}/f{:04}.txt", (k * 7 + j) % 60, (k * 13 + j) % 50));
                std::fs::write(f, text(3000 + k * 10, rng)).expect("rewrite");
            }
            return;
        }
        let n = self.files.len();
        let picked =
            [PathBuf::from("Makefile"), self.files[(k * 7919) % n].clone(), self.files[(k * 104_729 + 1) % n].clone()];
        for rel in picked {
            let f = self.path.join(rel);
            let mut body = std::fs::read(&f).expect("read");
            body.extend_from_slice(format!("# arca serve bench, run {k}\n").as_bytes());
            std::fs::write(&f, body).expect("rewrite");
        }
    }
}

/// Recreates the directory `from` at `to`: directories made, symlinks recreated, regular files
/// copied (not hard-linked: a file with two links is a hard link to the archiver, and the
/// restore sizes would count every file by inode); `rel` is `to`'s path relative to the copy's
/// root, for `files`.
fn copy_tree(from: &Path, to: &Path, rel: &Path, files: &mut Vec<PathBuf>, bytes: &mut u64) {
    std::fs::create_dir_all(to).expect("mkdir");
    let mut entries: Vec<_> = std::fs::read_dir(from).expect("read_dir").map(|e| e.expect("entry")).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let (src, dst, r) = (e.path(), to.join(e.file_name()), rel.join(e.file_name()));
        let kind = e.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&src, &dst, &r, files, bytes);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).expect("readlink"), &dst).expect("symlink");
        } else if kind.is_file() {
            *bytes += std::fs::copy(&src, &dst).expect("copy");
            files.push(r);
        }
    }
}

fn build() -> Built {
    let t = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = XorShift(7);
    let tree = match std::env::var_os("ARCA_BENCH_SERVE_TREE") {
        Some(from) => Tree::given(Path::new(&from), dir.path()),
        None => Tree::generated(dir.path(), &mut rng),
    };
    let src = tree.path.clone();
    let repo_path = dir.path().join("repo");
    let backend = arca::backend::open(&Location::Local(repo_path.clone()), &[]).expect("backend");
    let repo =
        Arc::new(Repository::init(backend, PASSWORD.as_bytes(), &arca::test_repo::init_options()).expect("init"));

    let mut trees = vec![];
    let mut parent = None;
    for k in 0..tree.backups {
        if k > 0 {
            tree.rewrite(k, &mut rng);
        }
        let run = Instant::now();
        let out = backup(&repo, &src, parent);
        if tree.given {
            eprintln!(
                "serve bench: backup {k}: {:.1} s ({} files, {} new, {} changed)",
                run.elapsed().as_secs_f64(),
                out.summary.total_files_processed,
                out.summary.files_new,
                out.summary.files_changed
            );
        }
        parent = Some(out.tree);
        trees.push((out.tree, out.summary));
    }
    let lock = repo.lock("bench", LockMode::Shared).expect("lock");
    let flushed = repo.nothing_pending().expect("flushed");
    let now = chrono::Utc::now();
    let hosts = ["laptop", "desktop", "server", "nas"];
    let mut newest = String::new();
    for i in 0..SNAPSHOTS {
        let (tree, summary) = trees[i * trees.len() / SNAPSHOTS].clone();
        let time = now - chrono::Duration::hours((SNAPSHOTS - i) as i64);
        let id = repo.save_snapshot(&snapshot(&src, hosts[i % 4], time, tree, summary), &flushed, &lock).expect("save");
        newest = id.to_hex();
    }
    eprintln!("serve bench: {SNAPSHOTS} snapshots of {} trees in {:.1} s", trees.len(), t.elapsed().as_secs_f64());

    let wide = dir.path().join("wide");
    std::fs::create_dir_all(&wide).expect("mkdir");
    for i in 0..WIDE {
        std::fs::File::create(wide.join(format!("w{i:06}"))).expect("create");
    }
    let out = backup(&repo, &wide, None);
    let wide_id = repo
        .save_snapshot(&snapshot(&wide, "wide", chrono::Utc::now(), out.tree, out.summary), &out.flushed, &lock)
        .expect("save")
        .to_hex();
    eprintln!("serve bench: + a directory of {WIDE} files, {:.1} s in all", t.elapsed().as_secs_f64());

    let mib: usize = std::env::var("ARCA_BENCH_SERVE_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(2048);
    let bigdir = dir.path().join("big");
    std::fs::create_dir_all(&bigdir).expect("mkdir");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(bigdir.join("big.bin")).expect("create"));
        for _ in 0..mib {
            f.write_all(&rng.bytes(MIB)).expect("write");
        }
        f.flush().expect("flush");
    }
    let out = backup(&repo, &bigdir, None);
    let big_id = repo
        .save_snapshot(&snapshot(&bigdir, "big", chrono::Utc::now(), out.tree, out.summary), &out.flushed, &lock)
        .expect("save")
        .to_hex();
    drop(lock);
    eprintln!("serve bench: + a file of {mib} MiB, {:.1} s in all", t.elapsed().as_secs_f64());
    Built {
        repo: repo_path,
        src,
        history: tree.history,
        given: tree.given,
        wide,
        newest,
        wide_id,
        big_id,
        big_bytes: (mib * MIB) as u64,
        dir,
    }
}

fn arca(b: &Built) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arca"));
    c.env("ARCA_REPOSITORY", &b.repo)
        .env("ARCA_PASSWORD", PASSWORD)
        .env("XDG_CACHE_HOME", b.dir.path().join("cache"))
        .env_remove("ARCA_HOST");
    c
}

struct Server {
    child: Child,
    base: String,
    auth: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(b: &Built) -> Server {
    let mut child = arca(b)
        .args(["serve", "--listen", "127.0.0.1:0", "--refresh", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start arca serve");
    let (mut base, mut token) = (None, None);
    for line in BufReader::new(child.stderr.take().expect("stderr")).lines().map_while(Result::ok) {
        if let Some(a) = line.strip_prefix("arca serve: listening on ") {
            base = Some(a.trim_end_matches('/').to_string());
        }
        if let Some(t) = line.strip_prefix("arca serve: token ") {
            token = Some(t.to_string());
        }
        if line.contains("Ctrl-C or SIGTERM stops it") {
            break;
        }
    }
    Server { child, base: base.expect("address"), auth: format!("Bearer {}", token.expect("token")) }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_./".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn fetch(agent: &ureq::Agent, s: &Server, path: &str) -> Vec<u8> {
    let mut r = agent.get(format!("{}{path}", s.base)).header("Authorization", &s.auth).call().expect("request");
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.body_mut().with_config().limit(256 << 20).read_to_vec().expect("body")
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn serve(c: &mut Criterion) {
    let b = build();
    let s = start(&b);
    let (rss, hwm) = memory(s.child.id());
    eprintln!("serve bench: server started: RSS {rss:.1} MiB, peak {hwm:.1} MiB");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let src = enc(&b.src.to_string_lossy());
    let routes = [
        ("dashboard_1000_snapshots", "/api/dashboard".to_string()),
        ("listing_of_a_snapshot", format!("/api/snapshots/{}/tree?path={src}", b.newest)),
        (
            "first_page_of_100k_entries",
            format!("/api/snapshots/{}/tree?path={}", b.wide_id, enc(&b.wide.to_string_lossy())),
        ),
        ("history_warm_catalog", format!("/api/history?path={src}/{}", enc(b.history))),
    ];
    for (name, path) in &routes {
        let t = Instant::now();
        let body = fetch(&agent, &s, path);
        let (rss, hwm) = memory(s.child.id());
        eprintln!(
            "serve bench: first {name}: {:.1} ms, {} bytes; server RSS {rss:.1} MiB, peak so far {hwm:.1} MiB",
            t.elapsed().as_secs_f64() * 1e3,
            body.len()
        );
    }
    // its own group with a given tree, so criterion compares like with like
    let mut g = c.benchmark_group(if b.given { "serve_tree" } else { "serve" });
    g.sample_size(30).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    for (name, path) in &routes {
        g.bench_function(*name, |bench| bench.iter(|| fetch(&agent, &s, path)));
    }
    g.finish();
    let (rss, hwm) = memory(s.child.id());
    eprintln!("serve bench: server memory after the routes: RSS {rss:.1} MiB, peak {hwm:.1} MiB");

    // the big file: HTTP download into a file against `arca restore` of the same snapshot
    let mb = b.big_bytes as f64 / 1e6;
    let (mut http, mut restore) = (vec![], vec![]);
    for run in 0..3 {
        let target = b.dir.path().join(format!("restored-{run}"));
        let t = Instant::now();
        let out = arca(&b).args(["restore", &b.big_id, "--target"]).arg(&target).output().expect("restore");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        restore.push(mb / t.elapsed().as_secs_f64());
        std::fs::remove_dir_all(&target).expect("rm");

        let file = b.dir.path().join(format!("downloaded-{run}"));
        let path = format!(
            "/api/snapshots/{}/file?path={}",
            b.big_id,
            enc(&format!("{}/big.bin", b.dir.path().join("big").display()))
        );
        let t = Instant::now();
        let mut r = agent.get(format!("{}{path}", s.base)).header("Authorization", &s.auth).call().expect("download");
        assert_eq!(r.status().as_u16(), 200);
        let mut sink = std::fs::File::create(&file).expect("create");
        // 1 MiB reads and writes, as restore's writer does (io::copy's 8 KiB would time the client)
        let (mut reader, mut buf, mut n) = (r.body_mut().as_reader(), vec![0u8; MIB], 0u64);
        loop {
            let got = std::io::Read::read(&mut reader, &mut buf).expect("read");
            if got == 0 {
                break;
            }
            sink.write_all(&buf[..got]).expect("write");
            n += got as u64;
        }
        assert_eq!(n, b.big_bytes);
        http.push(mb / t.elapsed().as_secs_f64());
        std::fs::remove_file(&file).expect("rm");
    }
    let (h, r) = (median(http.clone()), median(restore.clone()));
    eprintln!("serve bench: download of {mb:.0} MB over HTTP: {h:.0} MB/s (runs {http:.0?}); arca restore: {r:.0} MB/s (runs {restore:.0?}); ratio {:.2}", h / r);
    let (rss, hwm) = memory(s.child.id());
    eprintln!("serve bench: server memory after the downloads: RSS {rss:.1} MiB, peak {hwm:.1} MiB");
}

criterion_group!(benches, serve);
criterion_main!(benches);
