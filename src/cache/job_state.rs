//! Where the jobs a profile runs by itself keep their state: `<cache root>/jobs/<profile key>/`
//! (the last run of each job, the daemon's schedule state, the "already running" locks).
//!
//! The state is per profile set, not per repository: `arca status` reads it before any
//! repository is opened, and a profile names its repository. The directories are checked as
//! the repository caches are (`private_dir`): no symlinked component, owned by the user, not
//! writable by group or others; made with mode 0700. What is read back from them is hostile
//! input to its readers (bounded, strictly parsed, opened without following symlinks) and
//! decides only when a job runs next and what `status` shows, never what is written to a
//! repository.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The directory under the cache root that holds every profile set's job state.
pub const JOBS_DIR: &str = "jobs";
/// Longest readable part of a profile key; longer names are cut and carry the hash.
const MAX_READABLE: usize = 48;

/// The file-name-safe key of a set of profiles (`-P a -P b` → `a+b`): the names joined by `+`,
/// each character outside `[A-Za-z0-9._-]` (and a leading `.`) replaced by `_`. When anything was replaced or cut (a
/// profile given as a path, a long name), 8 hex digits of the BLAKE3 hash of the names follow,
/// so two different sets never share a key. No profile at all is `default`.
pub fn profile_key(profiles: &[String]) -> String {
    if profiles.is_empty() {
        return "default".to_string();
    }
    let joined = profiles.join("+");
    let clean = |n: &String| -> String {
        let keep = |(i, c): (usize, char)| c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || (c == '.' && i > 0);
        n.chars().enumerate().map(|ic| if keep(ic) { ic.1 } else { '_' }).collect()
    };
    let names: Vec<String> = profiles.iter().map(clean).collect();
    let mut exact = names.iter().zip(profiles).all(|(c, n)| c == n && !n.is_empty() && !n.starts_with('.'));
    let mut readable = names.join("+");
    exact &= readable != "default";
    if readable.len() > MAX_READABLE {
        readable.truncate(MAX_READABLE);
        exact = false;
    }
    if exact {
        readable
    } else {
        let hash = blake3::hash(joined.as_bytes());
        format!("{readable}-{}", &hash.to_hex()[..8])
    }
}

/// The state directory of a profile set under `cache_root` (made, mode 0700, and checked as
/// private to the user, with every directory above it).
pub fn profile_dir(cache_root: &Path, profiles: &[String]) -> Result<PathBuf> {
    let jobs = cache_root.join(JOBS_DIR);
    let dir = jobs.join(profile_key(profiles));
    super::private_dir::make(cache_root)
        .and_then(|()| super::private_dir::make(&jobs))
        .and_then(|()| super::private_dir::make(&dir))
        .map_err(|why| {
            Error::new(crate::error::Kind::Io, format!("job state directory: {why}"))
                .hint("give --cache-dir a directory only you can write, or fix the permissions named")
        })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(names: &[&str]) -> String {
        profile_key(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn plain_names_stay_readable_and_odd_ones_carry_a_hash() {
        assert_eq!(key(&[]), "default");
        assert_eq!(key(&["laptop"]), "laptop");
        assert_eq!(key(&["base", "laptop"]), "base+laptop");
        let path = key(&["/etc/arca/x.toml"]);
        assert!(path.starts_with("_etc_arca_x.toml-") && path.len() == "_etc_arca_x.toml-".len() + 8, "{path}");
        // names that sanitize alike still differ
        assert_ne!(key(&["a/b"]), key(&["a_b"]));
        assert_ne!(key(&["a b"]), key(&["a_b"]));
        assert_ne!(key(&["a+b"]), key(&["a", "b"]));
        // nothing climbs out or hides
        for odd in [&["..", "x"][..], &[".hidden"], &["default"], &["../../etc"]] {
            let k = key(odd);
            assert!(!k.contains('/') && !k.starts_with('.') && k != "default", "{k}");
        }
        let long = key(&[&"n".repeat(200)]);
        assert!(long.len() == MAX_READABLE + 9, "{long}");
    }

    #[test]
    fn the_state_directory_is_private_and_a_symlink_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cache");
        let dir = profile_dir(&root, &["laptop".to_string()]).unwrap();
        assert_eq!(dir, root.join("jobs/laptop"));
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        // a planted symlink where a profile's directory goes is refused, not followed
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("jobs/evil")).unwrap();
        let e = profile_dir(&root, &["evil".to_string()]).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }
}
