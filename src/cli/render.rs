//! The human text of each report, apart from printing it: a report goes in, [`Lines`] come
//! out, and [`Out::show`](super::output::Out::show) prints them by the rule of each line's
//! kind (escaping, quiet, stdout or stderr). Times are shown in a [`Zone`], the machine's own
//! when printing, a fixed one in tests, so every rendering is tested as text with fixed inputs
//! (insta snapshots in `render/tests.rs`, files in `render/snapshots/`).

use std::path::Path;

use super::output::bytes;
use crate::commands::backup::BackupReport;
use crate::commands::diff::{Change, DiffStats, NewSide};
use crate::commands::find::{PathHistory, SnapshotMatches};
use crate::commands::forget::ForgetGroup;
use crate::commands::ls::LsNode;
use crate::commands::snapshots::SnapshotInfo;
use crate::commands::stats::{Mode, Stats};
use crate::commands::tag::TagReport;
use crate::id::SnapshotId;
use crate::maintenance::check::CheckReport;
use crate::maintenance::policy::Policy;
use crate::maintenance::prune::{PruneOptions, PruneStats};
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
        "processed {} files, {} in {:.1}s",
        report.total_files_processed,
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
        l.note(format!("warning: {} source(s) could not be read; the snapshot lacks them", report.errors));
    }
    l
}

/// `snapshots`: the table.
pub fn snapshots(list: &[SnapshotInfo], zone: Zone) -> Lines {
    let mut l = Lines::default();
    l.text(format!("{:<8}  {:<19}  {:<16}  {:<16}  {}", "ID", "Time", "Host", "Tags", "Paths"));
    l.text("-".repeat(80));
    for sn in list {
        l.entry(format!(
            "{:<8}  {:<19}  {:<16}  {:<16}  {}",
            sn.short_id.short(),
            zone.time(&sn.time),
            sn.hostname,
            sn.tags.join(","),
            sn.paths.join(", ")
        ));
    }
    l.text("-".repeat(80));
    l.text(format!("{} snapshots", list.len()));
    l
}

/// `ls`: which snapshot, then a line per node (`-l`: permissions, owner, size, time).
pub fn ls(info: &SnapshotInfo, nodes: &[LsNode], long: bool, zone: Zone) -> Lines {
    let mut l = Lines::default();
    l.note(format!("snapshot {} of {:?} at {}:", info.short_id.short(), info.paths, zone.time(&info.time)));
    for n in nodes {
        if long {
            let target = n.link_target.as_ref().map(|t| format!(" -> {t}")).unwrap_or_default();
            let user = if n.user.is_empty() { n.uid.to_string() } else { n.user.clone() };
            let group = if n.group.is_empty() { n.gid.to_string() } else { n.group.clone() };
            l.entry(format!(
                "{} {:>8} {:>8} {:>12} {} {}{}",
                n.permissions,
                user,
                group,
                n.size,
                zone.time(&n.mtime),
                n.path,
                target
            ));
        } else {
            l.entry(&n.path);
        }
    }
    l
}

/// `restore`'s summary of `id` into `target`.
pub fn restore(id: &SnapshotId, target: &Path, summary: &RestoreSummary, verify: bool) -> Lines {
    let mut l = Lines::default();
    l.text(format!(
        "restored snapshot {} to {}: {} files, {} dirs, {}{}{}",
        id.short(),
        target.display(),
        summary.files_restored,
        summary.dirs_restored,
        bytes(summary.bytes_restored),
        if summary.files_skipped > 0 { format!(", {} kept", summary.files_skipped) } else { String::new() },
        if verify { format!(", {} verified", summary.files_verified) } else { String::new() },
    ));
    if summary.errors > 0 {
        l.note(format!("{} error(s) during restore", summary.errors));
    }
    l
}

/// `key list`: a line per key, the one that opened the repository starred.
pub fn key_list(keys: &[KeyInfo], zone: Zone) -> Lines {
    let mut l = Lines::default();
    l.text(format!(" {:<8}  {:<12}  {:<16}  {}", "ID", "User", "Host", "Created"));
    for k in keys {
        l.entry(format!(
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
    l.text(format!("Stats in {mode_name} mode:"));
    let mut line = |k: &str, v: String| l.text(format!("{k:>26}:  {v}"));
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
    l.text(format!("comparing snapshot {} to {new}:\n", old_id.short()));
    l
}

/// One changed path of `diff`.
pub fn diff_change(c: &Change) -> Line {
    Line::Entry(format!("{}    {}", c.modifier, c.path))
}

/// `diff`'s totals.
pub fn diff_stats(st: &DiffStats) -> Lines {
    let mut l = Lines::default();
    let (ad, rm) = (&st.added, &st.removed);
    l.text("");
    l.text(format!("Files:       {:>5} new, {:>5} removed, {:>5} changed", ad.files, rm.files, st.changed_files));
    l.text(format!("Dirs:        {:>5} new, {:>5} removed", ad.dirs, rm.dirs));
    l.text(format!("Others:      {:>5} new, {:>5} removed", ad.others, rm.others));
    l.text(format!("Data Blobs:  {:>5} new, {:>5} removed", ad.data_blobs, rm.data_blobs));
    l.text(format!("Tree Blobs:  {:>5} new, {:>5} removed", ad.tree_blobs, rm.tree_blobs));
    l.text(format!("  Added:   {}", bytes(ad.bytes)));
    l.text(format!("  Removed: {}", bytes(rm.bytes)));
    l
}

/// `find PATTERN...`: per snapshot, the entries whose names match.
pub fn find_matches(found: &[SnapshotMatches], zone: Zone) -> Lines {
    let mut l = Lines::default();
    for snap in found {
        l.text(format!("Found matching entries in snapshot {} from {}", snap.snapshot.short(), zone.time(&snap.time)));
        for m in &snap.matches {
            l.entry(format!("{} {:>12} {} {}", m.permissions, m.size, zone.time(&m.mtime), m.path));
        }
        l.text("");
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
    l.entry(format!(
        "{}: {} version(s) in {} of {} snapshot(s)",
        h.path,
        h.versions.len(),
        in_snaps,
        h.snapshots_searched
    ));
    for v in &h.versions {
        let ids: Vec<String> = v.snapshots.iter().map(|s| s.short()).collect();
        l.text(format!(
            "  {:<7} {:>12}  modified {}  content {}  in {}: {} ({} .. {})",
            v.kind,
            bytes(v.size),
            zone.time(&v.mtime),
            v.content_id.as_deref().unwrap_or("-"),
            if ids.len() == 1 { "1 snapshot".to_string() } else { format!("{} snapshots", ids.len()) },
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
        "modified tags on {} snapshot(s){}",
        report.changed.len(),
        if report.unchanged > 0 { format!(", {} already as asked", report.unchanged) } else { String::new() }
    ));
    l
}

/// `forget`'s decision: the policy, then per group what is kept (and why) and removed.
pub fn forget(policy: &Policy, groups: &[ForgetGroup], zone: Zone) -> Lines {
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
            l.text(format!("keep {} snapshot(s):", g.keep.len()));
            for r in &g.reasons {
                l.entry(format!(
                    "  {}  {}  {}",
                    r.snapshot.short_id.short(),
                    zone.time(&r.snapshot.time),
                    r.matches.join(", ")
                ));
            }
        }
        if !g.remove.is_empty() {
            l.text(format!("remove {} snapshot(s):", g.remove.len()));
            for sn in &g.remove {
                l.text(format!("  {}  {}", sn.short_id.short(), zone.time(&sn.time)));
            }
        }
        l.text("");
    }
    l
}

/// `prune`'s (and `forget --prune`'s) account of what it found and did.
pub fn prune(st: &PruneStats, opts: &PruneOptions) -> Lines {
    let mut l = Lines::default();
    let b = |n: u64| indicatif::HumanBytes(n).to_string();
    let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    l.text(format!(
        "{} snapshots, {} trees; {} packs: used {} blobs / {}, unused {} blobs / {} ({:.1}%)",
        st.snapshots,
        st.trees_walked,
        st.packs,
        st.blobs_used,
        b(st.bytes_used),
        st.blobs_unused,
        b(st.bytes_unused),
        pct(st.bytes_unused, st.bytes_used + st.bytes_unused)
    ));
    let verb = |now: &str, would: &str| if st.dry_run { would.to_string() } else { now.to_string() };
    l.text(format!(
        "{} {} pack(s) ({}), {} blobs kept",
        verb("repacked", "would repack"),
        st.packs_repack,
        b(st.bytes_repack),
        st.blobs_repacked
    ));
    if opts.instant_delete {
        l.text(format!("{} {} pack(s) ({})", verb("deleted", "would delete"), st.packs_deleted, b(st.bytes_deleted)));
    } else {
        l.text(format!(
            "{} {} unused pack(s) ({}) for deletion after {}",
            verb("marked", "would mark"),
            st.packs_marked + st.packs_repack,
            b(st.bytes_marked + st.bytes_repack),
            humantime::format_duration(opts.keep_delete)
        ));
        l.text(format!(
            "{} {} pack(s) marked earlier ({}); {} still waiting ({}){}",
            verb("deleted", "would delete"),
            st.packs_deleted,
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
            "indexed {} pack(s) left by interrupted backups; dropped {} missing unused pack(s) from the index",
            st.packs_adopted, st.packs_missing_dropped
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
    l.text(format!(
        "checked {} snapshots, {} trees, {} index files, {} packs, {} blobs{}",
        report.snapshots,
        report.trees_checked,
        report.index_files,
        report.packs,
        report.blobs,
        if read {
            format!(
                "; read {} packs ({}), {} blobs",
                report.packs_read,
                indicatif::HumanBytes(report.bytes_read),
                report.blobs_read
            )
        } else {
            String::new()
        }
    ));
    if !report.unreferenced_packs.is_empty() {
        l.text(format!(
            "{} pack(s) are not in any index (left by an interrupted backup; harmless, the next backup or prune indexes them)",
            report.unreferenced_packs.len()
        ));
    }
    for p in &report.invalid_unreferenced_packs {
        l.problem(format!(
            "warning: {p} (not in any index, never used: a partial upload or a planted file; delete it)"
        ));
    }
    if !report.pending_deletion.is_empty() {
        l.text(format!("{} pack(s) deleted by prune; the next prune updates the index", report.pending_deletion.len()));
    }
    for e in &report.errors {
        l.problem(format!("error: {e}"));
    }
    for d in &report.damaged {
        l.problem(format!("damaged: snapshot {} {}: {}", d.snapshot.short(), d.path, d.problem));
    }
    if report.ok() {
        l.text("no errors were found");
    } else {
        let snaps: Vec<String> = report.damaged_snapshots().iter().map(|id| id.short()).collect();
        l.problem(format!(
            "{} error(s); {} damaged file(s) in {} snapshot(s){}",
            report.errors.len(),
            report.damaged.len(),
            snaps.len(),
            if snaps.is_empty() { String::new() } else { format!(": {}", snaps.join(" ")) }
        ));
        l.problem("hint: `arca repair index` rebuilds the index from the packs; `arca repair snapshots` rewrites damaged snapshots");
    }
    l
}

#[cfg(test)]
mod tests;
