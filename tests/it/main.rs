//! arca's integration tests, in one binary: each module is one suite (its file says what it
//! proves), `common` is the harness that runs the real binary against a temporary repository,
//! and `model` the reference model of `model_ops` and of the fuzz target `model`. One binary
//! links once instead of once per suite; run one suite with `cargo test --test it -- NAME::`.

// Tests may unwrap and panic: a failed expectation is the test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod model;

mod backends;
mod browse;
mod cache_trust;
mod changed_paths;
mod cli;
mod compare_live;
mod concurrency;
mod copy;
mod corruption;
mod crash;
mod crash_points;
mod daemon;
mod edges;
mod faults;
mod forgery;
mod forget;
mod groups;
mod hostile;
mod inline;
mod key_cache;
mod library;
mod locks;
mod metrics;
mod model_ops;
mod mount;
mod notify;
mod profiles;
mod progress;
mod properties;
mod prune;
mod readme;
mod remote;
mod repair;
mod repo_safety;
mod restic_flags;
mod restic_flags_more_a;
mod restic_flags_more_b;
mod restic_output;
mod restic_verbs;
mod restore_race;
mod restore_speed;
mod rewrite;
mod rotate;
mod roundtrip;
mod schedule;
mod secrets;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod serve_dav;
#[cfg(feature = "serve")]
mod serve_insights;
#[cfg(feature = "serve")]
mod serve_jobs;
#[cfg(feature = "serve")]
mod serve_ui;
mod source_trouble;
mod status;
mod storage_flags;
mod tag;
mod terminal;
mod timestamps;
mod vectors;
mod walk;
mod watch;
mod watch_fanotify;
