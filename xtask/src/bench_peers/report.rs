//! The results: every sample as a TSV row, written as it is taken (a run cut short keeps what
//! it measured), and at the end a Markdown report with the machine, the command, the tools'
//! versions, the corpora and, per corpus, a table of medians with arca's per-rep ratio to the
//! best peer.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::corpora::Corpus;
use super::measure::{median, ratio_median, Outcome, Usage};
use super::steps::{Sample, Step, Who};
use super::tools::Tool;
use crate::cmd::{Error, Result};

pub struct Tsv {
    path: PathBuf,
    file: File,
}

impl Tsv {
    pub fn create(path: &Path) -> Result<Tsv> {
        let mut file = File::create(path).map_err(|e| Error::io(path.display().to_string(), e))?;
        let header = "tool\tcorpus\trep\tstep\tstatus\twall_s\tuser_s\tsys_s\tmaxrss_kib\tbytes\tdifferences\tnote\n";
        file.write_all(header.as_bytes()).map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(Tsv { path: path.to_path_buf(), file })
    }

    pub fn append(&mut self, samples: &[Sample]) -> Result<()> {
        let mut text = String::new();
        for s in samples {
            let (status, usage, bytes, diffs) = match &s.outcome {
                Outcome::Ran(u) => ("ok", Some(*u), String::new(), String::new()),
                Outcome::Size(b) => ("ok", None, b.to_string(), String::new()),
                Outcome::Verified(n) => (if *n == 0 { "ok" } else { "different" }, None, String::new(), n.to_string()),
                Outcome::Failed(_) => ("failed", None, String::new(), String::new()),
                Outcome::NotRun => ("not-run", None, String::new(), String::new()),
            };
            let times =
                usage.map_or("\t\t\t".to_string(), |u| format!("{}\t{}\t{}\t{}", u.wall, u.user, u.sys, u.rss_kib));
            let note = match &s.outcome {
                Outcome::Failed(why) => format!("{why}; {}", s.note),
                _ => s.note.clone(),
            };
            text += &format!(
                "{}\t{}\t{}\t{}\t{status}\t{times}\t{bytes}\t{diffs}\t{}\n",
                s.tool.name(),
                s.corpus,
                s.rep,
                s.step.key(),
                note.replace(['\t', '\n'], " ")
            );
        }
        self.file.write_all(text.as_bytes()).map_err(|e| Error::io(self.path.display().to_string(), e))
    }
}

/// What the report says besides the measurements.
pub struct Header {
    pub date: String,
    pub command: String,
    pub reps: usize,
    pub timeout_s: u64,
    pub tsv: PathBuf,
    pub logs: PathBuf,
    /// (tool, its version line, how it was installed)
    pub tools: Vec<(Tool, String, String)>,
}

pub fn markdown(h: &Header, corpora: &[Corpus], samples: &[Sample]) -> String {
    let mut md = format!("# arca and its peers, side by side ({})\n\n", h.date);
    md += &format!("Command: `{}`\n\nMachine: {}.\n\n", h.command, machine());
    md += &format!(
        "Method:\n\n\
         - {} rep(s); reps are the outer loop and the tools take turns inside each, so background load hits all \
         alike; every rep of every tool starts from a fresh repository with fresh caches beside it.\n\
         - Page cache warm: before each tool's rep, an untimed pass stats every entry of the corpus and reads every file (the cache is never dropped); an untimed `sync` before each timed step; each step timed by \
         `/usr/bin/time`, with a timeout of {} s.\n\
         - Each cell: the median over reps of wall s / CPU s (user + sys) / peak RSS MiB (largest process); sizes \
         in MB (10^6 bytes): the sum of the file sizes under the repository directory, caches excluded.\n\
         - **arca / fastest peer**: per rep, arca's figure over the best peer's of the same rep (the smallest \
         repository for sizes), then the median of those ratios; below 1, arca is faster, leaner or smaller. \
         Sizes vary a little between reps: arca, restic and borg key their chunkers per repository.\n\
         - The 1% change: every 100th regular file (in walk order) changed, even ones appended to, odd ones with 32 \
         bytes overwritten in the middle; for `big`, the file replaced by its edited variant.\n\
         - The restore (of the latest snapshot, into an empty directory) is compared with the corpus as it was \
         backed up: file set, types, content byte for byte, symlink targets.\n\
         - Raw per-rep figures: `{}`; the log of every step: `{}`.\n\n",
        h.reps,
        h.timeout_s,
        h.tsv.file_name().unwrap_or_default().to_string_lossy(),
        h.logs.display()
    );
    md += "## Tools\n\n| tool | version | installed as | settings |\n|---|---|---|---|\n";
    for (tool, version, provenance) in &h.tools {
        md += &format!("| {} | {version} | {provenance} | {} |\n", tool.name(), tool.settings());
    }
    if samples.iter().any(|s| s.tool == Who::Limit) {
        md += "| limit | – | measured in the same run (`xtask/src/bench_peers/limits.rs`) | the step's limit on this \
               machine: first backup = arca's CPU stages (its own untimed run's `backup -v` report) over the cores + a \
               stat walk; unchanged re-backup = a stat walk (`xtask stat-walk`: getdents64 + one statx per entry, one \
               thread) + one key unlock (`arca --no-key-cache cat config`); restore = `cp -a` into the same file \
               system |\n";
    }
    md += "\n## Corpora\n\n| corpus | files | directories | symlinks | MB | what |\n|---|---:|---:|---:|---:|---|\n";
    for c in corpora {
        let n = c.counts;
        let (files, dirs, links) = (thousands(n.files), thousands(n.dirs), thousands(n.symlinks));
        md += &format!("| {} | {files} | {dirs} | {links} | {:.1} | {} |\n", c.name(), n.bytes as f64 / 1e6, c.what);
    }
    let mut tools: Vec<Who> = h.tools.iter().map(|t| Who::Tool(t.0)).collect();
    if samples.iter().any(|s| s.tool == Who::Limit) {
        tools.push(Who::Limit);
    }
    for c in corpora {
        md += &table(c, &tools, samples);
    }
    md
}

fn table(corpus: &Corpus, tools: &[Who], samples: &[Sample]) -> String {
    let of = |tool: Who, step: Step| -> Vec<&Sample> {
        samples.iter().filter(|s| s.corpus == corpus.name() && s.tool == tool && s.step == step).collect()
    };
    let with_ratio = tools.contains(&Who::ARCA) && tools.iter().any(|t| t.is_peer());
    let with_limit = tools.contains(&Who::ARCA) && tools.contains(&Who::Limit);
    let (files, mb) = (thousands(corpus.counts.files), corpus.counts.bytes as f64 / 1e6);
    let mut md = format!("\n## Corpus `{}` ({files} files, {mb:.1} MB)\n\n| step |", corpus.name());
    let mut rule = String::from("|---|");
    for t in tools {
        md += &format!(" {} |", t.name());
        rule += "---:|";
    }
    if with_ratio {
        md += " arca / fastest peer |";
        rule += "---:|";
    }
    if with_limit {
        md += " arca / limit |";
        rule += "---:|";
    }
    md += &format!("\n{rule}\n");
    // init only when it failed somewhere, to show why the steps after it did not run
    let init_failed = tools.iter().any(|&t| of(t, Step::Init).iter().any(|s| matches!(s.outcome, Outcome::Failed(_))));
    for step in std::iter::once(Step::Init).filter(|_| init_failed).chain(Step::TABLE) {
        if tools.iter().all(|&t| of(t, step).is_empty()) {
            continue;
        }
        md += &format!("| {} |", step.label());
        for &t in tools {
            let samples = of(t, step);
            md += &format!(" {} |", if t == Who::Limit { limit_cell(&samples) } else { cell(&samples) });
        }
        if with_ratio {
            md += &format!(" {} |", ratios(step, tools, &of));
        }
        if with_limit {
            md += &format!(" {} |", to_limit(step, &of));
        }
        md += "\n";
    }
    md
}

/// The medians of one tool's samples of one step, or why there are none.
fn cell(samples: &[&Sample]) -> String {
    let ran: Vec<Usage> =
        samples.iter().filter_map(|s| if let Outcome::Ran(u) = s.outcome { Some(u) } else { None }).collect();
    let sizes: Vec<f64> =
        samples.iter().filter_map(|s| if let Outcome::Size(b) = s.outcome { Some(b as f64) } else { None }).collect();
    let diffs: Vec<u64> =
        samples.iter().filter_map(|s| if let Outcome::Verified(n) = s.outcome { Some(n) } else { None }).collect();
    let failed: Vec<&str> = samples
        .iter()
        .filter_map(|s| if let Outcome::Failed(w) = &s.outcome { Some(w.as_str()) } else { None })
        .collect();
    let not_run = samples.iter().filter(|s| matches!(s.outcome, Outcome::NotRun)).count();
    let partial = |ok: usize| match failed.first() {
        _ if ok == samples.len() => String::new(),
        Some(why) => format!(" ({ok} of {} reps; {why})", samples.len()),
        None => format!(" ({ok} of {} reps)", samples.len()),
    };
    let med = |f: &dyn Fn(&Usage) -> f64| median(&ran.iter().map(f).collect::<Vec<_>>()).unwrap_or(0.0);
    if !ran.is_empty() {
        let (wall, cpu, rss) = (med(&|u| u.wall), med(&|u| u.cpu()), med(&|u| u.rss_kib as f64 / 1024.0));
        format!("{} / {} / {rss:.0}{}", seconds(wall), seconds(cpu), partial(ran.len()))
    } else if let Some(m) = median(&sizes) {
        format!("{}{}", megabytes(m), partial(sizes.len()))
    } else if !diffs.is_empty() {
        let worst = diffs.iter().max().copied().unwrap_or(0);
        let verdict = if worst == 0 { "identical".to_string() } else { format!("**{worst} differences**") };
        verdict + &partial(diffs.len())
    } else if let Some(why) = failed.first() {
        format!("**failed** ({why})")
    } else if not_run > 0 {
        "not run".into()
    } else {
        "–".into()
    }
}

/// arca over the best peer, per rep, then the median: wall / CPU / RSS, or the size.
fn ratios<'a>(step: Step, tools: &[Who], of: &dyn Fn(Who, Step) -> Vec<&'a Sample>) -> String {
    let reps: Vec<usize> = of(Who::ARCA, step).iter().map(|s| s.rep).collect();
    let per_rep = |metric: &dyn Fn(&Outcome) -> Option<f64>| -> Vec<(Option<f64>, Vec<f64>)> {
        let value = |t: Who, rep: usize| of(t, step).iter().find(|s| s.rep == rep).and_then(|s| metric(&s.outcome));
        let peers = || tools.iter().copied().filter(|t| t.is_peer());
        reps.iter().map(|&r| (value(Who::ARCA, r), peers().filter_map(|t| value(t, r)).collect())).collect()
    };
    let show = |r: Option<f64>| r.map_or("–".to_string(), |r| format!("{r:.2}"));
    let usage = |f: fn(&Usage) -> f64| move |o: &Outcome| if let Outcome::Ran(u) = o { Some(f(u)) } else { None };
    match step {
        Step::SizeFirst | Step::SizeChanged => {
            show(ratio_median(&per_rep(&|o| if let Outcome::Size(b) = o { Some(*b as f64) } else { None })))
        }
        Step::Verify | Step::Init => String::new(),
        _ => [usage(|u| u.wall), usage(|u| u.cpu()), usage(|u| u.rss_kib as f64)]
            .iter()
            .map(|m| show(ratio_median(&per_rep(m))))
            .collect::<Vec<_>>()
            .join(" / "),
    }
}

/// A limit's median wall seconds (its CPU and memory are not a goal), or why there is none.
fn limit_cell(samples: &[&Sample]) -> String {
    let walls: Vec<f64> =
        samples.iter().filter_map(|s| if let Outcome::Ran(u) = s.outcome { Some(u.wall) } else { None }).collect();
    match (median(&walls), samples.is_empty()) {
        (Some(w), _) => seconds(w),
        (None, true) => String::new(),
        (None, false) => cell(samples),
    }
}

/// arca's wall seconds over the limit's, per rep, then the median.
fn to_limit<'a>(step: Step, of: &dyn Fn(Who, Step) -> Vec<&'a Sample>) -> String {
    let wall = |t: Who, rep: usize| {
        of(t, step).iter().find(|s| s.rep == rep).and_then(|s| {
            if let Outcome::Ran(u) = s.outcome {
                Some(u.wall)
            } else {
                None
            }
        })
    };
    let reps: Vec<(Option<f64>, Vec<f64>)> = of(Who::ARCA, step)
        .iter()
        .map(|s| (wall(Who::ARCA, s.rep), wall(Who::Limit, s.rep).into_iter().collect()))
        .collect();
    ratio_median(&reps).map_or(String::new(), |r| format!("{r:.2}"))
}

/// 1234567 as "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn seconds(s: f64) -> String {
    match s {
        s if s < 10.0 => format!("{s:.2}"),
        s if s < 100.0 => format!("{s:.1}"),
        s => format!("{s:.0}"),
    }
}

fn megabytes(bytes: f64) -> String {
    let mb = bytes / 1e6;
    if mb < 100.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.0} MB")
    }
}

/// CPU model, cores, memory, kernel and distribution, from /proc and /etc/os-release.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model =
        cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string()));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = read("/proc/meminfo");
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:")?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let kernel = read("/proc/sys/kernel/osrelease");
    let os = read("/etc/os-release");
    let os =
        os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or("unknown OS").trim_matches('"').to_string();
    format!(
        "{}, {cores} cores, {:.1} GiB memory, Linux {}, {os}",
        model.unwrap_or_else(|| "unknown CPU".into()),
        kib / (1024.0 * 1024.0),
        kernel.trim()
    )
}
