//! The jobs a profile runs by itself: schedules (systemd timers, launchd, cron), the daemon and
//! watch mode, and what they report: run records turned into metrics (`metrics`) and notifications. A face
//! like `cli` and `serve`: it starts `arca -P PROFILE… JOB` as child processes, so every run
//! goes through the command line's guard, hooks and records, and holds no repository logic.
//! The command line hands this layer plain settings (profiles are parsed in `cli`).

pub mod calendar;
pub mod daemon;
pub mod job;
pub mod metrics;
pub mod notify;
pub mod units;
pub mod watch;
