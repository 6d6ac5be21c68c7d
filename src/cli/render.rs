//! The human text of each report, apart from printing it: a report goes in, [`Lines`] come
//! out, and [`Out::show`](super::output::Out::show) prints them by the rule of each line's
//! kind (escaping, quiet, stdout or stderr). Times are shown in a [`Zone`], the machine's own
//! when printing, a fixed one in tests, so every rendering is tested as text with fixed inputs
//! (insta snapshots in `render/tests.rs`, files in `render/snapshots/`).

use std::path::Path;

use super::output::{bytes, count};
use crate::commands::backup::BackupReport;
use crate::commands::cache::CacheReport;
use crate::commands::compare_live::CompareLiveReport;
use crate::commands::diff::{Change, DiffStats, NewSide};
use crate::commands::find::{PathHistory, SnapshotMatches};
use crate::commands::find_objects::FindObjectsReport;
use crate::commands::forget::ForgetGroup;
use crate::commands::list::Listed;
use crate::commands::ls::LsNode;
use crate::commands::migrate::MigrateReport;
use crate::commands::snapshots::{SnapshotGroup, SnapshotInfo};
use crate::commands::stats::{Mode, Stats};
use crate::commands::tag::TagReport;
use crate::commands::version::VersionReport;
use crate::id::SnapshotId;
use crate::maintenance::check::CheckReport;
use crate::maintenance::migrate::MigrationStatus;
use crate::maintenance::policy::Policy;
use crate::maintenance::prune::{PruneOptions, PruneStats};
use crate::maintenance::repair_packs::RepairPacksReport;
use crate::repo::KeyInfo;
use crate::restorer::RestoreSummary;

/// One line of human output, by how it is printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// arca's own text on stdout ([`Out::text`](super::output::Out::text)).
    Text(String),
    /// A line holding names from the file system or the repository, on stdout
    /// ([`Out::entry`](super::output::Out::entry)): newlines in it are escaped too.
    Entry(String),
    /// arca's own text that is the answer the command was asked for (the `snapshots` table,
    /// `stats`, `check`'s verdict, `diff`'s totals): on stdout, kept by `--quiet`, which
    /// silences progress and chatter, never results (restic's rule).
    Result(String),
    /// A line of results holding names from the file system or the repository (`ls`, `find`,
    /// `diff`, `snapshots`, `key list`): kept by `--quiet`, newlines escaped.
    ResultEntry(String),
    /// A note on stderr ([`Out::note`](super::output::Out::note)).
    Note(String),
    /// A problem on stderr, shown even with `--quiet` (check's errors and damage).
    Problem(String),
}

/// The lines of one rendering, in the order they are printed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines(pub Vec<Line>);

impl Lines {
    fn text(&mut self, s: impl Into<String>) {
        self.0.push(Line::Text(s.into()));
    }
    fn entry(&mut self, s: impl Into<String>) {
        self.0.push(Line::Entry(s.into()));
    }
    fn result(&mut self, s: impl Into<String>) {
        self.0.push(Line::Result(s.into()));
    }
    fn result_entry(&mut self, s: impl Into<String>) {
        self.0.push(Line::ResultEntry(s.into()));
    }
    fn note(&mut self, s: impl Into<String>) {
        self.0.push(Line::Note(s.into()));
    }
    fn problem(&mut self, s: impl Into<String>) {
        self.0.push(Line::Problem(s.into()));
    }
}

/// Where times are shown: the machine's local zone, or a fixed offset (tests, so a rendering
/// is the same on every machine).
#[derive(Clone, Copy, Debug)]
pub enum Zone {
    Local,
    // only the tests show times at a fixed offset so far
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(chrono::FixedOffset),
}

impl Zone {
    /// An RFC 3339 time as `YYYY-MM-DD HH:MM:SS` in this zone; text that is no such time as it is.
    pub fn time(self, t: &str) -> String {
        const FORMAT: &str = "%Y-%m-%d %H:%M:%S";
        match chrono::DateTime::parse_from_rfc3339(t) {
            Ok(t) => match self {
                Zone::Local => t.with_timezone(&chrono::Local).format(FORMAT).to_string(),
                Zone::Fixed(z) => t.with_timezone(&z).format(FORMAT).to_string(),
            },
            Err(_) => t.to_string(),
        }
    }
}

/// `backup`'s summary.
pub fn backup(report: &BackupReport) -> Lines {
    let mut l = Lines::default();
    l.text(format!(
        "Files: {:>8} new, {:>8} changed, {:>8} unmodified",
        report.files_new, report.files_changed, report.files_unmodified
    ));
    l.text(format!(
        "Dirs:  {:>8} new, {:>8} changed, {:>8} unmodified",
        report.dirs_new, report.dirs_changed, report.dirs_unmodified
    ));
    l.text(format!(
        "Added to the repository: {} ({} stored)",
        bytes(report.data_added),
        bytes(report.data_added_packed)
    ));
    l.text(format!(
        "processed {}, {} in {:.1}s",
        count(report.total_files_processed, "file"),
        bytes(report.total_bytes_processed),
        report.total_duration
    ));
    match (&report.snapshot_id, &report.parent) {
        (Some(id), _) => l.text(format!("snapshot {} saved", id.short())),
        (None, _) if report.dry_run => l.text("dry run: nothing written"),
        (None, Some(parent)) => {
            l.text(format!("skipped creating snapshot: nothing changed since {} (--skip-if-unchanged)", parent.short()))
        }
        (None, None) => l.text("no snapshot stored"),
    }
    if report.errors > 0 {
        l.note(format!("warning: {} could not be read; the snapshot lacks them", count(report.errors, "source")));
    }
    l
}

/// `snapshots`: the table (`compact`: without paths, as restic's `--compact`).
pub fn snapshots(list: &[SnapshotInfo], compact: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    let row = |id: &str, time: &str, host: &str, tags: &str, paths: &str| {
        if compact {
            format!("{id:<8}  {time:<19}  {host:<16}  {tags}").trim_end().to_string()
        } else {
            format!("{id:<8}  {time:<19}  {host:<16}  {tags:<16}  {paths}")
        }
    };
    let rule = if compact { 60 } else { 80 };
    l.result(row("ID", "Time", "Host", "Tags", "Paths"));
    l.result("-".repeat(rule));
    for sn in list {
        l.result_entry(row(
            &sn.short_id.short(),
            &zone.time(&sn.time),
            &sn.hostname,
            &sn.tags.join(","),
            &sn.paths.join(", "),
        ));
    }
    l.result("-".repeat(rule));
    l.result(count(list.len(), "snapshot"));
    l
}

/// `snapshots --group-by`: a table per group, headed by its key (restic's layout).
pub fn snapshot_groups(groups: &[SnapshotGroup], compact: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    for g in groups {
        l.result_entry(format!("snapshots for ({}):", g.group_key.describe()));
        l.0.extend(snapshots(&g.snapshots, compact, zone).0);
        l.result("");
    }
    l
}

/// `ls`: which snapshot, then a line per node (`-l`: permissions, owner, size, time; `human`:
/// sizes as 1.2 KiB).
pub fn ls(info: &SnapshotInfo, nodes: &[LsNode], long: bool, human: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    l.note(format!("snapshot {} of {:?} at {}:", info.short_id.short(), info.paths, zone.time(&info.time)));
    for n in nodes {
        if long {
            let target = n.link_target.as_ref().map(|t| format!(" -> {t}")).unwrap_or_default();
            let user = if n.user.is_empty() { n.uid.to_string() } else { n.user.clone() };
            let group = if n.group.is_empty() { n.gid.to_string() } else { n.group.clone() };
            l.result_entry(format!(
                "{} {:>8} {:>8} {:>12} {} {}{}",
                n.permissions,
                user,
                group,
                size(n.size, human),
                zone.time(&n.mtime),
                n.path,
                target
            ));
        } else {
            l.result_entry(&n.path);
        }
    }
    l
}

/// A size in a long listing: bytes, or with `human` 1.2 KiB (restic's `--human-readable`).
fn size(n: u64, human: bool) -> String {
    if human {
        bytes(n)
    } else {
        n.to_string()
    }
}

/// `restore`'s summary of `id` into `target`.
pub fn restore(id: &SnapshotId, target: &Path, summary: &RestoreSummary, verify: bool, dry_run: bool) -> Lines {
    let mut l = Lines::default();
    l.text(format!(
        "{} snapshot {} to {}: {}, {}, {}{}{}{}{}",
        if dry_run { "would restore" } else { "restored" },
        id.short(),
        target.display(),
        count(summary.files_restored, "file"),
        count(summary.dirs_restored, "dir"),
        bytes(summary.bytes_restored),
        if summary.files_skipped > 0 { format!(", {} kept", summary.files_skipped) } else { String::new() },
        if summary.files_overwritten > 0 {
            format!(", {} {}", summary.files_overwritten, if dry_run { "to overwrite" } else { "overwritten" })
        } else {
            String::new()
        },
        if summary.files_deleted > 0 || !summary.deleted.is_empty() {
            format!(", {} {}", summary.files_deleted, if dry_run { "to delete" } else { "deleted" })
        } else {
            String::new()
        },
        if verify { format!(", {} verified", summary.files_verified) } else { String::new() },
    ));
    if summary.errors > 0 {
        l.note(format!("{} during restore", count(summary.errors, "error")));
    }
    l
}

/// `key list`: a line per key, the one that opened the repository starred.
pub fn key_list(keys: &[KeyInfo], zone: Zone) -> Lines {
    let mut l = Lines::default();
    l.result(format!(" {:<8}  {:<12}  {:<16}  {}", "ID", "User", "Host", "Created"));
    for k in keys {
        l.result_entry(format!(
            "{}{:<8}  {:<12}  {:<16}  {}",
            if k.current { "*" } else { " " },
            k.id.short(),
            k.username,
            k.hostname,
            zone.time(&k.created)
        ));
    }
    l
}

/// `stats` in `mode` (named `mode_name` on the command line).
pub fn stats(mode_name: &str, mode: Mode, st: &Stats) -> Lines {
    let mut l = Lines::default();
    l.result(format!("Stats in {mode_name} mode:"));
    let mut line = |k: &str, v: String| l.result(format!("{k:>26}:  {v}"));
    line("Snapshots processed", st.snapshots_count.to_string());
    if mode != Mode::RawData {
        line("Total File Count", st.total_file_count.to_string());
    }
    if let Some(n) = st.total_blob_count {
        line("Total Blob Count", n.to_string());
    }
    line("Total Size", bytes(st.total_size));
    if let Some(n) = st.total_uncompressed_size {
        line("Total Uncompressed Size", bytes(n));
    }
    let ratio = |v: Option<f64>, suffix: &str| v.map(|r| format!("{r:.2}{suffix}"));
    if let Some(v) = ratio(st.compression_progress, "%") {
        line("Compression Progress", v);
    }
    if let Some(v) = ratio(st.compression_ratio, "x") {
        line("Compression Ratio", v);
    }
    if let Some(v) = ratio(st.compression_space_saving, "%") {
        line("Compression Space Saving", v);
    }
    if let Some(v) = ratio(st.deduplication_ratio, "x") {
        line("Deduplication Ratio", v);
    }
    if let Some(v) = ratio(st.total_ratio, "x") {
        line("Restore Size / Stored", v);
    }
    l
}

/// `diff`'s first line: the two sides (`new_id` is a path when `live`).
pub fn diff_header(old_id: &SnapshotId, new_side: &NewSide) -> Lines {
    let mut l = Lines::default();
    let new = match new_side {
        NewSide::Snapshot(id) => id.short(),
        NewSide::Live(path) => path.clone(),
    };
    l.result(format!("comparing snapshot {} to {new}:\n", old_id.short()));
    l
}

/// One changed path of `diff`.
pub fn diff_change(c: &Change) -> Line {
    Line::ResultEntry(format!("{}    {}", c.modifier, c.path))
}

/// `diff`'s totals.
pub fn diff_stats(st: &DiffStats) -> Lines {
    let mut l = Lines::default();
    let (ad, rm) = (&st.added, &st.removed);
    l.result("");
    l.result(format!("Files:       {:>5} new, {:>5} removed, {:>5} changed", ad.files, rm.files, st.changed_files));
    l.result(format!("Dirs:        {:>5} new, {:>5} removed", ad.dirs, rm.dirs));
    l.result(format!("Others:      {:>5} new, {:>5} removed", ad.others, rm.others));
    l.result(format!("Data Blobs:  {:>5} new, {:>5} removed", ad.data_blobs, rm.data_blobs));
    l.result(format!("Tree Blobs:  {:>5} new, {:>5} removed", ad.tree_blobs, rm.tree_blobs));
    l.result(format!("  Added:   {}", bytes(ad.bytes)));
    l.result(format!("  Removed: {}", bytes(rm.bytes)));
    l
}

/// `find PATTERN...`: per snapshot, the entries whose names match.
pub fn find_matches(found: &[SnapshotMatches], long: bool, human: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    for snap in found {
        l.result(format!(
            "Found matching entries in snapshot {} from {}",
            snap.snapshot.short(),
            zone.time(&snap.time)
        ));
        for m in &snap.matches {
            if long {
                let size = size(m.size, human);
                l.result_entry(format!("{} {size:>12} {} {}", m.permissions, zone.time(&m.mtime), m.path));
            } else {
                l.result_entry(&m.path);
            }
        }
        l.result("");
    }
    if found.is_empty() {
        l.note("no matches");
    }
    l
}

/// `find --path PATH`: the versions of one path, newest first, with the snapshots holding each.
pub fn find_history(h: &PathHistory, zone: Zone) -> Lines {
    let mut l = Lines::default();
    let in_snaps: usize = h.versions.iter().map(|v| v.snapshots.len()).sum();
    l.result_entry(format!(
        "{}: {} in {} of {}",
        h.path,
        count(h.versions.len(), "version"),
        in_snaps,
        count(h.snapshots_searched, "snapshot")
    ));
    for v in &h.versions {
        let ids: Vec<String> = v.snapshots.iter().map(|s| s.short()).collect();
        l.result(format!(
            "  {:<7} {:>12}  modified {}  content {}  in {}: {} ({} .. {})",
            v.kind,
            bytes(v.size),
            zone.time(&v.mtime),
            v.content_id.as_deref().unwrap_or("-"),
            count(ids.len(), "snapshot"),
            ids.join(" "),
            zone.time(&v.first_seen),
            zone.time(&v.last_seen),
        ));
    }
    l
}

/// `tag`: each snapshot rewritten (old and new id, its tags now), then how many.
pub fn tag(report: &TagReport) -> Lines {
    let mut l = Lines::default();
    for c in &report.changed {
        l.entry(format!("{} -> {}: tags {}", c.old.short(), c.new.short(), c.tags.join(",")));
    }
    l.note(format!(
        "modified tags on {}{}",
        count(report.changed.len(), "snapshot"),
        if report.unchanged > 0 { format!(", {} already as asked", report.unchanged) } else { String::new() }
    ));
    l
}

/// `forget`'s decision: the policy, then per group what is kept (and why) and removed, each
/// snapshot with its host, tags and paths (`compact`: without them, restic's `--compact`).
pub fn forget(policy: &Policy, groups: &[ForgetGroup], compact: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    if !policy.is_empty() {
        l.text(format!("Applying policy: {}", policy.describe()));
    }
    for g in groups {
        let what = g.describe();
        l.text(if g.host.is_none() && g.paths.is_none() && g.tags.is_none() {
            format!("{what}:")
        } else {
            format!("snapshots for {what}:")
        });
        if !g.keep.is_empty() {
            l.text(format!("keep {}:", count(g.keep.len(), "snapshot")));
            for r in &g.reasons {
                let sn = &r.snapshot;
                let (id, time, why) = (sn.short_id.short(), zone.time(&sn.time), r.matches.join(", "));
                l.entry(if compact {
                    format!("  {id}  {time}  {why}")
                } else {
                    format!("  {id}  {time}  {}  {why}  {}", who(sn), sn.paths.join(", "))
                });
            }
        }
        if !g.remove.is_empty() {
            l.text(format!("remove {}:", count(g.remove.len(), "snapshot")));
            for sn in &g.remove {
                let (id, time) = (sn.short_id.short(), zone.time(&sn.time));
                if compact {
                    l.text(format!("  {id}  {time}"));
                } else {
                    l.entry(format!("  {id}  {time}  {}  {}", who(sn), sn.paths.join(", ")));
                }
            }
        }
        l.text("");
    }
    l
}

/// A snapshot's host and tags, in `forget`'s columns.
fn who(sn: &SnapshotInfo) -> String {
    format!("{:<16}  {:<16}", sn.hostname, sn.tags.join(","))
}

/// `prune`'s (and `forget --prune`'s) account of what it found and did.
pub fn prune(st: &PruneStats, opts: &PruneOptions) -> Lines {
    let mut l = Lines::default();
    let b = |n: u64| indicatif::HumanBytes(n).to_string();
    let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    l.text(format!(
        "{}, {}; {}: used {} / {}, unused {} / {} ({:.1}%)",
        count(st.snapshots, "snapshot"),
        count(st.trees_walked, "tree"),
        count(st.packs, "pack"),
        count(st.blobs_used, "blob"),
        b(st.bytes_used),
        count(st.blobs_unused, "blob"),
        b(st.bytes_unused),
        pct(st.bytes_unused, st.bytes_used + st.bytes_unused)
    ));
    let verb = |now: &str, would: &str| if st.dry_run { would.to_string() } else { now.to_string() };
    l.text(format!(
        "{} {} ({}), {} kept",
        verb("repacked", "would repack"),
        count(st.packs_repack, "pack"),
        b(st.bytes_repack),
        count(st.blobs_repacked, "blob")
    ));
    if opts.instant_delete {
        l.text(format!(
            "{} {} ({})",
            verb("deleted", "would delete"),
            count(st.packs_deleted, "pack"),
            b(st.bytes_deleted)
        ));
    } else {
        l.text(format!(
            "{} {} ({}) for deletion after {}",
            verb("marked", "would mark"),
            count(st.packs_marked + st.packs_repack, "unused pack"),
            b(st.bytes_marked + st.bytes_repack),
            humantime::format_duration(opts.keep_delete)
        ));
        l.text(format!(
            "{} {} marked earlier ({}); {} still waiting ({}){}",
            verb("deleted", "would delete"),
            count(st.packs_deleted, "pack"),
            b(st.bytes_deleted),
            st.packs_pending,
            b(st.bytes_pending),
            if st.packs_unmarked > 0 {
                format!("; {} un-marked (in use again)", st.packs_unmarked)
            } else {
                String::new()
            }
        ));
        if let Some(who) = &st.deletion_blocked_by {
            l.text(format!("deletion waits for an older lock: {who}"));
        }
    }
    if st.packs_adopted > 0 || st.packs_missing_dropped > 0 {
        l.text(format!(
            "indexed {} left by interrupted backups; dropped {} from the index",
            count(st.packs_adopted, "pack"),
            count(st.packs_missing_dropped, "missing unused pack")
        ));
    }
    l.text(format!(
        "unused after prune: {} ({:.1}% of used data)",
        b(st.bytes_unused_after),
        pct(st.bytes_unused_after, st.bytes_used)
    ));
    l
}

/// `check`'s summary; `read` says whether pack contents were read (`--read-data[-subset]`).
pub fn check(report: &CheckReport, read: bool) -> Lines {
    let mut l = Lines::default();
    l.result(format!(
        "checked {}, {}, {}, {}, {}{}",
        count(report.snapshots, "snapshot"),
        count(report.trees_checked, "tree"),
        count(report.index_files, "index file"),
        count(report.packs, "pack"),
        count(report.blobs, "blob"),
        if read {
            format!(
                "; read {} ({}), {}",
                count(report.packs_read, "pack"),
                indicatif::HumanBytes(report.bytes_read),
                count(report.blobs_read, "blob")
            )
        } else {
            String::new()
        }
    ));
    if !report.unreferenced_packs.is_empty() {
        l.result(format!(
            "{} not in any index (left by an interrupted backup; harmless, the next backup or prune indexes them)",
            match report.unreferenced_packs.len() {
                1 => "1 pack is".to_string(),
                n => format!("{n} packs are"),
            }
        ));
    }
    for p in &report.invalid_unreferenced_packs {
        l.problem(format!(
            "warning: {p} (not in any index, never used: a partial upload or a planted file; delete it)"
        ));
    }
    if !report.pending_deletion.is_empty() {
        l.result(format!(
            "{} deleted by prune; the next prune updates the index",
            count(report.pending_deletion.len(), "pack")
        ));
    }
    for e in &report.errors {
        l.problem(format!("error: {e}"));
    }
    for d in &report.damaged {
        l.problem(format!("damaged: snapshot {} {}: {}", d.snapshot.short(), d.path, d.problem));
    }
    if report.ok() {
        l.result("no errors were found");
    } else {
        let snaps: Vec<String> = report.damaged_snapshots().iter().map(|id| id.short()).collect();
        l.problem(format!(
            "{}; {} in {}{}",
            count(report.errors.len(), "error"),
            count(report.damaged.len(), "damaged file"),
            count(snaps.len(), "snapshot"),
            if snaps.is_empty() { String::new() } else { format!(": {}", snaps.join(" ")) }
        ));
        l.problem("hint: `arca repair index` rebuilds the index from the packs; `arca repair snapshots` rewrites damaged snapshots");
    }
    l
}

/// `check --compare-live`: each missed difference (and with `verbose` each one made since the
/// snapshot) as `diff` prints it, then the counts and the verdict.
pub fn compare_live(r: &CompareLiveReport, verbose: bool) -> Lines {
    let mut l = Lines::default();
    let from = match r.change_list {
        Some(n) => format!(", made from a change list of {}", count(n, "path")),
        None => String::new(),
    };
    l.result(format!("comparing snapshot {} ({}{from}) with the live files", r.snapshot_id.short(), r.snapshot_time));
    for d in &r.missed {
        l.result_entry(format!("missed         {}    {}", d.modifier, d.path));
    }
    if verbose {
        for d in &r.changed_since {
            l.result_entry(format!("changed since  {}    {}", d.modifier, d.path));
        }
    }
    l.result(format!(
        "{} missed, {} changed since the snapshot",
        count(r.missed.len(), "difference"),
        r.changed_since.len()
    ));
    if !r.ok() {
        l.problem(format!(
            "snapshot {} does not hold what was on disk when it was taken; a full backup (without \
             --changed-paths) records it",
            r.snapshot_id.short()
        ));
    }
    l
}

/// `version`: restic's one line.
pub fn version(v: &VersionReport) -> Lines {
    let mut l = Lines::default();
    let reads: Vec<String> = v.read_format_versions.iter().map(u8::to_string).collect();
    l.text(format!(
        "arca {} compiled for {}/{}; repository format {} (reads {})",
        v.version,
        v.os,
        v.arch,
        v.format_version,
        reads.join(", ")
    ));
    l
}

/// `list`: one id per line, blobs as `TYPE ID` (restic's output).
pub fn list(listed: &[Listed]) -> Lines {
    let mut l = Lines::default();
    for item in listed {
        match &item.blob_type {
            Some(t) => l.text(format!("{t} {}", item.id)),
            None => l.text(item.id.clone()),
        }
    }
    l
}

/// `migrate` without a name: the migrations and whether each applies.
pub fn migrations(list: &[MigrationStatus], version: u8) -> Lines {
    let mut l = Lines::default();
    l.text(format!("repository format version {version}; available migrations:"));
    for m in list {
        if m.applies {
            l.text(format!("  {}: {}", m.name, m.description));
        } else {
            l.text(format!("  {} (does not apply: {}): {}", m.name, m.reason, m.description));
        }
    }
    l
}

/// `migrate NAME`'s summary, and the check after it.
pub fn migrate(r: &MigrateReport) -> Lines {
    let u = &r.upgrade;
    let mut l = Lines::default();
    if u.dry_run {
        l.text(format!(
            "would upgrade format {} to {}: copy {} ({}), {}; {} already in version {}",
            u.from_version,
            u.to_version,
            count(u.old_packs as u64, "pack"),
            bytes(u.old_bytes),
            count(u.blobs_copied as u64, "blob"),
            count(u.packs_already_upgraded as u64, "pack"),
            u.to_version
        ));
        return l;
    }
    l.text(format!(
        "upgraded format {} to {}: copied {} from {} ({}) into {}; {} written, {} removed; {} removed",
        u.from_version,
        u.to_version,
        count(u.blobs_copied as u64, "blob"),
        count(u.old_packs as u64, "pack"),
        bytes(u.old_bytes),
        count(u.packs_written, "new pack"),
        count(u.index_files_written as u64, "index file"),
        u.index_files_removed,
        count(u.packs_removed as u64, "old pack")
    ));
    if let Some(c) = &r.check {
        l.0.extend(check(c, false).0);
    }
    l
}

/// `repair packs`: each pack's salvage, the lost blobs, and the next step.
pub fn repair_packs(r: &RepairPacksReport) -> Lines {
    let mut l = Lines::default();
    for p in &r.packs {
        l.text(format!(
            "pack {}: {} {}, {} lost{}",
            p.pack.short(),
            if r.dry_run { "would salvage" } else { "salvaged" },
            count(p.blobs_salvaged as u64, "blob"),
            p.blobs_lost.len(),
            if p.header_problem.is_empty() { String::new() } else { format!(" (header: {})", p.header_problem) }
        ));
        for b in &p.blobs_lost {
            l.problem(format!("lost: {b}"));
        }
    }
    if !r.dry_run {
        l.text(format!(
            "{} and {} written, {} removed; {} removed",
            count(r.packs_written, "new pack"),
            count(r.index_files_written as u64, "index file"),
            r.index_files_removed,
            count(r.packs_removed as u64, "damaged pack")
        ));
    }
    if r.blobs_lost > 0 {
        l.problem(format!(
            "{} lost: run `arca repair snapshots` to rewrite the snapshots that use them",
            count(r.blobs_lost as u64, "blob")
        ));
    }
    l
}

/// `find --blob/--tree/--pack`: a pack's blobs, then each use as restic prints it.
pub fn find_objects(r: &FindObjectsReport, zone: Zone) -> Lines {
    let mut l = Lines::default();
    for p in &r.packs {
        l.text(format!("pack {} holds {}:", p.pack, count(p.blobs.len() as u64, "blob")));
        for b in &p.blobs {
            l.text(format!("  {b}"));
        }
    }
    for f in &r.found {
        l.text(format!("Found {} {}", f.object_type, f.id));
        match &f.parent_tree {
            Some(parent) => {
                l.entry(format!(" ... in file {}", f.path));
                l.text(format!("     (tree {parent})"));
            }
            None => l.entry(format!(" ... path {}", f.path)),
        }
        if let Some(pack) = &f.pack {
            l.text(format!(" ... in pack {}", &pack[..8.min(pack.len())]));
        }
        l.text(format!(" ... in snapshot {} ({})", f.snapshot.short(), zone.time(&f.time)));
    }
    l.0.extend(find_objects_not_found(r).0);
    l
}

/// The sought ids no selected snapshot uses (notes, with `--json` too).
pub fn find_objects_not_found(r: &FindObjectsReport) -> Lines {
    let mut l = Lines::default();
    for n in &r.not_found {
        l.note(format!("{n}: not found in {}", count(r.snapshots_searched as u64, "snapshot")));
    }
    l
}

/// `cache`: restic's table (repository id, last use, old, size), then the count.
pub fn cache(r: &CacheReport) -> Lines {
    let mut l = Lines::default();
    if r.caches.is_empty() {
        l.text(format!("no cache directories in {}", r.root));
        return l;
    }
    l.text(format!("{:<10} {:<13} {:<4} {:>10}", "Repo ID", "Last Used", "Old", "Size"));
    for c in &r.caches {
        let used = match c.age_days {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            n => format!("{} ago", count(n, "day")),
        };
        let size = c.size.map(bytes).unwrap_or_default();
        let old = if c.removed {
            "rm"
        } else if c.old {
            "yes"
        } else {
            ""
        };
        l.text(format!("{:<10} {used:<13} {old:<4} {size:>10}", &c.repo_id[..8.min(c.repo_id.len())]).trim_end());
    }
    l.text(format!("{} in {}", count(r.caches.len() as u64, "cache dir"), r.root));
    let old = r.caches.iter().filter(|c| c.old && !c.removed).count();
    if r.removed > 0 {
        l.text(format!(
            "removed {} unused for more than {}",
            count(r.removed as u64, "cache dir"),
            count(r.max_age_days, "day")
        ));
    } else if old > 0 {
        l.text(format!(
            "{} (unused for more than {}): `arca cache --cleanup` removes {}",
            count(old as u64, "old cache dir"),
            count(r.max_age_days, "day"),
            if old == 1 { "it" } else { "them" }
        ));
    }
    l
}

#[cfg(test)]
mod tests;
