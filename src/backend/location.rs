//! Where a repository lives: a local path or `SERVICE:ROOT`.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Memory,
}

impl Location {
    /// `/path`, `./path`, `local:/path`, `memory:`. Other `SERVICE:` prefixes are refused
    /// with the list of what this build supports.
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::usage("empty repository location"));
        }
        if let Some(rest) = s.strip_prefix("local:") {
            return Ok(Location::Local(PathBuf::from(rest)));
        }
        if s == "memory:" || s.starts_with("memory:") {
            return Ok(Location::Memory);
        }
        if let Some((scheme, _)) = s.split_once(':') {
            let looks_like_scheme = !scheme.is_empty()
                && !scheme.contains('/')
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if looks_like_scheme && scheme.len() > 1 {
                return Err(Error::usage(format!("repository service {scheme:?} is not supported by this build"))
                    .hint("supported: a local path, local:PATH, memory:"));
            }
        }
        Ok(Location::Local(PathBuf::from(s)))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Memory => f.write_str("memory:"),
        }
    }
}
