//! Repository upkeep engines.

pub mod check;
pub mod migrate;
pub mod policy;
pub mod prune;
pub mod repair;
pub mod repair_packs;
pub mod rewrite;
pub mod rotate;
pub mod usage;
