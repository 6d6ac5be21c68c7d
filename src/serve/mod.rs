//! `arca serve`: the repository over HTTP. `dav` is the read-only WebDAV view of the mount's
//! tree.

pub mod dav;
