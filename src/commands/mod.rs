//! One module per verb: options in, a serialisable report out. Commands never print; the CLI
//! renders their reports as text or JSON.

pub mod backup;
pub mod cat;
pub mod check;
pub mod copy;
pub mod diff;
pub mod dump;
pub mod find;
pub mod forget;
pub mod init;
pub mod key;
pub mod ls;
pub mod prune;
pub mod repair;
pub mod restore;
pub mod rewrite;
pub mod select;
pub mod snapshots;
pub mod stats;
pub mod tag;
pub mod unlock;

pub use select::{parse_time, select, select_many, Filter};
