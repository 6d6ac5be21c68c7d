//! The handlers of the verbs a restic user expects beside arca's own (issue 21): `version`,
//! `list`, `migrate`, `cache`, `repair packs` and `find --blob/--tree/--pack`: arguments in,
//! the command run, its report rendered (text through `render`, or JSON).

use super::args::{ListArgs, MigrateArgs};
use super::exit;
use super::output::Out;
use super::render;
use super::settings::Settings;
use crate::commands;
use crate::commands::list::ListWhat;
use crate::error::Result;

pub fn version(out: Out) -> Result<u8> {
    let report = commands::version::run();
    if out.json {
        let mut v = serde_json::to_value(&report).unwrap_or_default();
        v["message_type"] = "version".into();
        out.json_line(&v);
    } else {
        out.show(&render::version(&report));
    }
    Ok(exit::OK)
}

pub fn list(s: &Settings, out: Out, a: ListArgs) -> Result<u8> {
    let what = ListWhat::parse(&a.what)?;
    let repo = s.open()?;
    let listed = commands::list::run(&repo, what)?;
    if out.json {
        out.json_line(&listed);
    } else {
        out.show(&render::list(&listed));
    }
    Ok(exit::OK)
}

pub fn migrate(s: &Settings, out: Out, a: MigrateArgs) -> Result<u8> {
    let repo = s.open()?;
    let Some(name) = a.name else {
        let list = commands::migrate::list(&repo);
        if out.json {
            out.json_line(&list);
        } else {
            out.show(&render::migrations(&list, repo.config().version));
        }
        return Ok(exit::OK);
    };
    let log = |m: String| out.note(m);
    let report = commands::migrate::run(repo, &name, a.dry_run, &log)?;
    if out.json {
        out.json_line(&report);
    } else {
        out.show(&render::migrate(&report));
    }
    Ok(if report.check.as_ref().is_none_or(|c| c.ok()) { exit::OK } else { exit::FATAL })
}

pub fn repair_packs(s: &Settings, out: Out, ids: &[String], dry_run: bool) -> Result<u8> {
    let note = |m: String| out.note(m);
    let report = commands::repair_packs::run(s.open()?, ids, dry_run, &note)?;
    if out.json {
        out.json_line(&report);
    } else {
        out.show(&render::repair_packs(&report));
    }
    Ok(exit::OK)
}

pub fn find_objects(s: &Settings, out: Out, a: super::browse_args::FindArgs) -> Result<u8> {
    use commands::find_objects::ObjectQuery;
    let what = if a.blob {
        ObjectQuery::Blob
    } else if a.tree {
        ObjectQuery::Tree
    } else {
        ObjectQuery::Pack
    };
    let filter = commands::Filter { hosts: a.hosts.clone(), tags: a.tags.clone(), paths: vec![] };
    let repo = s.open()?;
    let mut report = commands::find_objects::run(&repo, what, &a.patterns, &a.snapshots, &filter)?;
    if a.show_pack_id {
        // the pack each found blob or tree is stored in (--pack has them already)
        let want: std::collections::HashSet<String> =
            report.found.iter().filter(|f| f.pack.is_none()).map(|f| f.id.clone()).collect();
        let index = repo.index()?;
        let packs: std::collections::HashMap<String, String> = index
            .iter()
            .filter_map(|l| {
                let id = l.entry.id.to_hex();
                want.contains(&id).then(|| (id, l.pack.to_hex()))
            })
            .collect();
        for f in report.found.iter_mut().filter(|f| f.pack.is_none()) {
            f.pack = packs.get(&f.id).cloned();
        }
    }
    if a.reverse {
        // oldest snapshot first; within a snapshot, the walk's order
        report.found = report.found.chunk_by(|x, y| x.snapshot == y.snapshot).rev().flatten().cloned().collect();
    }
    if out.json {
        // restic's one JSON document: the array of uses
        out.json_line(&report.found);
        out.show(&render::find_objects_not_found(&report));
    } else {
        out.show(&render::find_objects(&report, render::Zone::Local));
    }
    Ok(exit::OK)
}

pub fn cache(s: &Settings, out: Out, a: super::args::CacheArgs) -> Result<u8> {
    let root = s.cache_root.clone().ok_or_else(|| {
        crate::error::Error::usage("no cache directory: --no-cache is set, or this system has no cache directory")
            .hint("name one with --cache-dir or ARCA_CACHE_DIR")
    })?;
    let opts = commands::cache::CacheOptions { cleanup: a.cleanup, max_age_days: a.max_age, with_size: !a.no_size };
    let report = commands::cache::run(&root, &opts)?;
    if out.json {
        out.json_line(&report);
    } else {
        out.show(&render::cache(&report));
    }
    Ok(exit::OK)
}
