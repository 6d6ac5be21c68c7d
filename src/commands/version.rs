//! `arca version [--json]`: this build's version, the platform it was built for and the
//! repository format versions it writes and reads. Needs no repository.

use serde::Serialize;

use crate::format::{FORMAT_VERSION, READ_VERSIONS};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VersionReport {
    pub version: &'static str,
    /// The operating system and architecture this build targets, under restic's names
    /// (`go_os`, `go_arch`), so that a script reading restic's `version --json` reads arca's.
    #[serde(rename = "go_os")]
    pub os: &'static str,
    #[serde(rename = "go_arch")]
    pub arch: &'static str,
    /// The format version `init` creates.
    pub format_version: u8,
    /// The format versions this build reads (and writes into, keeping their version).
    pub read_format_versions: Vec<u8>,
}

pub fn run() -> VersionReport {
    VersionReport {
        version: env!("CARGO_PKG_VERSION"),
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        format_version: FORMAT_VERSION,
        read_format_versions: READ_VERSIONS.collect(),
    }
}
