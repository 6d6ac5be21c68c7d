//! The jobs that run by themselves: watch mode (and, beside it, schedules, the daemon,
//! notifications and metrics). A face like the command line: it runs the verbs as child
//! processes `arca -P PROFILE... JOB` and holds no repository logic.

pub mod watch;
