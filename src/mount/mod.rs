//! `arca mount`: snapshots as a read-only file system. `vfs` is the file system itself and
//! knows nothing of FUSE; `fuse` adapts it to fuser; `layout` builds the directories above
//! the snapshots from path templates; `inodes` keeps the inodes the kernel holds.

pub mod fuse;
mod inodes;
pub mod layout;
pub mod vfs;
