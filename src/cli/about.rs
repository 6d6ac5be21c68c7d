//! `arca options` and `arca features` (restic 0.17's verbs of the same names): what `-o`
//! takes per storage service, and what this build of arca was compiled with. Neither needs a
//! repository.

use serde::Serialize;

use super::exit;
use super::output::Out;
use crate::backend::KNOWN_OPTIONS;
use crate::error::Result;

#[derive(Serialize)]
struct OptionKey {
    service: &'static str,
    key: &'static str,
    help: &'static str,
}

pub fn options(out: Out) -> Result<u8> {
    let keys: Vec<OptionKey> = KNOWN_OPTIONS
        .iter()
        .flat_map(|&(service, keys)| keys.iter().map(move |&(key, help)| OptionKey { service, key, help }))
        .collect();
    if out.json {
        out.json_line(&keys);
        return Ok(exit::OK);
    }
    out.text("Storage options, given as -o SERVICE.KEY=VALUE (SERVICE: fs for a local directory):");
    let width = keys.iter().map(|k| k.service.len() + k.key.len() + 1).max().unwrap_or(0);
    for k in &keys {
        out.text(format!("  {:width$}  {}", format!("{}.{}", k.service, k.key), k.help));
    }
    out.text("Any other key is passed to OpenDAL's configuration of that service as it is.");
    Ok(exit::OK)
}

#[derive(Serialize)]
struct Feature {
    name: &'static str,
    enabled: bool,
    description: &'static str,
}

/// arca has no run-time feature flags (restic's `RESTIC_FEATURES`); what varies between builds
/// is the Cargo features, listed here as this binary has them.
pub fn features(out: Out) -> Result<u8> {
    let list = [
        Feature {
            name: "remote",
            enabled: cfg!(feature = "remote"),
            description: "network storage: s3, sftp, azblob, gcs, b2, webdav and other OpenDAL services",
        },
        Feature {
            name: "testing",
            enabled: cfg!(feature = "testing"),
            description: "test helpers (an in-memory TestRepo, fault injection); off in release builds",
        },
    ];
    if out.json {
        out.json_line(&list);
        return Ok(exit::OK);
    }
    out.text("Features of this build (Cargo features; arca has no run-time feature flags):");
    for f in &list {
        out.text(format!("  {:8} {:3}  {}", f.name, if f.enabled { "on" } else { "off" }, f.description));
    }
    Ok(exit::OK)
}
