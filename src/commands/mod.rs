//! One module per verb: options in, a serialisable report out. Commands never print; the CLI
//! renders their reports as text or JSON.
//!
//! A verb's function is given an open [`Repository`](crate::repo::Repository) (opening needs
//! a password, which only a face can ask for), then takes its own lock, selects snapshots
//! (`select`), runs the engine and returns its report, so a library caller, a web server or a
//! scheduler runs any verb without `cli`. Where a face must render or prompt half way, the verb
//! is a pair: `forget::prepare` then `Forget::execute`, `diff::compare` then
//! `Comparison::run`, `mount::mount` then `Serving::serve`. `copy::run` and `tag::run` are the
//! work of `copy::copy` and `tag::tag` under a lock the caller already holds.

pub mod backup;
pub mod cache;
pub mod cat;
pub mod check;
pub mod compare_live;
pub mod copy;
pub mod diff;
pub mod dump;
pub mod file_range;
pub mod find;
pub mod find_objects;
pub mod forget;
pub mod init;
pub mod key;
pub mod list;
pub mod ls;
pub mod migrate;
pub mod mount;
pub mod prune;
pub mod repair;
pub mod repair_packs;
pub mod restore;
pub mod rewrite;
pub mod select;
pub mod snapshots;
pub mod stats;
pub mod tag;
pub mod unlock;
pub mod version;

pub use select::{parse_time, select, select_many, Filter};
