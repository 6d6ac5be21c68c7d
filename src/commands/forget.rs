//! `arca forget`: decide per group of snapshots which to keep (the pure policy in
//! `maintenance::policy`), then delete the snapshot files of the others. Only snapshot files
//! are deleted; `prune` removes the data nothing uses any more.

use serde::Serialize;

use super::snapshots::SnapshotInfo;
use super::Filter;
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::maintenance::policy::{self, Counters, Item, Policy};
use crate::repo::Repository;

/// Which snapshot fields form a group (`--group-by host,paths,tags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupBy {
    pub host: bool,
    pub paths: bool,
    pub tags: bool,
}

impl GroupBy {
    pub fn parse(s: &str) -> Result<GroupBy> {
        let mut g = GroupBy { host: false, paths: false, tags: false };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "host" | "hostname" => g.host = true,
                "paths" | "path" => g.paths = true,
                "tags" | "tag" => g.tags = true,
                other => {
                    return Err(Error::usage(format!("--group-by: unknown field {other:?}"))
                        .hint("use a comma-separated list of host, paths and tags, or '' for one group"))
                }
            }
        }
        Ok(g)
    }

    pub fn key(&self, s: &Snapshot) -> (Option<String>, Option<Vec<String>>, Option<Vec<String>>) {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        (
            self.host.then(|| s.hostname.clone()),
            self.paths.then(|| sorted(&s.paths)),
            self.tags.then(|| sorted(&s.tags)),
        )
    }
}

/// Why a snapshot is kept (restic's `KeepReason` shape).
#[derive(Debug, Clone, Serialize)]
pub struct KeepReason {
    pub snapshot: SnapshotInfo,
    pub matches: Vec<String>,
    pub counters: Counters,
}

/// One group's decision (restic's `forget --json` shape).
#[derive(Debug, Clone, Serialize)]
pub struct ForgetGroup {
    pub host: Option<String>,
    pub paths: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub keep: Vec<SnapshotInfo>,
    pub remove: Vec<SnapshotInfo>,
    pub reasons: Vec<KeepReason>,
}

impl ForgetGroup {
    /// The group's key in words: `host h, paths [...], tags [...]`.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(h) = &self.host {
            parts.push(format!("host {h}"));
        }
        if let Some(p) = &self.paths {
            parts.push(format!("paths [{}]", p.join(", ")));
        }
        if let Some(t) = &self.tags {
            parts.push(format!("tags [{}]", t.join(", ")));
        }
        if parts.is_empty() {
            "the named snapshots".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Apply `policy` to every group of the snapshots `filter` selects. Groups come in the order
/// of their keys (host, paths, tags); within a group, newest first.
pub fn plan(repo: &Repository, filter: &Filter, group_by: GroupBy, policy: &Policy) -> Result<Vec<ForgetGroup>> {
    let snaps: Vec<(SnapshotId, Snapshot)> = repo.snapshots()?.into_iter().filter(|(_, s)| filter.matches(s)).collect();
    Ok(plan_groups(&snaps, group_by, policy, chrono::Local::now().fixed_offset()))
}

/// The pure part of [`plan`].
pub fn plan_groups(
    snaps: &[(SnapshotId, Snapshot)],
    group_by: GroupBy,
    policy: &Policy,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Vec<ForgetGroup> {
    let mut groups: std::collections::BTreeMap<_, Vec<usize>> = Default::default();
    for (i, (_, s)) in snaps.iter().enumerate() {
        groups.entry(group_by.key(s)).or_default().push(i);
    }
    let mut out = vec![];
    for ((host, paths, tags), members) in groups {
        let items: Vec<(usize, Item<'_>)> = members
            .iter()
            .filter_map(|&i| {
                let s = &snaps[i].1;
                s.timestamp().map(|time| (i, Item { time, tags: &s.tags }))
            })
            .collect();
        let list: Vec<Item<'_>> = items.iter().map(|(_, it)| Item { time: it.time, tags: it.tags }).collect();
        let mut g = ForgetGroup { host, paths, tags, keep: vec![], remove: vec![], reasons: vec![] };
        for d in policy::apply(policy, &list, now) {
            let (id, s) = &snaps[items[d.index].0];
            let info = SnapshotInfo::new(id, s);
            if d.keep {
                g.reasons.push(KeepReason { snapshot: info.clone(), matches: d.reasons, counters: d.counters });
                g.keep.push(info);
            } else {
                g.remove.push(info);
            }
        }
        out.push(g);
    }
    out
}

/// Explicitly named snapshots (narrowed by `filter`, which `latest` honours), removed without a
/// policy (one group).
pub fn plan_ids(repo: &Repository, ids: &[String], filter: &Filter) -> Result<Vec<ForgetGroup>> {
    let mut remove = vec![];
    for p in ids {
        let info = match super::select(repo, p, filter) {
            Ok((id, s)) => SnapshotInfo::new(&id, &s),
            // a damaged snapshot file is removed by its id (its content is unknown)
            Err(e) => match damaged_by_prefix(repo, p)? {
                Some(id) => SnapshotInfo::unreadable(&id),
                None => return Err(e),
            },
        };
        if !remove.iter().any(|r: &SnapshotInfo| r.id == info.id) {
            remove.push(info);
        }
    }
    Ok(vec![ForgetGroup { host: None, paths: None, tags: None, keep: vec![], remove, reasons: vec![] }])
}

/// The one damaged snapshot whose id starts with `prefix`.
fn damaged_by_prefix(repo: &Repository, prefix: &str) -> Result<Option<SnapshotId>> {
    let (_, damaged) = repo.snapshots_and_damaged()?;
    let mut hits = damaged.iter().filter(|(id, _)| !prefix.is_empty() && id.to_hex().starts_with(prefix));
    match (hits.next(), hits.next()) {
        (Some((id, _)), None) => Ok(Some(*id)),
        _ => Ok(None),
    }
}

/// Delete the snapshot files the plan removes; returns how many.
pub fn execute(repo: &Repository, groups: &[ForgetGroup]) -> Result<usize> {
    let mut n = 0;
    for g in groups {
        for s in &g.remove {
            repo.delete_snapshot(&s.id)?;
            n += 1;
        }
    }
    Ok(n)
}

/// What `arca forget` was asked: the snapshots by id, or a policy over the selected groups,
/// and whether to prune afterwards.
pub struct ForgetOptions<'a> {
    pub ids: &'a [String],
    pub filter: &'a Filter,
    pub group_by: GroupBy,
    pub policy: &'a Policy,
    /// Prune after forgetting, with these options.
    pub prune: Option<&'a crate::maintenance::prune::PruneOptions>,
    pub unsafe_allow_remove_all: bool,
}

/// A forget decided and locked for: its groups (to render before anything is deleted), then
/// [`Forget::execute`] and, with `--prune`, [`Forget::prune`] under the same lock.
pub struct Forget {
    pub groups: Vec<ForgetGroup>,
    lock: crate::repo::LockGuard,
}

/// Lock (shared; the maintenance lock with `--prune`, exclusive with `--instant-delete`) and
/// decide. Refuses a policy that would remove every snapshot of a group, unless allowed.
pub fn prepare(repo: &Repository, o: &ForgetOptions<'_>) -> Result<Forget> {
    use crate::repo::LockMode;
    check_request(o)?;
    let mode = match o.prune.map(|p| p.instant_delete) {
        Some(true) => LockMode::Exclusive,
        Some(false) => LockMode::Maintenance,
        None => LockMode::Shared,
    };
    let lock = repo.lock("forget", mode)?;
    let groups = if !o.ids.is_empty() {
        plan_ids(repo, o.ids, o.filter)?
    } else {
        let snaps: Vec<(SnapshotId, Snapshot)> =
            repo.snapshots()?.into_iter().filter(|(_, s)| o.filter.matches(s)).collect();
        plan_policy(&snaps, o, chrono::Local::now().fixed_offset())?
    };
    Ok(Forget { groups, lock })
}

/// Refuse a request that names no policy and no ids (unless it allows removing all and
/// names a filter), or both.
pub fn check_request(o: &ForgetOptions<'_>) -> Result<()> {
    if !o.ids.is_empty() && !o.policy.is_empty() {
        return Err(Error::usage("give either snapshot ids or a --keep-* policy, not both")
            .hint("forget the named snapshots, or apply the policy, in two runs"));
    }
    // restic 0.17: a forget that names no policy is a mistake, not a request to keep all;
    // --unsafe-allow-remove-all removes everything a filter selects, and never the whole
    // repository by accident (restic refuses it without a filter too)
    if o.ids.is_empty() && o.policy.is_empty() {
        if !o.unsafe_allow_remove_all {
            return Err(Error::usage("no policy was specified, no snapshots will be removed").hint(
                "give a policy (e.g. --keep-daily 7), snapshot ids, or --unsafe-allow-remove-all with --host, --tag or --path to remove every snapshot they select",
            ));
        }
        let f = o.filter;
        if f.hosts.is_empty() && f.tags.is_empty() && f.paths.is_empty() {
            return Err(Error::usage(
                "--unsafe-allow-remove-all is not allowed unless a snapshot filter option is specified",
            )
            .hint("name what to remove with --host, --tag or --path (with ARCA_HOST set, it is the --host filter)"));
        }
    }
    Ok(())
}

/// The policy part of [`prepare`] over `snaps` (the snapshots the filter selected, oldest
/// first), with its refusal of a plan that keeps nothing of a group: what `forget --dry-run`
/// shows, and what the server's forget preview answers without locking.
pub fn plan_policy(
    snaps: &[(SnapshotId, Snapshot)],
    o: &ForgetOptions<'_>,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Vec<ForgetGroup>> {
    let mut groups = plan_groups(snaps, o.group_by, o.policy, now);
    if o.policy.is_empty() {
        // --unsafe-allow-remove-all without a policy: every selected snapshot goes
        for g in &mut groups {
            g.remove.append(&mut g.keep);
            g.reasons.clear();
        }
    }
    if !o.unsafe_allow_remove_all {
        if let Some(g) = groups.iter().find(|g| g.keep.is_empty() && !g.remove.is_empty()) {
            return Err(Error::usage(format!(
                "refusing to remove every snapshot of a group ({}): the policy keeps none of its {}",
                g.describe(),
                g.remove.len()
            ))
            .hint("pass --unsafe-allow-remove-all if that is what you want"));
        }
    }
    Ok(groups)
}

impl Forget {
    /// Delete the snapshot files the plan removes; returns how many.
    pub fn execute(&self, repo: &Repository) -> Result<usize> {
        execute(repo, &self.groups)
    }

    /// Prune under the lock the forget holds.
    pub fn prune(
        &self,
        repo: &std::sync::Arc<Repository>,
        opts: &crate::maintenance::prune::PruneOptions,
        note: &dyn Fn(String),
    ) -> Result<crate::maintenance::prune::PruneStats> {
        crate::maintenance::prune::prune(repo, opts, Some(&self.lock), note)
    }
}
