//! Repository upkeep engines.

pub mod check;
