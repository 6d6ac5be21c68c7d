//! Path parameters: a path inside a snapshot, as the API takes it (`?path=/home/me`), checked
//! before the tree is walked. The query string is percent-decoded once by the router, so an
//! encoded `%2e%2e` arrives here as `..` and is refused like the plain one; what is left is a
//! sequence of plain names that `Repository::find_path` looks up one tree at a time, which
//! can only descend.

use crate::error::{Error, Result};

/// The checked form of a snapshot path: absolute, `/`-separated names, none empty, `.` or
/// `..`, no NUL. `/` (or an empty parameter) is the root, returned as `/`.
pub fn snapshot_path(raw: &str) -> Result<String> {
    let refuse = |why: &str| {
        Error::usage(format!("invalid path {raw:?}: {why}"))
            .hint("give an absolute path inside the snapshot, e.g. path=/home/me/file")
    };
    if raw.is_empty() || raw == "/" {
        return Ok("/".into());
    }
    if raw.contains('\0') {
        return Err(refuse("it holds a NUL byte"));
    }
    let Some(rest) = raw.strip_prefix('/') else { return Err(refuse("it must start with /")) };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    for name in rest.split('/') {
        match name {
            "" => return Err(refuse("it holds an empty name (//)")),
            "." | ".." => return Err(refuse("`.` and `..` are not allowed")),
            _ => {}
        }
    }
    Ok(format!("/{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_and_the_root_is_slash() {
        assert_eq!(snapshot_path("").unwrap(), "/");
        assert_eq!(snapshot_path("/").unwrap(), "/");
        assert_eq!(snapshot_path("/home/me/").unwrap(), "/home/me");
        assert_eq!(snapshot_path("/a/..b/c.").unwrap(), "/a/..b/c.");
        // a name that looks encoded is a name (the router decoded the query once already)
        assert_eq!(snapshot_path("/%2e%2e").unwrap(), "/%2e%2e");
    }

    #[test]
    fn traversal_relative_empty_and_nul_are_refused() {
        for bad in ["..", "/..", "/a/../../etc", "/a/./b", "a/b", "/a//b", "/a\0b", "/a/..", "//"] {
            let e = snapshot_path(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{bad:?}");
        }
    }
}
