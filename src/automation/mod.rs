//! The jobs that run by themselves, and what they report: run records turned into metrics
//! (`metrics`) and notifications (`notify`). The command line hands this layer plain settings
//! (profiles are parsed in `cli`); every job itself runs as `arca -P PROFILE JOB`.

pub mod metrics;
pub mod notify;
