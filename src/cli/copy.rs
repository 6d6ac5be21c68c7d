//! `arca copy`: open both repositories (each with its own password), then
//! `commands::copy::copy` (it locks, selects and copies); the report as text or JSON.

use std::sync::Arc;

use super::args::CopyArgs;
use super::exit;
use super::output::{bytes, count, Out};
use super::settings::Settings;
use crate::error::{Error, Result};

pub fn copy(s: &Settings, out: Out, a: CopyArgs) -> Result<u8> {
    let password = Settings::other_password;
    let (src_settings, dst_settings);
    let from_file = super::settings::repository_from_file(
        a.from_repository_file.as_deref(),
        a.from_repo.as_deref(),
        "--from-repo (or ARCA_FROM_REPOSITORY) and --from-repository-file (or ARCA_FROM_REPOSITORY_FILE)",
    )?;
    let from_repo = from_file.or_else(|| a.from_repo.clone());
    let (src, dst): (&Settings, &Settings) = match (&from_repo, &a.to_repo) {
        (Some(from), None) => {
            src_settings =
                s.other(from, password(&a.from_password_file, &a.from_password_command, "ARCA_FROM_PASSWORD"))?;
            (&src_settings, s)
        }
        (None, Some(to)) => {
            dst_settings = s.other(to, password(&a.to_password_file, &a.to_password_command, "ARCA_TO_PASSWORD"))?;
            (s, &dst_settings)
        }
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "copy takes one other repository: --from-repo (or --from-repository-file) or --to-repo",
            )
            .hint("unset ARCA_FROM_REPOSITORY and ARCA_FROM_REPOSITORY_FILE to copy --to-repo"))
        }
        (None, None) => return Err(Error::usage(
            "copy needs the other repository: --from-repo or --from-repository-file (into -r), or --to-repo (from -r)",
        )),
    };
    if src.location == dst.location {
        return Err(Error::usage(format!("copy from {} to itself", src.location)));
    }
    let src_repo = src.open()?;
    let dst_repo = Arc::new(dst.open()?);
    let f = super::handlers::filter(&a.filter);
    let r = super::progress::metered(out, "copy", |m| {
        crate::commands::copy::copy_metered(&src_repo, &dst_repo, &a.ids, &f, &|n| out.note(n), m)
    })?;
    if out.json {
        out.json_line(&r);
        return Ok(exit::OK);
    }
    for c in &r.copied {
        out.text(format!("snapshot {} copied to {} as {}", c.source.short(), dst.location, c.target.short()));
    }
    out.text(format!(
        "{} copied, {} already there; {} read, {}, {} added",
        count(r.copied.len(), "snapshot"),
        r.already_copied.len(),
        count(r.blobs_read, "blob"),
        count(r.data_blobs_added, "new data blob"),
        bytes(r.data_added)
    ));
    Ok(exit::OK)
}
