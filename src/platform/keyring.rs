//! The Linux kernel keyring as a store for short-lived secrets, like ssh-agent: `user` keys in
//! the caller's session keyring (the kernel falls back to the user session keyring where the
//! process has none), readable only by their possessor, each with a fixed lifetime after
//! which the kernel refuses to hand it out and removes it.
//!
//! Every call here can fail where keyctl is refused (seccomp in containers, a kernel without
//! keys): errors are plain strings saying why, for callers that treat "no keyring" as "no
//! cache" and never as a failure of their own.

use linux_keyutils::{Key, KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, KeyType, Permission};
use zeroize::Zeroizing;

/// The most entries of the session keyring looked at.
const MAX_LINKS: usize = 4096;

/// One `user` key of the session keyring.
#[derive(Clone, Debug)]
pub struct Entry {
    key: Key,
    pub description: String,
}

fn session() -> Result<KeyRing, String> {
    KeyRing::from_special_id(KeyRingIdentifier::Session, false).map_err(|e| format!("no session keyring: {e}"))
}

/// The `user` keys linked in the session keyring whose description starts with `prefix`.
/// Keys the kernel will not describe (expired, revoked, not ours to view) are not listed.
pub fn list(prefix: &str) -> Result<Vec<Entry>, String> {
    let ring = session()?;
    let links = ring.get_links(MAX_LINKS).map_err(|e| format!("listing the session keyring: {e}"))?;
    let mut out = vec![];
    for key in links.iter().filter_map(|l| l.as_key()) {
        let Ok(meta) = key.metadata() else { continue };
        if !matches!(meta.get_type(), KeyType::User) || !meta.get_description().starts_with(prefix) {
            continue;
        }
        out.push(Entry { key, description: meta.get_description().to_string() });
    }
    Ok(out)
}

/// The payload of `entry` if it is at most `max` bytes long; a longer one is refused before
/// anything is allocated for it.
pub fn read(entry: &Entry, max: usize) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut buf = Zeroizing::new(vec![0u8; max]);
    let len = entry.key.read(&mut *buf).map_err(|e| format!("reading {:?}: {e}", entry.description))?;
    if len > max {
        return Err(format!("{:?} holds {len} bytes, more than the {max} expected", entry.description));
    }
    buf.truncate(len);
    Ok(buf)
}

/// Remove `entry` from the session keyring (the kernel destroys a key without links).
pub fn unlink(entry: &Entry) -> Result<(), String> {
    let ring = session()?;
    ring.unlink_key(entry.key).map_err(|e| format!("removing {:?}: {e}", entry.description))
}

/// Add a `user` key to the session keyring that expires `lifetime_secs` after now and that
/// only its possessor may view, read, write, search and set attributes of (no link: it is
/// not to be linked elsewhere; nothing for the user, group or others). A key whose permissions
/// or lifetime can't be set is removed again.
pub fn add(description: &str, payload: &[u8], lifetime_secs: usize) -> Result<(), String> {
    let ring = session()?;
    let key = ring.add_key(description, payload).map_err(|e| format!("adding {description:?}: {e}"))?;
    let perms = KeyPermissionsBuilder::builder()
        .posessor(Permission::VIEW | Permission::READ | Permission::WRITE | Permission::SEARCH | Permission::SETATTR)
        .user(Permission::empty())
        .group(Permission::empty())
        .world(Permission::empty())
        .build();
    // the lifetime first: a key left without one would outlive what it was given for
    let set = key
        .set_timeout(lifetime_secs.max(1))
        .map_err(|e| format!("setting the lifetime of {description:?}: {e}"))
        .and_then(|()| key.set_perms(perms).map_err(|e| format!("setting the permissions of {description:?}: {e}")));
    if let Err(why) = set {
        let _ = key.invalidate();
        let _ = ring.unlink_key(key);
        return Err(why);
    }
    Ok(())
}
