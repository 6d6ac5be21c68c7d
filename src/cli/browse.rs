//! Browsing history: stats, find, diff, dump (mount lives in `crate::mount`).

use super::browse_args::{DiffArgs, DumpArgs, FindArgs, StatsArgs};
use super::exit;
use super::handlers::filter;
use super::output::Out;
use super::render::{self, Zone};
use super::settings::Settings;
use crate::commands::{self, stats::Mode};
use crate::error::{Error, Result};

pub fn stats(s: &Settings, out: Out, a: StatsArgs) -> Result<u8> {
    let mode: Mode = a.mode.parse()?;
    let repo = s.open()?;
    let st = commands::stats::run(&repo, &a.ids, &filter(&a.filter), mode)?;
    if out.json {
        out.json_line(&st);
        return Ok(exit::OK);
    }
    out.show(&render::stats(&a.mode, mode, &st));
    Ok(exit::OK)
}

pub fn diff(s: &Settings, out: Out, a: DiffArgs) -> Result<u8> {
    let repo = s.open()?;
    let cmp = commands::diff::compare(&repo, &a.old, &a.new)?;
    let (old_id, new_side) = (cmp.old_id, cmp.new_side.clone());
    if !out.json {
        out.show(&render::diff_header(&old_id, &new_side));
    }
    let mut emit = |c: commands::diff::Change| {
        if out.json {
            out.json_line(
                &serde_json::json!({"message_type": "change", "path": c.path, "modifier": c.modifier.to_string()}),
            );
        } else {
            out.show_line(&render::diff_change(&c));
        }
    };
    let st = cmp.run(&repo, a.metadata, &mut emit)?;
    if out.json {
        let mut v = serde_json::to_value(&st).unwrap_or_default();
        v["message_type"] = "statistics".into();
        v["source_snapshot"] = old_id.to_hex().into();
        v["target_snapshot"] = match new_side {
            commands::diff::NewSide::Snapshot(id) => id.to_hex(),
            commands::diff::NewSide::Live(path) => path,
        }
        .into();
        out.json_line(&v);
        return Ok(exit::OK);
    }
    out.show(&render::diff_stats(&st));
    Ok(exit::OK)
}

pub fn dump(s: &Settings, out: Out, a: DumpArgs) -> Result<u8> {
    use std::io::Write;
    let format: commands::dump::Archive = a.archive.parse()?;
    let repo = s.open()?;
    let to_terminal = a.target.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut sink: Box<dyn Write> = match &a.target {
        Some(t) => Box::new(std::io::BufWriter::new(std::fs::File::create(t).map_err(|e| Error::io(t.display(), e))?)),
        None => Box::new(std::io::BufWriter::with_capacity(1 << 20, super::output::Stdout(std::io::stdout().lock()))),
    };
    let st = commands::dump::run(&repo, &a.snapshot, &filter(&a.filter), &a.path, format, &mut sink, to_terminal)?;
    for p in &st.skipped {
        out.warning("dump", &format!("{p}: a {} archive has no place for this kind of file; left out", a.archive));
    }
    sink.flush().map_err(|e| Error::io(a.target.as_ref().map_or("stdout".into(), |t| t.display().to_string()), e))?;
    Ok(exit::OK)
}

pub fn find(s: &Settings, out: Out, a: FindArgs) -> Result<u8> {
    if a.blob || a.tree || a.pack {
        return super::verbs::find_objects(s, out, a);
    }
    if a.show_pack_id {
        return Err(Error::usage("--show-pack-id shows where blobs are stored: it needs --blob or --tree")
            .hint("e.g. `arca find --blob 3fa9c1d2 --show-pack-id`"));
    }
    let time = |t: &Option<String>| -> Result<Option<i64>> {
        t.as_deref().map(|t| commands::parse_time(t).map(|d| d.timestamp_nanos_opt().unwrap_or(i64::MAX))).transpose()
    };
    let opts = commands::find::FindOptions {
        patterns: a.patterns.clone(),
        ignore_case: a.ignore_case,
        oldest: time(&a.oldest)?,
        newest: time(&a.newest)?,
        snapshots: a.snapshots.clone(),
        filter: commands::Filter { hosts: a.hosts.clone(), tags: a.tags.clone(), paths: vec![] },
        path: a.path.clone(),
    };
    let repo = s.open()?;
    let mut found = commands::find::run(&repo, &opts, &|m| out.note(m))?;
    if a.reverse {
        // restic's --reverse: oldest snapshot first
        match &mut found {
            commands::find::Found::Matches(m) => m.reverse(),
            commands::find::Found::History(h) => {
                h.versions.reverse();
                h.versions.iter_mut().for_each(|v| v.snapshots.reverse());
            }
        }
    }
    if out.json {
        out.json_line(&found);
        return Ok(exit::OK);
    }
    match found {
        commands::find::Found::Matches(m) => out.show(&render::find_matches(&m, a.long, a.human_readable, Zone::Local)),
        commands::find::Found::History(h) => out.show(&render::find_history(&h, Zone::Local)),
    }
    Ok(exit::OK)
}
