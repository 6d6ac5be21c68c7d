#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Lock refresh: a held lock is rewritten periodically, and a holder whose lock could not be
//! rewritten for too long refuses to commit (others may already call it stale).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use arca::backend::{self, fault::FaultBackend, DynBackend, Location};
use arca::error::Kind;
use arca::repo::{LockMode, Repository};
use common::*;

fn raw(env: &Env) -> DynBackend {
    backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap()
}

/// Poll `cond` for up to ten seconds.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_held_lock_is_refreshed() {
    let env = Env::new();
    env.init();
    // Refresh often, but trust the lock for long: this test is about the rewriting, and a
    // loaded machine may delay the refresher well past a few intervals.
    let repo = Repository::open(raw(&env), PASSWORD.as_bytes())
        .unwrap()
        .with_lock_refresh(Duration::from_millis(20))
        .with_lock_trust(Duration::from_secs(600));
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    let first = lock.id();
    let rewritten = eventually(|| lock.id() != first);
    assert!(rewritten, "the lock file was not rewritten");
    lock.ensure_fresh().unwrap();
    // between writing the new file and deleting the old one, both exist for a moment
    assert!(eventually(|| repo.locks().unwrap().len() == 1), "the previous lock file is removed after a refresh");
    assert!(repo.locks().unwrap().iter().all(|(_, l)| l.started.is_some()), "started survives refreshes");
    drop(lock);
    assert!(repo.locks().unwrap().is_empty());
}

#[test]
fn a_lock_that_cannot_be_refreshed_is_not_trusted() {
    let env = Env::new();
    env.init();
    // the lock file itself is written; every later write (its refreshes) fails
    let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(2));
    let repo = Repository::open(fault, PASSWORD.as_bytes())
        .unwrap()
        .with_lock_refresh(Duration::from_millis(20))
        .with_lock_trust(Duration::from_secs(1));
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    lock.ensure_fresh().unwrap();
    assert!(eventually(|| lock.ensure_fresh().is_err()), "a lock that is never rewritten stays trusted");
    let e = lock.ensure_fresh().unwrap_err();
    assert_eq!(e.kind, Kind::Locked);
    assert!(e.message.contains("could not be refreshed"), "{}", e.message);
}

#[test]
fn an_undecodable_lock_does_not_block_commands_that_only_read() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a"), b"hello");
    env.ok(&["backup", src.to_str().unwrap()]);
    for garbage in [&b"not a lock"[..], b"ARCA\x02\x13 sealed under nobody's key, 45 bytes or more ......"] {
        let name = hex::encode(blake3::hash(garbage).as_bytes());
        std::fs::write(env.repo.join("locks").join(&name), garbage).unwrap();
        let target = env.path(&format!("restored-{}", &name[..8]));
        for args in [
            vec!["restore", "latest", "--target", target.to_str().unwrap()],
            vec!["check"],
            vec!["ls", "latest"],
            vec!["snapshots"],
            vec!["dump", "latest", src.join("a").to_str().unwrap()],
            vec!["find", "a"],
            vec!["stats"],
        ] {
            let o = env.run(&args);
            assert_eq!(code(&o), 0, "{args:?} was blocked: {}", stderr(&o));
        }
        let restored = describe(&target);
        assert!(restored.iter().any(|(p, m)| p.ends_with("a") && m.size == 5), "{restored:?}");
        let o = env.run(&["check"]);
        assert!(stderr(&o).contains(&format!("locks/{name}")), "no warning named the lock: {}", stderr(&o));
        // the library: what `mount` takes passes it, a shared writer's lock does not
        let repo = Repository::open(raw(&env), PASSWORD.as_bytes()).unwrap();
        drop(repo.lock_read("mount").unwrap());
        assert_eq!(repo.lock("backup", LockMode::Shared).err().map(|e| e.kind), Some(Kind::Locked));
        // writers still take it for a lock held by somebody unknown
        let o = env.run(&["backup", src.to_str().unwrap()]);
        assert_eq!(code(&o), 11, "{}", stderr(&o));
        assert_eq!(code(&env.run(&["prune"])), 11);
        env.ok(&["unlock", "--remove-all"]);
    }
}
