//! Snapshot selectors: an id or unique id prefix, `latest`, `latest@TIME` (the newest
//! snapshot at or before TIME), narrowed by host, tag and path filters; `SNAPSHOT[:PATH]`
//! specs ([`SnapshotPath`]) and the directory a path names in a snapshot ([`resolve_dir`]).

use chrono::{DateTime, FixedOffset, Local, NaiveDate, NaiveDateTime, TimeZone};

use crate::error::{Error, Kind, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::Repository;

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub hosts: Vec<String>,
    /// Each entry is a comma-separated set of tags that must all be present; any entry may match.
    pub tags: Vec<String>,
    pub paths: Vec<String>,
}

impl Filter {
    pub fn matches(&self, s: &Snapshot) -> bool {
        (self.hosts.is_empty() || self.hosts.contains(&s.hostname))
            && (self.tags.is_empty()
                || self.tags.iter().any(|set| {
                    // `--tag ''` selects snapshots without tags, as in restic
                    if set.trim().is_empty() {
                        s.tags.is_empty()
                    } else {
                        set.split(',').all(|t| t.is_empty() || s.tags.iter().any(|x| x == t))
                    }
                }))
            && (self.paths.is_empty()
                || self.paths.iter().all(|p| s.paths.iter().any(|x| x == p.trim_end_matches('/'))))
    }
}

/// `SNAPSHOT[:PATH]`, as `restore`, `cat tree` and the other commands that take a directory
/// of a snapshot read it: the selector, and the path after the first `:`. A point-in-time
/// selector holds colons itself (`latest@2026-11-01 12:00:00`), so for one the path starts at
/// the first `:/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPath<'a> {
    pub snapshot: &'a str,
    /// `None` when no path was given, or it names the root (`/`, empty).
    pub path: Option<&'a str>,
}

impl<'a> SnapshotPath<'a> {
    pub fn parse(spec: &'a str) -> SnapshotPath<'a> {
        let (snapshot, path) = if spec.starts_with("latest@") {
            match spec.find(":/") {
                Some(i) => (&spec[..i], Some(&spec[i + 1..])),
                None => (spec, None),
            }
        } else {
            match spec.split_once(':') {
                Some((s, p)) => (s, Some(p)),
                None => (spec, None),
            }
        };
        SnapshotPath { snapshot, path: path.filter(|p| !p.trim_matches('/').is_empty()) }
    }
}

/// The absolute path in `snap` that the `PATH` of `SNAPSHOT:PATH` names. Paths in a snapshot
/// are absolute (`/home/me/work`); an absolute `path` is taken as it is. A relative one is
/// resolved as a user means it: against the current directory (`cd /home/me && arca restore
/// latest:work/notes`), then against each of the snapshot's sources and their parents
/// (`latest:notes` for a snapshot of `/home/me/work`). Exactly one of these that is in the
/// snapshot is the answer; none, or several, is an error that explains and names the
/// snapshot's sources.
pub fn absolute_in(repo: &Repository, snap: &Snapshot, id: &SnapshotId, path: &str) -> Result<String> {
    if path.starts_with('/') {
        return Ok(path.to_string());
    }
    let mut bases: Vec<String> = vec![];
    if let Ok(cwd) = std::env::current_dir() {
        bases.push(cwd.to_string_lossy().into_owned());
    }
    for src in &snap.paths {
        bases.push(src.clone());
        if let Some(parent) = std::path::Path::new(src).parent() {
            bases.push(parent.to_string_lossy().into_owned());
        }
    }
    let mut found: Vec<String> = vec![];
    for base in &bases {
        let Some(candidate) = join_lexically(base, path) else { continue };
        if found.contains(&candidate) {
            continue;
        }
        match repo.find_path(&snap.tree, &candidate) {
            Ok(Some(_)) => found.push(candidate),
            Ok(None) => {}
            Err(e) if e.kind == Kind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let sources = snap.paths.join(", ");
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::new(
            Kind::NotFound,
            format!("{path} is not in snapshot {}, from here nor below its sources ({sources})", id.short()),
        )
        .hint(format!(
            "paths in a snapshot are absolute: give one, e.g. {}:{}/…, or list it with `arca ls {}`",
            id.short(),
            snap.paths.first().map(String::as_str).unwrap_or(""),
            id.short()
        ))),
        _ => Err(Error::usage(format!("{path} names several paths in snapshot {}: {}", id.short(), found.join(", ")))
            .hint("give the absolute path")),
    }
}

/// `base/rel` with `.` and `..` taken out (lexically, as in the snapshot, where nothing is a
/// symlink to follow); `None` when `..` would climb above the root.
fn join_lexically(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = vec![];
    for c in base.split('/').chain(rel.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// The tree of the directory at `path` in `snapshot`'s tree `root` (the root itself for
/// `None`). A path that is not there, or is not a directory, is NotFound, naming the path and
/// the snapshot.
pub fn resolve_dir(
    repo: &Repository,
    root: &crate::id::TreeId,
    path: Option<&str>,
    snapshot: &SnapshotId,
) -> Result<crate::id::TreeId> {
    let Some(path) = path else { return Ok(*root) };
    let not_a_dir =
        || Error::new(Kind::NotFound, format!("{path} is not a directory in snapshot {}", snapshot.short()));
    match repo.find_path(root, path) {
        Ok(None) => Ok(*root),
        Ok(Some(n)) if n.kind == crate::format::tree::NodeKind::Dir => {
            n.subtree.ok_or_else(|| Error::corrupt(format!("{path}: directory without subtree")))
        }
        Ok(Some(_)) => Err(not_a_dir()),
        Err(e) if e.kind == Kind::NotFound => {
            Err(Error::new(Kind::NotFound, format!("{path} is not in snapshot {}", snapshot.short())))
        }
        Err(e) => Err(e),
    }
}

/// Parse a user-given time: RFC 3339, `YYYY-MM-DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM[:SS]` or
/// `YYYY-MM-DD` (local time unless an offset is given).
pub fn parse_time(s: &str) -> Result<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return local(n, s);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(n) = d.and_hms_opt(23, 59, 59) {
            return local(n, s);
        }
    }
    Err(Error::usage(format!("cannot parse time {s:?}"))
        .hint("use e.g. 2026-11-01, '2026-11-01 12:00' or 2026-11-01T12:00:00Z"))
}

fn local(n: NaiveDateTime, s: &str) -> Result<DateTime<FixedOffset>> {
    Local
        .from_local_datetime(&n)
        .earliest()
        .map(|t| t.fixed_offset())
        .ok_or_else(|| Error::usage(format!("time {s:?} does not exist locally")))
}

/// The snapshots named by `selectors` (each once, in the order given), or every snapshot
/// `filter` matches when there are none: what `tag`, `rewrite`, `copy` and `repair snapshots`
/// act on.
pub fn select_many(repo: &Repository, selectors: &[String], filter: &Filter) -> Result<Vec<(SnapshotId, Snapshot)>> {
    select_many_from(repo.snapshots()?, selectors, filter)
}

/// [`select_many`] among the snapshots `all` (oldest first), already listed.
pub fn select_many_from(
    all: Vec<(SnapshotId, Snapshot)>,
    selectors: &[String],
    filter: &Filter,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    if selectors.is_empty() {
        return Ok(all.into_iter().filter(|(_, s)| filter.matches(s)).collect());
    }
    let mut out: Vec<(SnapshotId, Snapshot)> = vec![];
    for sel in selectors {
        let (id, s) = select_from(all.clone(), sel, filter)?;
        if !out.iter().any(|(i, _)| *i == id) {
            out.push((id, s));
        }
    }
    Ok(out)
}

/// Resolve one selector to a snapshot.
pub fn select(repo: &Repository, selector: &str, filter: &Filter) -> Result<(SnapshotId, Snapshot)> {
    let all = repo.snapshots()?;
    select_from(all, selector, filter)
}

pub fn select_from(
    all: Vec<(SnapshotId, Snapshot)>,
    selector: &str,
    filter: &Filter,
) -> Result<(SnapshotId, Snapshot)> {
    let mut candidates: Vec<_> = all.into_iter().filter(|(_, s)| filter.matches(s)).collect();
    if let Some(rest) = selector.strip_prefix("latest") {
        let before = match rest.strip_prefix('@') {
            Some(t) => Some(parse_time(t)?),
            None if rest.is_empty() => None,
            None => return Err(Error::usage(format!("invalid snapshot selector {selector:?}"))),
        };
        if let Some(b) = before {
            candidates.retain(|(_, s)| s.timestamp().is_some_and(|t| t <= b));
        }
        // snapshots() returns oldest first
        return candidates.pop().ok_or_else(|| {
            Error::new(Kind::NotFound, format!("no snapshot matches {selector:?}"))
                .hint("list them with `arca snapshots`")
        });
    }
    let prefix = selector.to_ascii_lowercase();
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::usage(format!("invalid snapshot selector {selector:?}"))
            .hint("use an id, an id prefix, latest or latest@TIME"));
    }
    let mut m: Vec<_> = candidates.into_iter().filter(|(id, _)| id.to_hex().starts_with(&prefix)).collect();
    match m.len() {
        1 => Ok(m.remove(0)),
        0 => {
            Err(Error::new(Kind::NotFound, format!("no snapshot {selector:?}")).hint("list them with `arca snapshots`"))
        }
        n => Err(Error::usage(format!("snapshot prefix {selector:?} matches {n} snapshots; give more digits"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{SnapshotId, TreeId};

    fn snap(time: &str, host: &str, tags: &[&str]) -> Snapshot {
        Snapshot {
            time: time.into(),
            tree: TreeId::default(),
            paths: vec!["/a".into()],
            hostname: host.into(),
            username: "u".into(),
            uid: 0,
            gid: 0,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            parent: None,
            excludes: vec![],
            program_version: "t".into(),
            summary: None,
            original: None,
            change_list: None,
        }
    }

    #[test]
    fn snapshot_paths_split_at_the_first_colon_or_after_a_point_in_time() {
        let p = |s| {
            let sp = SnapshotPath::parse(s);
            (sp.snapshot, sp.path)
        };
        assert_eq!(p("latest"), ("latest", None));
        assert_eq!(p("latest:/home/me"), ("latest", Some("/home/me")));
        assert_eq!(p("3fa9c1d2:/"), ("3fa9c1d2", None));
        assert_eq!(p("3fa9c1d2:"), ("3fa9c1d2", None));
        assert_eq!(p("latest@2026-11-01 12:00:00"), ("latest@2026-11-01 12:00:00", None));
        assert_eq!(p("latest@2026-11-01 12:00:00:/srv/a:b"), ("latest@2026-11-01 12:00:00", Some("/srv/a:b")));
        assert_eq!(p("latest@2026-11-01T12:00:00Z:/p"), ("latest@2026-11-01T12:00:00Z", Some("/p")));
        assert_eq!(p("abc:/x:y"), ("abc", Some("/x:y")));
    }

    #[test]
    fn latest_at_time_and_prefix() {
        let all = vec![
            (SnapshotId([1; 32]), snap("2026-11-01T10:00:00+00:00", "h1", &["daily"])),
            (SnapshotId([2; 32]), snap("2026-11-02T10:00:00+00:00", "h2", &[])),
            (SnapshotId([3; 32]), snap("2026-11-03T10:00:00+00:00", "h1", &["daily", "x"])),
        ];
        let f = Filter::default();
        assert_eq!(select_from(all.clone(), "latest", &f).unwrap().0, SnapshotId([3; 32]));
        assert_eq!(select_from(all.clone(), "latest@2026-11-02T12:00:00Z", &f).unwrap().0, SnapshotId([2; 32]));
        assert_eq!(select_from(all.clone(), "latest@2026-11-02T10:00:00Z", &f).unwrap().0, SnapshotId([2; 32]));
        assert!(select_from(all.clone(), "latest@2026-10-01T00:00:00Z", &f).is_err());
        assert_eq!(select_from(all.clone(), "0202", &f).unwrap().0, SnapshotId([2; 32]));
        let h1 = Filter { hosts: vec!["h1".into()], ..Default::default() };
        assert_eq!(select_from(all.clone(), "latest@2026-11-02T12:00:00Z", &h1).unwrap().0, SnapshotId([1; 32]));
        let tx = Filter { tags: vec!["daily,x".into()], ..Default::default() };
        assert_eq!(select_from(all.clone(), "latest", &tx).unwrap().0, SnapshotId([3; 32]));
        assert!(select_from(all, "zz", &f).is_err());
    }

    #[test]
    fn relative_paths_join_lexically_and_never_climb_above_the_root() {
        assert_eq!(join_lexically("/home/me", "work/notes").as_deref(), Some("/home/me/work/notes"));
        assert_eq!(join_lexically("/home/me", "./work/../docs/").as_deref(), Some("/home/me/docs"));
        assert_eq!(join_lexically("/home/me", "../../etc").as_deref(), Some("/etc"));
        assert_eq!(join_lexically("/home", "../../etc"), None);
    }
}
