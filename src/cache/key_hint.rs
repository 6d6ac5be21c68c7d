//! Which key file opened a repository last time, so the next run tries it first: one small
//! file per repository location under `<cache root>/key-hints/` (the repository id is unknown
//! before a key opens). A hint is never trusted: a wrong or planted one only changes the order
//! in which key files are tried (format-spec §8). It is kept only in a directory that passes
//! the cache's StrictModes checks (`private_dir.rs`).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::id::ObjectId;

fn file(root: &Path, location: &str) -> PathBuf {
    let name = blake3::hash(location.as_bytes()).to_hex();
    root.join("key-hints").join(&name[..32])
}

/// The key id remembered for `location`, if any.
pub fn read(root: &Path, location: &str) -> Option<ObjectId> {
    let path = file(root, location);
    super::private_dir::make(path.parent()?).ok()?;
    let mut text = String::new();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&path)
        .ok()?;
    f.take(128).read_to_string(&mut text).ok()?;
    ObjectId::from_hex(text.trim())
}

/// Remember the key that opened `location`; failing to is harmless (the next run tries keys
/// in the default order), and nothing is written into a directory others could write to.
pub fn write(root: &Path, location: &str, id: &ObjectId) {
    let path = file(root, location);
    let Some(dir) = path.parent() else { return };
    if let Err(why) = super::private_dir::make(dir) {
        tracing::debug!("not remembering the key that opened: {why}");
        return;
    }
    let _ = super::write_new(&path, &mut |w| w.write_all(format!("{id}\n").as_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_round_trips_and_is_not_kept_in_an_open_directory() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("cache");
        let id = ObjectId([7; 32]);
        write(&root, "/srv/repo", &id);
        assert_eq!(read(&root, "/srv/repo"), Some(id));
        assert_eq!(read(&root, "/srv/other"), None);

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        write(&open, "/srv/repo", &id);
        assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
    }
}
