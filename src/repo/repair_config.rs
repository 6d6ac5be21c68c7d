//! What is at a location (`init` refuses any repository file; a missing `config` beside other
//! repository files is damage, not absence), and `repair config`: rebuild a missing or
//! damaged `config` from a key file that opens with the password and the repository's own
//! objects, or refuse and say which field cannot be recovered (format-spec/v3.md §7.1).
//!
//! What `config` holds and where each field comes from on a rebuild:
//!
//! | field | recovered from |
//! | --- | --- |
//! | `version` | the clear header of every snapshot and index file (§6): the highest |
//! | `id` | nowhere: it is random and only `config` holds it; a new one is drawn (the local cache starts afresh) |
//! | `chunker` | the defaults, or `--chunker-params`; proved by cutting a stored multi-chunk file again |
//! | `pack_size` | the default: a target for new packs, never read back |
//! | `chunker_key`, `blob_id_key`, `tree_id_key` | derivable only when absent (derived from the master secret); proved by re-hashing stored blobs and re-cutting a file; a repository that went through `key rotate` or `init --copy-chunker-params` names keys no key file holds, and is refused |

use super::{keys, limits, ObjectKind, Repository, CONFIG_PATH};
use crate::backend::DynBackend;
use crate::chunker::ChunkerParams;
use crate::crypto::{Keys, MasterSecret, SealKind};
use crate::error::{Error, Kind, Operation, Result, ResultExt};
use crate::format::config::Config;
use crate::format::tree::NodeKind;
use crate::format::{BlobType, FORMAT_VERSION};
use crate::id::RepoId;
use crate::util::words::count;

/// The top-level names of a repository besides `config` (format-spec §3).
const REPOSITORY_DIRS: [&str; 5] = ["keys", "data", "index", "snapshots", "locks"];

/// The repository files at a location: `config` if stored, and each top-level directory
/// holding at least one file (`keys/`, `data/`, …). Empty: nothing of a repository is there.
pub fn repository_files(backend: &DynBackend) -> Result<Vec<String>> {
    let mut found = vec![];
    if backend.stat(CONFIG_PATH).ctx_op(Operation::Statting, CONFIG_PATH)?.is_some() {
        found.push(CONFIG_PATH.to_string());
    }
    for dir in REPOSITORY_DIRS {
        let listed = backend.list(&format!("{dir}/")).ctx_op(Operation::Listing, dir)?;
        if !listed.is_empty() {
            found.push(format!("{dir}/"));
        }
    }
    Ok(found)
}

/// Refuse to create a repository where any repository file is (`init`, and `backup`
/// creating the default repository): creating one over a damaged repository would hide it.
pub fn refuse_init_over(backend: &DynBackend) -> Result<()> {
    let found = repository_files(backend)?;
    if found.is_empty() {
        return Ok(());
    }
    let location = backend.location();
    let what = found.join(", ");
    let err = Error::usage(format!("refusing to create a repository at {location}: it already holds {what}"))
        .object(&location)
        .operation(Operation::Writing);
    Err(if found.iter().any(|f| f == CONFIG_PATH) {
        err.hint("a repository already exists there: use it, or choose another location")
    } else {
        err.hint(
            "these are the files of a repository whose config is missing: `arca repair config` rebuilds it \
             (or put back config from a copy of the repository); to start a new repository, choose another location",
        )
    })
}

/// The error for a location without `config`: [`Kind::NoRepository`] when nothing of a
/// repository is there, [`Kind::RepositoryDamaged`] (naming what is there) otherwise.
pub fn missing_config(backend: &DynBackend) -> Error {
    let location = backend.location();
    let found = match repository_files(backend) {
        Ok(found) => found,
        // unknown is not absent: never answer it with `init`
        Err(e) => {
            let e = e.context(format!(
                "{} is missing and what else is at {location} could not be listed",
                config_path(&location)
            ));
            return match e.hint {
                Some(_) => e,
                None => e.hint("check that the storage is reachable and readable, then run the command again"),
            };
        }
    };
    if found.is_empty() {
        return Error::new(Kind::NoRepository, format!("no repository at {location}"))
            .object(&location)
            .operation(Operation::Opening)
            .hint("create one with `arca init`, or check -r/--repo and ARCA_REPOSITORY");
    }
    damaged_without_config(&location, &found)
}

fn damaged_without_config(location: &str, found: &[String]) -> Error {
    Error::new(
        Kind::RepositoryDamaged,
        format!(
            "the repository at {location} is damaged: its config ({}) is missing, but it holds {}",
            config_path(location),
            found.join(", ")
        ),
    )
    .object(config_path(location))
    .operation(Operation::Opening)
    .hint(
        "do not create a new repository over it; `arca repair config` rebuilds the config from a key and the \
         repository's files (it needs the password), or put back config from a copy of the repository",
    )
}

/// `config` under its location, for messages (`/srv/backup/config`, `s3:bucket/prefix/config`).
pub fn config_path(location: &str) -> String {
    format!("{}/{CONFIG_PATH}", location.trim_end_matches('/'))
}

/// A `config` that is stored but unusable (bad header, fails to authenticate or decode):
/// name its path and say how to recover. Other kinds (a newer version) are left as they are.
pub fn config_damaged(e: Error, location: &str) -> Error {
    if e.kind != Kind::Corrupt {
        return e;
    }
    let path = config_path(location);
    let mut e = e;
    e.message = format!("{path} is damaged: {}", e.message.trim_start_matches("config: "));
    e.object = Some(path);
    e.hint(
        "put back config from a copy of the repository, or rebuild it with `arca repair config` \
         (it needs the password and checks the rebuilt config against the stored data)",
    )
}

/// What `repair config` wrote (or would write).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RebuiltConfig {
    /// `"missing"`, `"damaged"` or `"intact"` (then nothing was written, nothing needed to
    /// be): what the stored config was.
    pub was: &'static str,
    pub version: u8,
    pub id: RepoId,
    pub chunker: ChunkerParams,
    pub pack_size: u32,
    /// What the rebuilt config was proved against.
    pub proved: Vec<String>,
    /// What could not be proved or was chosen (the new id, an unchecked chunker).
    pub notes: Vec<String>,
    pub written: bool,
}

/// What the user may say that the repository cannot: the chunker bounds it was made with
/// (`init --chunker-params`), proved like the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepairConfigOptions {
    pub chunker: Option<ChunkerParams>,
    pub dry_run: bool,
}

/// Bytes of one file read back to prove the chunker: enough for several chunks at the
/// default bounds, bounded so a repair never holds a huge file in memory.
const CHUNKER_PROOF_MAX: u64 = 64 * 1024 * 1024;
/// Trees walked looking for a file to prove the chunker with.
const TREES_WALKED_MAX: usize = 10_000;

fn cannot(message: String, hint: &str) -> Error {
    Error::new(Kind::RepositoryDamaged, format!("cannot rebuild config faithfully: {message}"))
        .object(CONFIG_PATH)
        .hint(hint.to_string())
}

const FROM_A_COPY: &str = "put back config from a copy of the repository (a backup of the repository \
                           directory, a synced copy); nothing was written";

impl Repository {
    /// `repair config` (format-spec §7.1): rebuild `config` when it is missing or does not
    /// authenticate under any key the password opens, and only when every field can be
    /// recovered and is proved against the stored objects; else refuse, writing nothing.
    pub fn repair_config(
        backend: DynBackend,
        password: &[u8],
        opts: &RepairConfigOptions,
    ) -> Result<(RebuiltConfig, Option<Repository>)> {
        let location = backend.location();
        let stored = match limits::read_capped(&backend, CONFIG_PATH, limits::MAX_CONFIG_LEN) {
            Ok(b) => Some(b),
            Err(e) if e.kind == Kind::NotFound => None,
            Err(e) if e.kind == Kind::Corrupt => Some(vec![]),
            Err(e) => return Err(e),
        };
        if stored.is_none() && repository_files(&backend)?.is_empty() {
            return Err(missing_config(&backend).hint("there is nothing to repair: `arca init` creates a repository"));
        }
        if let Some(b) = stored.as_deref().filter(|b| !b.is_empty()) {
            if let Err(e) = crate::format::object::check_header(b, SealKind::Config) {
                if e.kind == Kind::Unsupported {
                    return Err(e.context_object(config_path(&location)));
                }
            }
        }
        let master = unlock_master(&backend, password)?;
        if let Some(b) = stored.as_deref() {
            match Config::decode(&Keys::derive(&master), b) {
                // intact: nothing to repair, and that is an answer, not an error
                Ok(c) => {
                    let report = RebuiltConfig {
                        was: "intact",
                        version: c.version,
                        id: c.id,
                        chunker: c.chunker,
                        pack_size: c.pack_size,
                        proved: vec![format!("{} opens with this password", config_path(&location))],
                        notes: vec![],
                        written: false,
                    };
                    return Ok((report, None));
                }
                Err(e) if e.kind == Kind::Unsupported => return Err(e.context_object(config_path(&location))),
                Err(_) => {}
            }
        }
        // version: the highest in the clear headers of snapshots and index files
        let probe = Repository::assemble_unwritten(backend.clone(), &master, candidate(FORMAT_VERSION, opts))?;
        let mut version = None;
        let mut headers = 0usize;
        for kind in [ObjectKind::Snapshot, ObjectKind::Index] {
            let seal = if kind == ObjectKind::Snapshot { SealKind::Snapshot } else { SealKind::Index };
            for id in probe.list(kind)? {
                let bytes = probe.read(kind, &id)?;
                let v = crate::format::object::check_header(&bytes, seal).ctx_object(kind.path(&id))?;
                version = version.max(Some(v));
                headers += 1;
            }
        }
        let mut notes = vec![];
        let version = version.unwrap_or_else(|| {
            notes.push(format!("no snapshot or index file holds a version: format version {FORMAT_VERSION} written"));
            FORMAT_VERSION
        });
        let config = candidate(version, opts);
        let id = config.id;
        let repo = Repository::assemble_unwritten(backend, &master, config)?;
        let proved = repo.prove_config(headers, &mut notes)?;
        notes.push(format!(
            "a new repository id {} (the old one was held only by config; the local cache starts afresh)",
            id.short()
        ));
        notes.push("pack size: the default (a target for new packs only, never read back)".into());
        let report = RebuiltConfig {
            was: if stored.is_some() { "damaged" } else { "missing" },
            version,
            id,
            chunker: repo.config.chunker,
            pack_size: repo.config.pack_size,
            proved,
            notes,
            written: !opts.dry_run,
        };
        if opts.dry_run {
            return Ok((report, None));
        }
        let bytes = repo.config.encode(&repo.keys);
        repo.backend.write(CONFIG_PATH, bytes.into()).ctx("writing config")?;
        let back = limits::read_capped(&repo.backend, CONFIG_PATH, limits::MAX_CONFIG_LEN)?;
        if Config::decode(&repo.keys, &back)? != repo.config {
            return Err(Error::corrupt("config as read back differs from config as written").object(CONFIG_PATH));
        }
        Ok((report, Some(repo)))
    }

    /// A repository value with `config` not (yet) stored.
    fn assemble_unwritten(backend: DynBackend, master: &MasterSecret, config: Config) -> Result<Repository> {
        let keys = config.keys(master, master, None);
        let key_id = crate::id::ObjectId([0; 32]);
        Self::assemble(backend, keys, master.clone(), config, key_id, None)
    }

    /// Prove the candidate config against the stored objects: every snapshot and index file
    /// opens under its seal key; a tree and a data blob hash to their ids under its id keys;
    /// a stored file of several chunks is cut again into the same chunks.
    fn prove_config(&self, headers: usize, notes: &mut Vec<String>) -> Result<Vec<String>> {
        let mut proved = vec![];
        let (snapshots, damaged) = self.snapshots_and_damaged()?;
        if snapshots.is_empty() && !damaged.is_empty() {
            return Err(cannot(
                format!("no snapshot opens with the key this password unlocks ({} tried)", damaged.len()),
                "the key file may belong to another repository; try another password, or put back config from a copy",
            ));
        }
        self.load_index()
            .map_err(|e| cannot(format!("the index does not open with this key: {}", e.message), FROM_A_COPY))?;
        if headers > 0 {
            proved.push(format!("{} and the index open with the key", count(snapshots.len(), "snapshot")));
        }
        let rotated = |what: &str| {
            cannot(
                format!(
                    "{what} does not hash to its id under the id keys derived from this key's master secret: the \
                     repository went through `arca key rotate`, whose config names the id and chunker keys of an \
                     earlier master secret, and no key file holds them"
                ),
                FROM_A_COPY,
            )
        };
        // trees: walk breadth-first, proving the tree id key; find data to prove the rest
        let mut queue: std::collections::VecDeque<_> = snapshots.iter().map(|(_, s)| s.tree).collect();
        let mut seen = std::collections::HashSet::new();
        let mut data_proved = false;
        let mut chunker_proved = false;
        let mut walked = 0;
        while let Some(tree_id) = queue.pop_front() {
            if !seen.insert(tree_id) || walked >= TREES_WALKED_MAX || (data_proved && chunker_proved) {
                continue;
            }
            walked += 1;
            let tree = match self.load_tree(&tree_id) {
                Ok(t) => t,
                Err(e) if e.kind == Kind::Corrupt && walked == 1 => return Err(rotated(&format!("tree {tree_id}"))),
                Err(e) => return Err(e),
            };
            if walked == 1 {
                proved.push("tree ids are keyed as derived from the key".into());
            }
            for node in &tree.nodes {
                if node.kind == NodeKind::Dir {
                    queue.extend(node.subtree);
                    continue;
                }
                if node.kind != NodeKind::File || (data_proved && chunker_proved) {
                    continue;
                }
                let content = self.file_content(node)?;
                let Some(first) = content.first() else { continue };
                if !data_proved {
                    match self.read_blob(BlobType::Data, first) {
                        Ok(_) => {}
                        Err(e) if e.kind == Kind::Corrupt => return Err(rotated(&format!("data blob {first}"))),
                        Err(e) => return Err(e),
                    }
                    data_proved = true;
                    proved.push("data blob ids are keyed as derived from the key".into());
                }
                if !chunker_proved && content.len() >= 2 && node.size <= CHUNKER_PROOF_MAX {
                    self.prove_chunker(&content)?;
                    chunker_proved = true;
                    proved.push(format!(
                        "a stored file of {} chunks is cut again into the same chunks (chunker bounds {}/{}/{} and key)",
                        content.len(),
                        self.config.chunker.min,
                        self.config.chunker.avg,
                        self.config.chunker.max
                    ));
                }
            }
        }
        if !chunker_proved && !snapshots.is_empty() {
            notes.push(
                "no stored file spans several chunks: the chunker bounds and key could not be proved (new large \
                 files may not deduplicate against a copy made with other bounds)"
                    .into(),
            );
        }
        Ok(proved)
    }

    fn prove_chunker(&self, content: &[crate::id::BlobId]) -> Result<()> {
        let mut data = vec![];
        let mut stored = vec![];
        for id in content {
            let blob = self.read_blob(BlobType::Data, id)?;
            stored.push(blob.len());
            data.extend_from_slice(&blob);
        }
        let mut cut = vec![];
        self.chunker.split_slice(&data, |c| {
            cut.push(c.len());
            Ok(())
        })?;
        if cut != stored {
            let p = self.config.chunker;
            return Err(cannot(
                format!(
                    "a stored file of {} chunks is not cut into the same chunks with the chunker bounds {}/{}/{} and \
                     the chunker key derived from this key: the repository was made with other bounds \
                     (`init --chunker-params`) or another repository's chunker key (`init --copy-chunker-params`, \
                     `key rotate`), which only config held",
                    stored.len(),
                    p.min,
                    p.avg,
                    p.max
                ),
                "if you know the bounds it was made with, pass them: `arca repair config --chunker-params MIN,AVG,MAX`; \
                 otherwise put back config from a copy of the repository. Nothing was written",
            ));
        }
        Ok(())
    }
}

fn candidate(version: u8, opts: &RepairConfigOptions) -> Config {
    Config {
        version,
        id: RepoId(crate::crypto::random_bytes()),
        chunker: opts.chunker.unwrap_or(ChunkerParams::DEFAULT),
        pack_size: Config::DEFAULT_PACK_SIZE,
        chunker_key: None,
        blob_id_key: None,
        tree_id_key: None,
    }
}

/// The master secret of the first key file that opens with the password. A rotation key is
/// refused: it carries its own copy of config, which opening the repository already uses.
fn unlock_master(backend: &DynBackend, password: &[u8]) -> Result<MasterSecret> {
    let ids = keys::key_ids(backend)?;
    if ids.is_empty() {
        return Err(cannot(
            format!("{} holds no key file: nothing can open the stored data", backend.location()),
            FROM_A_COPY,
        ));
    }
    for id in ids {
        let kf = match keys::read_key(backend, &id) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!("skipping unusable key file: {e}");
                continue;
            }
        };
        if kf.check_before_deriving().is_err() {
            continue;
        }
        match kf.open_all(password) {
            Ok((_, Some(_))) => {
                return Err(cannot(
                    format!("{} is the key of a key rotation in progress", ObjectKind::Key.path(&id)),
                    "a rotation key carries its own copy of config: open the repository with it and run `arca key rotate` to finish",
                ))
            }
            Ok((master, None)) => return Ok(master),
            Err(e) if e.kind == Kind::WrongPassword => continue,
            Err(e) => tracing::warn!("{}: {e}", ObjectKind::Key.path(&id)),
        }
    }
    Err(Error::new(Kind::WrongPassword, format!("wrong password: no key in {} opens with it", backend.location()))
        .object(backend.location())
        .hint("repair config needs a password of this repository: check ARCA_PASSWORD, --password-file or --password-command"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::fault::FaultBackend;

    #[test]
    fn a_location_that_cannot_be_listed_is_never_taken_for_an_empty_one() {
        let backend: DynBackend =
            Arc::new(FaultBackend::new(crate::backend::memory().expect("memory")).transient_every(1));
        let e = missing_config(&backend);
        assert_ne!(e.kind, Kind::NoRepository, "{e}");
        assert!(e.message.contains("could not be listed"), "{}", e.message);
        assert!(!format!("{} {:?}", e.message, e.hint).contains("init"), "{e} {:?}", e.hint);
    }

    #[test]
    fn nothing_stored_is_no_repository_and_one_file_is_damage() {
        let backend = crate::backend::memory().expect("memory");
        assert_eq!(missing_config(&backend).kind, Kind::NoRepository);
        refuse_init_over(&backend).expect("an empty location takes a repository");
        backend.write("locks/00", b"x".to_vec().into()).expect("write");
        let e = missing_config(&backend);
        assert_eq!(e.kind, Kind::RepositoryDamaged, "{e}");
        assert!(e.message.contains("locks/") && e.hint.as_deref().is_some_and(|h| h.contains("repair config")), "{e}");
        let e = refuse_init_over(&backend).expect_err("init over a lock file");
        assert!(e.message.contains("refusing"), "{e}");
    }
}
