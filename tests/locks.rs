#![allow(clippy::unwrap_used)]
//! Lock refresh: a held lock is rewritten periodically, and a holder whose lock could not be
//! rewritten for too long refuses to commit (others may already call it stale).

mod common;

use std::sync::Arc;
use std::time::Duration;

use arca::backend::{self, fault::FaultBackend, DynBackend, Location};
use arca::error::Kind;
use arca::repo::{LockMode, Repository};
use common::*;

fn raw(env: &Env) -> DynBackend {
    backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap()
}

#[test]
fn a_held_lock_is_refreshed() {
    let env = Env::new();
    env.init();
    let repo = Repository::open(raw(&env), PASSWORD.as_bytes()).unwrap().with_lock_refresh(Duration::from_millis(20));
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    let first = lock.id();
    std::thread::sleep(Duration::from_millis(300));
    assert_ne!(lock.id(), first, "the lock file was not rewritten");
    lock.ensure_fresh().unwrap();
    let locks = repo.locks().unwrap();
    assert_eq!(locks.len(), 1, "the previous lock file is removed after a refresh");
    assert!(locks[0].1.started.is_some(), "started survives refreshes");
    drop(lock);
    assert!(repo.locks().unwrap().is_empty());
}

#[test]
fn a_lock_that_cannot_be_refreshed_is_not_trusted() {
    let env = Env::new();
    env.init();
    // the lock file itself is written; every later write (its refreshes) fails
    let fault: DynBackend = Arc::new(FaultBackend::new(raw(&env)).crash_at(2));
    let repo = Repository::open(fault, PASSWORD.as_bytes()).unwrap().with_lock_refresh(Duration::from_millis(20));
    let lock = repo.lock("backup", LockMode::Shared).unwrap();
    lock.ensure_fresh().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let e = lock.ensure_fresh().unwrap_err();
    assert_eq!(e.kind, Kind::Locked);
    assert!(e.message.contains("could not be refreshed"), "{}", e.message);
}
