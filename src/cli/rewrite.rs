//! `arca rewrite`: options in, `maintenance::rewrite` out, the report as text or JSON.

use std::sync::Arc;

use super::args::RewriteArgs;
use super::exit;
use super::output::{count, Out};
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::maintenance::rewrite::RewriteOptions;
use crate::patterns::{from_flags_and_files, Patterns};

pub fn rewrite(s: &Settings, out: Out, a: RewriteArgs) -> Result<u8> {
    let (excludes, pats) = from_flags_and_files(&a.exclude, &a.iexclude, &a.exclude_file, &a.iexclude_file)?;
    let includes = if a.include.is_empty() && a.iinclude.is_empty() {
        None
    } else {
        Some(Patterns::new(&a.include, &a.iinclude)?)
    };
    if pats.is_empty() && includes.is_none() && a.new_host.is_none() && a.new_time.is_none() {
        return Err(Error::usage("nothing to rewrite: give --exclude, --include, --new-host or --new-time"));
    }
    let new_time = match &a.new_time {
        Some(t) => Some(crate::commands::parse_time(t)?.to_rfc3339_opts(chrono::SecondsFormat::Nanos, false)),
        None => None,
    };
    let opts = RewriteOptions {
        excludes,
        includes,
        new_host: a.new_host.clone(),
        new_time,
        forget: a.forget,
        dry_run: a.dry_run,
    };
    let repo = Arc::new(s.open()?);
    let r = crate::commands::rewrite::run(&repo, &a.ids, &super::handlers::filter(&a.filter), &opts)?;
    if out.json {
        out.json_line(&r);
        return Ok(exit::OK);
    }
    for x in &r.rewritten {
        let what = match &x.rewritten {
            Some(n) => format!("rewritten as {}", n.short()),
            None => "would be rewritten".into(),
        };
        out.text(format!("snapshot {}: {what}, {} removed", x.original.short(), count(x.removed_count, "path")));
        for p in &x.removed {
            out.entry(format!("  - {p}"));
        }
    }
    out.text(format!(
        "{} checked, {} {}{}",
        count(r.snapshots_checked, "snapshot"),
        r.rewritten.len(),
        if a.dry_run { "would be rewritten" } else { "rewritten" },
        if r.originals_removed > 0 {
            format!(", {} removed", count(r.originals_removed, "original"))
        } else {
            String::new()
        }
    ));
    Ok(exit::OK)
}
