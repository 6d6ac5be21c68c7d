//! Handlers of the upkeep commands: forget, prune, check, repair, unlock.

use std::sync::Arc;

use super::exit;
use super::maintenance_args::{CheckArgs, ForgetArgs, PruneOpts, RepairCommand, UnlockArgs};
use super::output::{count, Out};
use super::render::{self, Zone};
use super::settings::{parse_size, Settings};
use crate::commands::forget::{self, GroupBy};
use crate::commands::Filter;
use crate::error::{Error, Result};
use crate::maintenance::check::ReadData;
use crate::maintenance::policy::{parse_count, Policy, Span};
use crate::maintenance::prune::{parse_max_unused, PruneOptions, PruneStats};

fn span(s: &Option<String>) -> Result<Span> {
    s.as_deref().map(str::parse).transpose().map(Option::unwrap_or_default)
}

fn keep_count(s: &Option<String>) -> Result<i64> {
    s.as_deref().map(parse_count).transpose().map(Option::unwrap_or_default)
}

fn policy(a: &ForgetArgs) -> Result<Policy> {
    Ok(Policy {
        last: keep_count(&a.keep_last)?,
        hourly: keep_count(&a.keep_hourly)?,
        daily: keep_count(&a.keep_daily)?,
        weekly: keep_count(&a.keep_weekly)?,
        monthly: keep_count(&a.keep_monthly)?,
        yearly: keep_count(&a.keep_yearly)?,
        within: span(&a.keep_within)?,
        within_hourly: span(&a.keep_within_hourly)?,
        within_daily: span(&a.keep_within_daily)?,
        within_weekly: span(&a.keep_within_weekly)?,
        within_monthly: span(&a.keep_within_monthly)?,
        within_yearly: span(&a.keep_within_yearly)?,
        tags: a
            .keep_tag
            .iter()
            // an empty tag (`--keep-tag ''`) stands for "no tags", as in restic
            .map(|t| t.split(',').map(str::trim).map(String::from).collect())
            .collect(),
    })
}

fn prune_options(o: &PruneOpts) -> Result<PruneOptions> {
    Ok(PruneOptions {
        max_unused: parse_max_unused(&o.max_unused, parse_size)?,
        max_repack: o.max_repack_size.as_deref().map(parse_size).transpose()?,
        repack_small: o.repack_small,
        repack_uncompressed: o.repack_uncompressed,
        keep_delete: humantime::parse_duration(&o.keep_delete)
            .map_err(|e| Error::usage(format!("--keep-delete {:?}: {e}", o.keep_delete)))?,
        instant_delete: o.instant_delete,
        dry_run: o.dry_run,
    })
}

pub fn forget(s: &Settings, out: Out, a: ForgetArgs) -> Result<u8> {
    let policy = policy(&a)?;
    let group_by = GroupBy::parse(&a.group_by)?;
    let prune_opts = prune_options(&a.prune_opts)?;
    let dry_run = a.prune_opts.dry_run;
    if !a.ids.is_empty() && !policy.is_empty() {
        // before opening the repository (forget::prepare says the same to library callers)
        return Err(Error::usage("give either snapshot ids or a --keep-* policy, not both"));
    }
    let repo = Arc::new(s.open()?);
    let filter = Filter { hosts: a.hosts.clone(), tags: a.tags.clone(), paths: a.paths.clone() };
    let plan = forget::prepare(
        &repo,
        &forget::ForgetOptions {
            ids: &a.ids,
            filter: &filter,
            group_by,
            policy: &policy,
            prune: a.prune.then_some(&prune_opts),
            unsafe_allow_remove_all: a.unsafe_allow_remove_all,
        },
    )?;
    if a.ids.is_empty() && policy.is_empty() {
        out.note("no policy was specified: --unsafe-allow-remove-all removes every snapshot the filters select");
    }
    let groups = &plan.groups;
    if out.json {
        out.json_line(groups);
    } else {
        out.show(&render::forget(&policy, groups, a.compact, Zone::Local));
    }
    let removed = if dry_run { 0 } else { plan.execute(&repo)? };
    let would = groups.iter().map(|g| g.remove.len()).sum::<usize>();
    if dry_run {
        out.text(format!("would remove {}", count(would, "snapshot")));
    } else {
        out.text(format!("removed {}", count(removed, "snapshot")));
    }
    if a.prune {
        let st = plan.prune(&repo, &prune_opts, &|m| out.note(m))?;
        print_prune(out, &st, &prune_opts);
    }
    Ok(exit::OK)
}

pub fn prune(s: &Settings, out: Out, o: PruneOpts) -> Result<u8> {
    let opts = prune_options(&o)?;
    let repo = Arc::new(s.open()?);
    if opts.instant_delete {
        out.note("warning: --instant-delete takes an exclusive lock and deletes at once; use it only when no other client uses this repository");
    }
    let st =
        super::progress::metered(out, "prune", |m| crate::commands::prune::run(&repo, &opts, &|n| out.note(n), m))?;
    print_prune(out, &st, &opts);
    Ok(exit::OK)
}

fn print_prune(out: Out, st: &PruneStats, opts: &PruneOptions) {
    if out.json {
        out.json_line(st);
    } else {
        out.show(&render::prune(st, opts));
    }
}

pub fn check(s: &Settings, out: Out, a: CheckArgs) -> Result<u8> {
    if let Some(snapshot) = &a.compare_live {
        return compare_live(s, out, snapshot);
    }
    let read = match (&a.read_data_subset, a.read_data) {
        (Some(sub), _) => ReadData::parse_subset(sub, parse_size)?,
        (None, true) => ReadData::All,
        (None, false) => ReadData::None,
    };
    let repo = s.open()?;
    let report = super::progress::metered(out, "check", |m| crate::commands::check::run(repo, read, a.with_cache, m))?;
    if out.json {
        out.json_line(&report);
    } else {
        out.show(&render::check(&report, read != ReadData::None));
    }
    Ok(if report.ok() { exit::OK } else { exit::FATAL })
}

/// `check --compare-live [SNAPSHOT]`: exit 0 when the snapshot missed nothing, else 1 as any
/// check that found problems.
fn compare_live(s: &Settings, out: Out, snapshot: &str) -> Result<u8> {
    let profile_excludes = match &s.profile {
        Some(loaded) => Some(super::handlers::excludes(&super::handlers::profile_backup_args(&loaded.profile)?)?),
        None => None,
    };
    let opts = crate::commands::compare_live::CompareLiveOptions {
        snapshot: (!snapshot.is_empty()).then(|| snapshot.to_string()),
        profile_excludes,
    };
    let repo = s.open()?;
    let report = crate::commands::compare_live::run(&repo, &opts)?;
    if out.json {
        out.json_line(&report);
    } else {
        out.show(&render::compare_live(&report, out.verbose > 0));
    }
    Ok(if report.ok() { exit::OK } else { exit::FATAL })
}

pub fn repair(s: &Settings, out: Out, cmd: RepairCommand) -> Result<u8> {
    match cmd {
        RepairCommand::Config { chunker_params, dry_run } => repair_config(s, out, chunker_params.as_deref(), dry_run),
        RepairCommand::Index { read_data, dry_run } => {
            let repo = s.open()?;
            let r = super::progress::metered(out, "repair index", |m| {
                crate::commands::repair::index(repo, read_data, dry_run, &|n| out.note(n), m)
            })?;
            if out.json {
                out.json_line(&r);
            } else {
                for p in &r.damaged_packs {
                    eprintln!(
                        "damaged pack {}: {p}",
                        if dry_run { "(would be salvaged and deleted)" } else { "salvaged and deleted" }
                    );
                }
                if !r.damaged_packs.is_empty() {
                    out.text(format!(
                        "{} salvaged, {} lost; run `arca repair snapshots` next",
                        count(r.blobs_salvaged, "blob"),
                        r.blobs_lost
                    ));
                }
                out.text(format!(
                    "{} {} with {} ({} not indexed before, {} indexed packs missing, {} marked for deletion); {} replaced",
                    if dry_run { "would index" } else { "indexed" },
                    count(r.packs, "pack"),
                    count(r.blobs, "blob"),
                    r.packs_added,
                    r.packs_dropped,
                    r.marked_kept,
                    count(r.index_files_replaced, "index file")
                ));
            }
            Ok(exit::OK)
        }
        RepairCommand::Packs { ids, dry_run } => super::verbs::repair_packs(s, out, &ids, dry_run),
        RepairCommand::Snapshots { ids, filter, forget, dry_run } => {
            let repo = Arc::new(s.open()?);
            let f = super::handlers::filter(&filter);
            let r = crate::commands::repair::snapshots(&repo, &ids, &f, forget, dry_run)?;
            if out.json {
                out.json_line(&r);
            } else {
                for x in &r.repaired {
                    out.text(format!(
                        "snapshot {}: {}",
                        x.original.short(),
                        match &x.repaired {
                            Some(n) => format!("repaired as {}", n.short()),
                            None if dry_run => "would be repaired".into(),
                            None => "cannot be repaired".into(),
                        }
                    ));
                    for c in &x.changes {
                        out.text(format!("  {c}"));
                    }
                }
                out.text(format!(
                    "{} checked, {} damaged{}",
                    count(r.snapshots_checked, "snapshot"),
                    r.repaired.len(),
                    if r.originals_removed > 0 {
                        format!(", {} removed", count(r.originals_removed, "original"))
                    } else {
                        String::new()
                    }
                ));
            }
            Ok(exit::OK)
        }
    }
}

pub fn unlock(s: &Settings, out: Out, a: UnlockArgs) -> Result<u8> {
    let n = crate::commands::unlock::run(&s.open()?, a.remove_all)?;
    out.text(format!("removed {}", count(n, "lock")));
    Ok(exit::OK)
}

fn repair_config(s: &Settings, out: Out, chunker_params: Option<&str>, dry_run: bool) -> Result<u8> {
    if let crate::backend::Location::Local(p) = &s.location {
        // (the local backend would create a missing directory)
        if std::fs::symlink_metadata(p).is_err() {
            return Err(Error::new(crate::error::Kind::NoRepository, format!("no repository at {}", s.location))
                .object(&s.location)
                .hint("check -r/--repo and ARCA_REPOSITORY"));
        }
    }
    let backend = s.backend()?;
    let chunker =
        chunker_params.map(|c| super::handlers::init_options(Some(c), None).map(|o| o.chunker)).transpose()?;
    let pw = s.read_password(false)?;
    let opts = crate::repo::RepairConfigOptions { chunker, dry_run };
    let r = crate::commands::repair::config(backend, &pw, &opts)?;
    if out.json {
        out.json_line(&r);
        return Ok(exit::OK);
    }
    if r.was == "intact" {
        out.text(format!("the config of {} is intact (it opens with this password): nothing to repair", s.location));
        return Ok(exit::OK);
    }
    let verb = if r.written { "rebuilt" } else { "would rebuild" };
    out.text(format!(
        "{verb} the {} config of {}: format version {}, chunker {}/{}/{}, pack size {}, repository id {}",
        r.was,
        s.location,
        r.version,
        r.chunker.min,
        r.chunker.avg,
        r.chunker.max,
        r.pack_size,
        r.id.short()
    ));
    for p in &r.proved {
        out.text(format!("  proved: {p}"));
    }
    for n in &r.notes {
        out.text(format!("  note: {n}"));
    }
    if r.written {
        out.text("run `arca check --read-data` next to verify every pack against it");
    }
    Ok(exit::OK)
}
