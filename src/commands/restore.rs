//! `arca restore SNAPSHOT[:PATH] --target DIR`.

use super::{select, Filter};
use crate::error::{Error, Kind, Result};
use crate::format::tree::NodeKind;
use crate::repo::Repository;
use crate::restorer::{self, RestoreOptions, RestoreProgress, RestoreSummary};

pub fn run(
    repo: &Repository,
    selector: &str,
    filter: &Filter,
    opts: &RestoreOptions,
    progress: &RestoreProgress,
    warn: &(dyn Fn(String) + Sync),
) -> Result<(String, RestoreSummary)> {
    let (sel, sub) = match selector.split_once(':') {
        Some((s, p)) if !selector.starts_with("latest@") || p.starts_with('/') => (s, Some(p)),
        _ => (selector, None),
    };
    // `latest@2026-11-01 12:00:00:/path` style: split on ":/" for point-in-time selectors.
    let (sel, sub) = match selector.find(":/") {
        Some(i) if sel.starts_with("latest@") => (&selector[..i], Some(&selector[i + 1..])),
        _ => (sel, sub),
    };
    let (id, snap) = select(repo, sel, filter)?;
    let _lock = repo.lock_read("restore")?;
    let (tree, root_path) = match sub.filter(|s| !s.trim_matches('/').is_empty()) {
        None => (snap.tree, std::path::PathBuf::from("/")),
        Some(p) => match repo.find_path(&snap.tree, p)? {
            Some(n) if n.kind == NodeKind::Dir => {
                (n.subtree.ok_or_else(|| Error::corrupt("directory without subtree"))?, std::path::PathBuf::from(p))
            }
            _ => return Err(Error::new(Kind::NotFound, format!("{p} is not a directory in snapshot {}", id.short()))),
        },
    };
    let summary = restorer::restore(repo, &tree, &root_path, opts, progress, warn)?;
    Ok((id.to_hex(), summary))
}
