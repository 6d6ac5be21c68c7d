//! The steps of one rep of one tool on one corpus, in a fresh repository:
//!
//! 1. `init` (timed, kept in the TSV only), after an untimed setup where the tool needs one
//!    and an untimed read of the whole corpus (`files::warm`), so every tool starts warm;
//! 2. first backup, then the repository size;
//! 3. unchanged re-backup;
//! 4. the 1% change applied, a backup of the changed corpus, the repository size;
//! 5. a full restore of the latest snapshot into an empty directory;
//! 6. the restore compared with the corpus as backed up (still changed);
//!
//! The memory scan corpus (`million`) stops after step 2, then has the watch row: 10 files
//! changed, arca's `backup --changed-paths` of them against each peer's ordinary re-backup,
//! and arca's own full re-backup of the same state;
//!
//! and the change undone, whatever happened, so every rep and every tool sees the same bytes.
//! A step that fails is recorded with its reason and the steps after it as not run; the other
//! tools go on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::corpora::Corpus;
use super::measure::{self, Outcome};
use super::tools::{Adapter, Repo, Tool};
use super::verify;
use crate::cmd::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Init,
    First,
    SizeFirst,
    Unchanged,
    Changed,
    SizeChanged,
    Restore,
    Verify,
    /// 10 files changed after the first backup: arca with `--changed-paths`, a peer's re-backup.
    Watch,
    /// The same state backed up again by arca with a full walk (its own baseline).
    WatchFull,
}

impl Step {
    /// The rows of a corpus table, in order.
    pub const TABLE: [Step; 9] = [
        Step::First,
        Step::Unchanged,
        Step::Changed,
        Step::Restore,
        Step::Verify,
        Step::SizeFirst,
        Step::SizeChanged,
        Step::Watch,
        Step::WatchFull,
    ];

    /// The name in the TSV.
    pub fn key(self) -> &'static str {
        match self {
            Step::Init => "init",
            Step::First => "first-backup",
            Step::SizeFirst => "size-first",
            Step::Unchanged => "unchanged",
            Step::Changed => "changed",
            Step::SizeChanged => "size-changed",
            Step::Restore => "restore",
            Step::Verify => "verify",
            Step::Watch => "watch",
            Step::WatchFull => "watch-full",
        }
    }

    /// The row label in the Markdown tables.
    pub fn label(self) -> &'static str {
        match self {
            Step::Init => "init",
            Step::First => "first backup",
            Step::SizeFirst => "repo size after first backup",
            Step::Unchanged => "unchanged re-backup",
            Step::Changed => "backup after 1% change",
            Step::SizeChanged => "repo size after 1% change",
            Step::Restore => "full restore",
            Step::Verify => "restore verified",
            Step::Watch => "10 files changed: arca --changed-paths, peers' re-backup",
            Step::WatchFull => "10 files changed: arca's full re-backup",
        }
    }
}

/// Whose figure a sample is: a tool's, or the measured limit of the step (`limits.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    Tool(Tool),
    Limit,
}

impl Who {
    pub const ARCA: Who = Who::Tool(Tool::Arca);

    pub fn name(self) -> &'static str {
        match self {
            Who::Tool(t) => t.name(),
            Who::Limit => "limit",
        }
    }

    /// A peer of arca's (not arca, not a limit).
    pub fn is_peer(self) -> bool {
        matches!(self, Who::Tool(t) if t != Tool::Arca)
    }
}

/// One measurement.
pub struct Sample {
    pub rep: usize,
    pub corpus: &'static str,
    pub tool: Who,
    pub step: Step,
    pub outcome: Outcome,
    /// A note for the TSV (what changed, the first differences, the log file of a failure).
    pub note: String,
}

/// Where a run keeps its work and logs, and how long a step may take.
pub struct Context {
    pub work: PathBuf,
    pub logs: PathBuf,
    pub timeout: Duration,
    pub started: Instant,
    pub reps: usize,
}

struct Rep<'a> {
    ctx: &'a Context,
    adapter: &'a Adapter,
    corpus: &'a Corpus,
    repo: Repo,
    rep: usize,
    failed: bool,
    samples: Vec<Sample>,
}

/// Run every step of rep `rep` for one tool and corpus.
pub fn run(ctx: &Context, adapter: &Adapter, corpus: &Corpus, rep: usize) -> Result<Vec<Sample>> {
    let work = ctx.work.join(format!("{}-{}-{rep}", adapter.tool.name(), corpus.name()));
    remove(&work)?;
    let repo = Repo { work };
    for dir in [repo.aux(), repo.restored()] {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
    }
    let mut r = Rep { ctx, adapter, corpus, repo, rep, failed: false, samples: vec![] };
    let result = r.steps();
    let undone = corpus.undo_change();
    let removed = remove(&r.repo.work);
    result.and(undone).and(removed)?;
    Ok(r.samples)
}

fn remove(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir.display().to_string(), e)),
        _ => Ok(()),
    }
}

impl Rep<'_> {
    fn steps(&mut self) -> Result<()> {
        let (a, repo, source) = (self.adapter, &self.repo, &self.corpus.root);
        let (init, setup) = (a.init(repo), a.setup(repo));
        let (first, second, third) = (a.backup(repo, source, 1), a.backup(repo, source, 2), a.backup(repo, source, 3));
        let restore = a.restore(repo, 3);
        if let Some(setup) = setup {
            self.untimed_setup(setup)?;
        }
        super::files::warm(source)?;
        if !self.failed {
            self.timed(Step::Init, &init)?;
        }
        self.timed(Step::First, &first)?;
        self.size(Step::SizeFirst)?;
        if self.corpus.first_backup_only() {
            return self.watch();
        }
        self.timed(Step::Unchanged, &second)?;
        let changed = if self.failed { String::new() } else { self.corpus.apply_change()? };
        self.timed(Step::Changed, &third)?;
        if let Some(s) = self.samples.last_mut().filter(|_| !changed.is_empty()) {
            s.note = if s.note.is_empty() { changed } else { format!("{changed}; {}", s.note) };
        }
        self.size(Step::SizeChanged)?;
        self.timed(Step::Restore, &restore)?;
        self.verify()
    }

    /// The watch row: 10 files changed, then arca's change-list backup (a peer's ordinary
    /// re-backup) and arca's full re-backup of the same state.
    fn watch(&mut self) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        let (note, paths) = self.corpus.change_files(10)?;
        let list = self.repo.aux().join("changed.list");
        let mut text = Vec::new();
        for p in &paths {
            // as the backup names its source (`.` taken absolute: the real path)
            let p = std::fs::canonicalize(p).map_err(|e| Error::io(p.display().to_string(), e))?;
            text.extend_from_slice(p.as_os_str().as_encoded_bytes());
            text.push(b'\n');
        }
        std::fs::write(&list, text).map_err(|e| Error::io(list.display().to_string(), e))?;
        let (a, repo, source) = (self.adapter, &self.repo, &self.corpus.root);
        let (changed, full) = (a.backup_changed(repo, source, 2, &list), a.backup(repo, source, 3));
        self.timed(Step::Watch, &changed)?;
        if let Some(s) = self.samples.last_mut() {
            s.note = if s.note.is_empty() { note } else { format!("{note}; {}", s.note) };
        }
        if a.tool == Tool::Arca {
            self.timed(Step::WatchFull, &full)?;
        }
        Ok(())
    }

    fn record(&mut self, step: Step, outcome: Outcome, note: String) {
        self.failed |= matches!(outcome, Outcome::Failed(_));
        self.progress(step, &outcome, &note);
        let (rep, corpus, tool) = (self.rep, self.corpus.name(), Who::Tool(self.adapter.tool));
        self.samples.push(Sample { rep, corpus, tool, step, outcome, note });
    }

    fn log(&self, step: &str) -> PathBuf {
        self.ctx.logs.join(format!("{}-{}-{}-{step}.log", self.adapter.tool.name(), self.corpus.name(), self.rep))
    }

    /// A step before `init` whose figures are not kept (bupstash's key); a failure is init's.
    fn untimed_setup(&mut self, setup: Command) -> Result<()> {
        let log = self.log("setup");
        let outcome = measure::timed(&setup, self.ctx.timeout, &log)?;
        if let Outcome::Failed(why) = outcome {
            self.record(Step::Init, Outcome::Failed(format!("setup: {why}")), log.display().to_string());
        }
        Ok(())
    }

    fn timed(&mut self, step: Step, command: &Command) -> Result<()> {
        if self.failed {
            self.record(step, Outcome::NotRun, String::new());
            return Ok(());
        }
        let log = self.log(step.key());
        let outcome = measure::timed(command, self.ctx.timeout, &log)?;
        let note = if matches!(outcome, Outcome::Failed(_)) { log.display().to_string() } else { String::new() };
        self.record(step, outcome, note);
        Ok(())
    }

    fn size(&mut self, step: Step) -> Result<()> {
        let outcome = if self.failed { Outcome::NotRun } else { Outcome::Size(super::files::size(&self.repo.path())?) };
        self.record(step, outcome, String::new());
        Ok(())
    }

    fn verify(&mut self) -> Result<()> {
        if self.failed {
            self.record(Step::Verify, Outcome::NotRun, String::new());
            return Ok(());
        }
        let at = self.adapter.restored_corpus(&self.repo, &self.corpus.root);
        let d = verify::compare(&self.corpus.root, &self.repo.restored(), &at)?;
        self.record(Step::Verify, Outcome::Verified(d.count), d.shown.join("; "));
        Ok(())
    }

    /// One line on stderr per step.
    fn progress(&self, step: Step, outcome: &Outcome, note: &str) {
        let what = match outcome {
            Outcome::Ran(u) => format!("{:.2} s, CPU {:.2} s, {:.0} MiB", u.wall, u.cpu(), u.rss_kib as f64 / 1024.0),
            Outcome::Size(b) => format!("{:.1} MB", *b as f64 / 1e6),
            Outcome::Verified(0) => "identical".into(),
            Outcome::Verified(n) => format!("{n} differences: {note}"),
            Outcome::Failed(why) => format!("FAILED ({why}); log: {note}"),
            Outcome::NotRun => "not run".into(),
        };
        eprintln!(
            "[{:>6.0} s] rep {}/{} {} {}: {}: {what}",
            self.ctx.started.elapsed().as_secs_f64(),
            self.rep,
            self.ctx.reps,
            self.corpus.name(),
            self.adapter.tool.name(),
            step.label()
        );
    }
}
