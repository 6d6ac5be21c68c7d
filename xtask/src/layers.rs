//! `cargo xtask layers`: the allowed `use crate::` edges between arca's top-level modules, kept
//! in one table so the layering (STYLE.md, "The house") is enforced by a tool, not by memory.
//!
//! A module is the first path segment under `src/` (`src/repo/saver.rs` is `repo`,
//! `src/chunker.rs` is `chunker`). A module may use any module of a lower layer; within its
//! own layer only the pairs in [`SAME_LAYER`] are allowed. `lib.rs` and `main.rs` are the top
//! (L7) and exempt from the layer table (not from the crate table below). A module missing
//! from [`LAYERS`] is an error, so a new module must be placed deliberately.
//!
//! References are found by tokenizing each file (comments and literals dropped) and reading
//! every path that starts with `crate::`, including grouped imports (`use crate::{a, b::c}`),
//! and every `super::` chain that climbs to the crate root (tracking inline `mod x { }`).
//! Macro-generated paths and `#[path]` attributes are not seen.
//!
//! A second table, [`CRATES`], says which modules may use each pinned external crate, so a
//! face's crate (clap, indicatif) never leaks into an engine and an adapter's crate (fuser,
//! OpenDAL and tokio, rusqlite) stays in its adapter. Uses are found by [`crate_refs`]:
//! `use c::…`, a path `c::…` in code or attributes, `::c::…` and `extern crate c`. Crates not
//! in the table (serde, nix, blake3, …) may be used anywhere.
//!
//! Third, the repository is sealed ([`crate::sealed`]): outside `src/repo/` nothing calls the
//! accessors that would hand out its storage or keys, and no object path is spelled out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cmd::{Error, Result};
use crate::rust_scan::{crate_refs, first_segments, is_ident, is_punct, path_sep, tokenize, Tok, Token};

/// Layers, lowest first. Modules not present yet (`util`, `mount`) are listed so they slot in.
pub const LAYERS: &[(&str, u8)] = &[
    ("backend", 0),
    ("platform", 0),
    ("util", 0),
    ("id", 0),
    ("error", 0),
    // test helpers (`#[cfg(test)]` or the `testing` feature), usable from the tests of every layer
    ("testing", 0),
    ("patterns", 1),
    ("crypto", 1),
    ("chunker", 1),
    ("codec", 1),
    ("format", 2),
    ("repo", 3),
    ("cache", 3),
    ("archiver", 4),
    ("restorer", 4),
    ("mount", 4),
    ("maintenance", 4),
    ("commands", 5),
    ("cli", 6),
    // `arca serve`'s HTTP face beside the command line's (the `serve` feature), and its WebDAV view
    ("serve", 6),
    // the jobs that run by themselves: schedules, the daemon, watch mode, notifications, metrics
    ("automation", 6),
    // test builds only (the `testing` feature): a repository driven through commands/, as a
    // library caller drives it
    ("test_repo", 6),
];

/// Allowed edges inside one layer, `(user, used)`. `id` and `error` are usable from every
/// layer, which for their L0 neighbours takes an explicit pair; `error` may name ids.
pub const SAME_LAYER: &[(&str, &str)] = &[
    ("backend", "id"),
    ("backend", "error"),
    ("backend", "util"),
    ("platform", "id"),
    ("platform", "error"),
    ("platform", "util"),
    ("util", "id"),
    ("util", "error"),
    ("error", "id"),
    ("backend", "testing"),
    ("repo", "cache"),
    // `arca serve` is started from the command line
    ("cli", "serve"),
    // `arca schedule|daemon|watch|status` and the run records are started from the command line
    ("cli", "automation"),
];

/// Which modules may use each pinned external crate (its Rust name), as module paths under
/// `src/`: `"cache"` allows `src/cache/**`, `"backend::opendal"` allows `src/backend/opendal.rs`
/// and its submodules in `src/backend/opendal/`. Every crate named must be a dependency in
/// Cargo.toml and every place must exist, so a rename cannot leave a rule that checks nothing.
pub const CRATES: &[(&str, &[&str])] = &[
    // The FUSE adapter is one file over a virtual tree that tests walk without FUSE.
    ("fuser", &["mount::fuse"]),
    // Storage: OpenDAL and the async runtime it needs live behind the synchronous Backend trait.
    ("opendal", &["backend::opendal"]),
    ("tokio", &["backend::opendal", "serve"]),
    // The HTTP server and what it needs stay in `arca serve`'s face.
    ("axum", &["serve"]),
    ("futures_util", &["serve"]),
    ("base64ct", &["serve::auth"]),
    ("dav_server", &["serve::dav"]),
    // HTTPS of `arca serve`
    ("rustls", &["serve::tls", "automation::notify::webhook"]),
    ("tokio_rustls", &["serve::tls"]),
    // The file watcher of `arca watch` (inotify) stays in watch mode.
    ("notify", &["automation::watch"]),
    // SQLite caches are disposable and stay inside the cache.
    ("rusqlite", &["cache"]),
    // The one mapping of a file (an `unsafe` call), the cache's verified blob table.
    ("memmap2", &["cache::mapped"]),
    // The command line's face: argument parsing, completions, man pages, progress bars, prompts,
    // logging setup and profile files.
    ("clap", &["cli"]),
    ("clap_complete", &["cli"]),
    ("clap_mangen", &["cli"]),
    ("indicatif", &["cli"]),
    ("rpassword", &["cli"]),
    ("tracing_subscriber", &["cli"]),
    ("toml", &["cli"]),
    // Extended attributes are read where backup reads metadata and written where restore does.
    ("xattr", &["archiver::metadata", "restorer::metadata"]),
    // Archive formats are dump's output.
    ("tar", &["commands::dump"]),
    ("zip", &["commands::dump"]),
    // Primitives behind one module each: ciphers, key derivation and randomness in crypto,
    // content-defined chunking in chunker, compression and CBOR in codec.
    ("chacha20poly1305", &["crypto"]),
    ("argon2", &["crypto"]),
    ("getrandom", &["crypto"]),
    ("fastcdc", &["chunker"]),
    ("zstd", &["codec"]),
    ("serde_cbor", &["codec"]),
    // The jobs' metrics in Prometheus text; notifications over HTTP and SMTP.
    ("prometheus_client", &["automation::metrics"]),
    ("ureq", &["automation::notify::webhook"]),
    ("lettre", &["automation::notify::email"]),
    // Signal handling is platform code.
    ("ctrlc", &["platform"]),
    // The key cache in the kernel keyring: one module of safe keyctl calls.
    ("linux_keyutils", &["platform::keyring"]),
];

/// May the file with module path `file` use the pinned crate `name`? (`None`: not pinned.)
pub fn crate_allowed(name: &str, file: &[String]) -> Option<bool> {
    let (_, places) = CRATES.iter().find(|(c, _)| *c == name)?;
    Some(places.iter().any(|p| {
        let place: Vec<&str> = p.split("::").collect();
        file.len() >= place.len() && file.iter().zip(&place).all(|(a, b)| a == b)
    }))
}

/// The pinned-crate uses in one file (`rel` is its path under `src/`) that [`CRATES`] forbids,
/// as `src/…:LINE: …` messages.
pub fn crate_violations(rel: &Path, text: &str) -> Vec<String> {
    let path = module_path(rel);
    let names: Vec<&str> = CRATES.iter().map(|(c, _)| *c).collect();
    let mut out = Vec::new();
    for (line, name) in crate_refs(&tokenize(text), &names) {
        if crate_allowed(&name, &path) == Some(false) {
            let places = CRATES.iter().find(|(c, _)| *c == name).map(|(_, p)| p.join(", ")).unwrap_or_default();
            out.push(format!(
                "{}:{line}: crate `{name}` used in {}; only {places} may use it (crate table in xtask/src/layers.rs)",
                Path::new("src").join(rel).display(),
                path.join("::"),
            ));
        }
    }
    out
}

/// Problems with the crate table itself: a crate that is not a dependency in `manifest`
/// (Cargo.toml's text), a place no file in `files` (module paths) is in.
fn crate_table_problems(manifest: &str, files: &[Vec<String>]) -> Vec<String> {
    let deps = dependencies(manifest);
    let mut out = Vec::new();
    for (name, places) in CRATES {
        if !deps.iter().any(|d| d == name) {
            out.push(format!("crate table: `{name}` is not in [dependencies] of Cargo.toml"));
        }
        for p in *places {
            let place: Vec<&str> = p.split("::").collect();
            if !files.iter().any(|f| f.len() >= place.len() && f.iter().zip(&place).all(|(a, b)| a == b)) {
                out.push(format!("crate table: `{name}` is allowed in {p}, which is no module under src/"));
            }
        }
    }
    out
}

/// The Rust names (`-` as `_`) of the `[dependencies]` of a Cargo.toml.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside {
            if let Some((key, _)) = line.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && !key.starts_with('#') {
                    out.push(key.replace('-', "_"));
                }
            }
        }
    }
    out
}

/// Files at the top of the crate, exempt from the layer check (the crate table still applies).
const EXEMPT: &[&str] = &["lib", "main"];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

/// May `from` use `to`?
pub fn allowed(from: &str, to: &str) -> bool {
    match (layer(from), layer(to)) {
        (Some(a), Some(b)) => b < a || (a == b && SAME_LAYER.contains(&(from, to))),
        _ => false,
    }
}

/// One `crate::<module>` reference found in a file.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference {
    pub line: usize,
    pub module: String,
}

/// What [`check`] found in a source tree.
#[derive(Debug, Default)]
pub struct Findings {
    pub violations: Vec<String>,
    pub unknown: BTreeSet<String>,
    pub crate_problems: Vec<String>,
    /// Escape hatches out of the sealed repository, and stale allow-list entries.
    pub sealed: Vec<String>,
    pub references: usize,
    pub edges: usize,
    pub files: usize,
}

impl Findings {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
            && self.unknown.is_empty()
            && self.crate_problems.is_empty()
            && self.sealed.is_empty()
    }
}

pub fn run(root: &Path) -> Result<()> {
    let f = check(root)?;
    for v in &f.violations {
        println!("{v}");
    }
    for m in &f.unknown {
        println!("src/{m}: module `{m}` is not in the layers table (xtask/src/layers.rs)");
    }
    for p in f.crate_problems.iter().chain(&f.sealed) {
        println!("{p}");
    }
    if f.ok() {
        println!(
            "layers OK: {} distinct module edges ({} references) checked in {} files; \
             {} pinned crates used only where the crate table allows; the repository is sealed \
             (no storage, keys or object paths reached outside src/repo/)",
            f.edges,
            f.references,
            f.files,
            CRATES.len()
        );
        Ok(())
    } else {
        Err(Error::Check(format!(
            "layers: {} forbidden references, {} unknown modules, {} crate table violations, {} escape hatches \
             out of the sealed repository",
            f.violations.len(),
            f.unknown.len(),
            f.crate_problems.len(),
            f.sealed.len()
        )))
    }
}

/// Check the source tree at `root` (its `src/` and `Cargo.toml`) against the three tables.
pub fn check(root: &Path) -> Result<Findings> {
    let src = root.join("src");
    let mut files = Vec::new();
    collect_rs(&src, &mut files)?;
    files.sort();

    // Top-level modules: `crate::<name>` naming anything else is an item of the crate root.
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(f.strip_prefix(&src).ok()?).first().cloned())
        .filter(|m| !EXEMPT.contains(&m.as_str()))
        .chain(LAYERS.iter().map(|(m, _)| m.to_string()))
        .collect();

    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| Error::io(format!("reading {}", manifest_path.display()), e))?;
    let file_paths: Vec<Vec<String>> =
        files.iter().filter_map(|f| Some(module_path(f.strip_prefix(&src).ok()?))).collect();
    let mut crate_problems = crate_table_problems(&manifest, &file_paths);

    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    let mut references = 0usize;
    let mut edges = BTreeSet::new();
    let mut sealed = Vec::new();
    let mut allowances_used = vec![0usize; crate::sealed::ALLOWED.len()];
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap_or(file);
        let path = module_path(rel);
        let Some(from) = path.first().cloned() else { continue };
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
        // lib.rs and main.rs are above every layer, but not above the crate table
        crate_problems.extend(crate_violations(rel, &text));
        sealed.extend(crate::sealed::violations(rel, &text, &mut allowances_used));
        if EXEMPT.contains(&from.as_str()) && path.len() == 1 {
            continue;
        }
        if layer(&from).is_none() {
            unknown.insert(from.clone());
            continue;
        }
        for r in references_in(&tokenize(&text), &path) {
            if r.module == from || !modules.contains(&r.module) {
                continue;
            }
            references += 1;
            edges.insert((from.clone(), r.module.clone()));
            if !allowed(&from, &r.module) {
                let shown = Path::new("src").join(rel);
                violations.push(format!("{}:{}: {from} -> {} not allowed", shown.display(), r.line, r.module));
            }
        }
    }

    sealed.extend(crate::sealed::stale_allowances(&allowances_used));
    Ok(Findings { violations, unknown, crate_problems, sealed, references, edges: edges.len(), files: files.len() })
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module path of a file relative to `src/`: `repo/saver.rs` → `[repo, saver]`,
/// `repo/mod.rs` → `[repo]`, `chunker.rs` → `[chunker]`.
pub fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last).to_string();
        if stem != "mod" {
            parts.push(stem);
        }
    }
    parts
}

/// Every reference to a top-level module in `toks`, for a file whose module path is `file_path`.
pub fn references_in(toks: &[Token], file_path: &[String]) -> Vec<Reference> {
    let mut out = Vec::new();
    // Inline modules (`mod tests { ... }`) open at a brace depth; `super` climbs out of them.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    for i in 0..toks.len() {
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        match &toks[i].tok {
            Tok::Punct('{') => {
                depth += 1;
                if i >= 2 && is_ident(toks.get(i - 2), "mod") && matches!(toks[i - 1].tok, Tok::Ident(_)) {
                    inline.push(depth);
                }
            }
            Tok::Punct('}') => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(s) if s == "crate" => {
                // `$crate` is a macro's own crate; `pub(in crate::x)` is visibility, not use.
                let after_sep = i >= 2 && path_sep(toks, i - 2);
                if is_punct(prev, '$') || is_ident(prev, "in") || after_sep || !path_sep(toks, i + 1) {
                    continue;
                }
                out.extend(first_segments(toks, i + 3).into_iter().map(|(line, module)| Reference { line, module }));
            }
            Tok::Ident(s) if s == "super" => {
                let after_sep = i >= 2 && path_sep(toks, i - 2);
                if is_ident(prev, "in") || after_sep {
                    continue;
                }
                let mut climbs = 1;
                let mut j = i + 1;
                while path_sep(toks, j) && is_ident(toks.get(j + 2), "super") {
                    climbs += 1;
                    j += 3;
                }
                if path_sep(toks, j) && climbs >= file_path.len() + inline.len() {
                    out.extend(
                        first_segments(toks, j + 2).into_iter().map(|(line, module)| Reference { line, module }),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str, file: &[&str]) -> Vec<(usize, String)> {
        let path: Vec<String> = file.iter().map(|s| s.to_string()).collect();
        references_in(&tokenize(src), &path).into_iter().map(|r| (r.line, r.module)).collect()
    }

    #[test]
    fn table_rules() {
        assert!(allowed("repo", "format"));
        assert!(allowed("repo", "cache"));
        assert!(!allowed("cache", "repo"));
        assert!(allowed("backend", "error"));
        assert!(!allowed("backend", "crypto"));
        assert!(!allowed("backend", "platform"));
        assert!(!allowed("format", "repo"));
        assert!(!allowed("crypto", "chunker"));
        assert!(!allowed("nosuch", "id"));
    }

    #[test]
    fn finds_paths_groups_and_super() {
        let src = "use crate::format::pack;\nuse crate::{crypto::Keys, id, self};\nfn f() { crate::codec::x(); }\n\
                   // crate::repo\nlet s = \"crate::cli\";\nmacro_rules! m { () => { $crate::cache::x } }\n\
                   pub(crate) fn g() {}\npub(in crate::format) fn h() {}\nuse super::chunker;\n\
                   mod tests { use super::*; use super::super::backend; }";
        assert_eq!(
            refs(src, &["repo"]),
            vec![
                (1, "format".into()),
                (2, "crypto".into()),
                (2, "id".into()),
                (3, "codec".into()),
                (9, "chunker".into()),
                (10, "backend".into()),
            ]
        );
        // From src/repo/saver.rs, `super::chunker` is `repo::chunker`: not a top-level reference.
        assert_eq!(refs("use super::chunker;", &["repo", "saver"]), vec![]);
    }

    #[test]
    fn module_paths() {
        assert_eq!(module_path(Path::new("repo/saver.rs")), vec!["repo", "saver"]);
        assert_eq!(module_path(Path::new("repo/mod.rs")), vec!["repo"]);
        assert_eq!(module_path(Path::new("chunker.rs")), vec!["chunker"]);
    }

    #[test]
    fn a_face_using_fuser_is_refused_and_the_adapter_is_not() {
        let planted = "use std::sync::Arc;\nfn mount() {\n    let s = fuser::spawn_mount(fs, &target, &config);\n}\n";
        let v = crate_violations(Path::new("cli/mount.rs"), planted);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].starts_with("src/cli/mount.rs:3: crate `fuser` used in cli::mount; only mount::fuse"), "{v:?}");
        let imported = crate_violations(Path::new("cli/mount.rs"), "use fuser::MountOption;\nextern crate fuser;");
        assert_eq!(imported.len(), 2, "{imported:?}");
        // the adapter may, and so may the rest of a module allowed whole
        assert_eq!(crate_violations(Path::new("mount/fuse.rs"), planted), Vec::<String>::new());
        assert_eq!(crate_violations(Path::new("cache/history.rs"), "use rusqlite::Connection;"), Vec::<String>::new());
        assert_eq!(crate_violations(Path::new("backend/opendal/local.rs"), "fn f() -> tokio::Handle {}").len(), 0);
        // a module whose name only starts like the allowed one is not inside it
        assert_eq!(crate_violations(Path::new("mount/fusex.rs"), planted).len(), 1);
        assert_eq!(crate_violations(Path::new("backend/mod.rs"), "use opendal::Operator;").len(), 1);
        // the top files are not exempt from the crate table
        assert_eq!(crate_violations(Path::new("main.rs"), "fn main() { clap::Command::new(\"x\"); }").len(), 1);
        // unpinned crates are free
        assert_eq!(crate_violations(Path::new("format/tree.rs"), "use serde::Serialize;"), Vec::<String>::new());
    }

    /// A source tree under the temporary directory that passes every check: each crate of the
    /// crate table a dependency, each of its places a file, each allow-list entry used.
    fn clean_tree(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("xtask-layers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut manifest = String::from("[package]\nname = \"planted\"\n[dependencies]\n");
        for (c, places) in CRATES {
            manifest.push_str(&format!("{c} = \"1\"\n"));
            for p in *places {
                plant(&root, &format!("src/{}.rs", p.replace("::", "/")), "");
            }
        }
        std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
        for a in crate::sealed::ALLOWED {
            let text = match a.found.starts_with('"') {
                true => format!("const ALLOWED: &str = {};\n", a.found),
                false => format!("fn allowed() {{ {}; }}\n", a.found),
            };
            plant(&root, &format!("src/{}", a.file), &text);
        }
        root
    }

    /// Append `text` to the file `rel` under `root`.
    fn plant(root: &Path, rel: &str, text: &str) {
        use std::io::Write;
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_planted_escape_hatch_out_of_the_repository_fails_the_check() {
        let root = clean_tree("sealed");
        let clean = check(&root).unwrap();
        assert!(clean.ok(), "{clean:?}");
        assert!(run(&root).is_ok());

        // inside repo/ the storage and keys are at home
        let reach = "fn f(repo: &Repository, id: &ObjectId) {\n    let k = repo.keys();\n    \
                     repo.delete_file(&format!(\"snapshots/{id}\"));\n}\n";
        plant(&root, "src/repo/objects.rs", reach);
        assert!(check(&root).unwrap().ok());

        // an engine doing the same is refused, naming the file, the line and what it did
        plant(&root, "src/maintenance/planted.rs", reach);
        let f = check(&root).unwrap();
        assert_eq!(f.sealed.len(), 2, "{f:?}");
        assert!(
            f.sealed[0].starts_with("src/maintenance/planted.rs:2: `repo.keys()` reaches into a Repository"),
            "{f:?}"
        );
        assert!(f.sealed[1].starts_with("src/maintenance/planted.rs:3: `\"snapshots/{id}\"` spells out an object path"));
        assert!(f.violations.is_empty() && f.crate_problems.is_empty(), "only the seal is broken: {f:?}");
        let e = run(&root).unwrap_err();
        assert!(e.to_string().contains("2 escape hatches out of the sealed repository"), "{e}");

        let _ = std::fs::remove_dir_all(&root);

        // and so is an allow-list entry that no longer allows anything
        let root = clean_tree("stale");
        std::fs::write(root.join("src").join(crate::sealed::ALLOWED[0].file), "").unwrap();
        let f = check(&root).unwrap();
        assert_eq!(f.sealed.len(), 1, "{f:?}");
        assert!(f.sealed[0].contains("allows nothing any more"), "{f:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_crate_table_names_real_dependencies_and_places() {
        let manifest = "[package]\nname = \"x\"\n[dependencies]\nfuser = \"0.18\"\ntracing-subscriber = \"0.3\"\n\
                        [dev-dependencies]\ntokio = \"1\"\n";
        let deps = dependencies(manifest);
        assert_eq!(deps, vec!["fuser", "tracing_subscriber"]);
        let problems = crate_table_problems(manifest, &[vec!["mount".into(), "fuse".into()]]);
        assert!(problems.iter().any(|p| p.contains("`tokio` is not in [dependencies]")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("allowed in cache, which is no module")), "{problems:?}");
        assert!(!problems.iter().any(|p| p.contains("`fuser`")), "{problems:?}");
    }
}
