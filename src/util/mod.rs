//! Small pieces every layer may use; nothing here knows about repositories or storage.

pub mod progress;
pub mod sync;
pub mod words;
