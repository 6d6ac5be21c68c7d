//! Repository upkeep engines.

pub mod check;
pub mod policy;
pub mod prune;
pub mod repair;
pub mod rewrite;
pub mod rotate;
pub mod usage;
