//! The jobs a profile runs by itself: schedules (systemd timers, launchd, cron) and the daemon.
//! A face like `cli` and `serve`: it starts `arca -P PROFILE… JOB` as child processes, so every
//! run goes through the command line's guard, hooks and records, and holds no repository logic.

pub mod calendar;
pub mod job;
