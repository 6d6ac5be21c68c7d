//! `cargo xtask layers`: the allowed `use crate::` edges between arca's top-level modules, kept
//! in one table so the layering (STYLE.md, "The house") is enforced by a tool, not by memory.
//!
//! A module is the first path segment under `src/` (`src/repo/saver.rs` is `repo`,
//! `src/chunker.rs` is `chunker`). A module may use any module of a lower layer; within its
//! own layer only the pairs in [`SAME_LAYER`] are allowed. `lib.rs` and `main.rs` are the top
//! (L7) and exempt. A module missing from [`LAYERS`] is an error, so a new module must be
//! placed deliberately.
//!
//! References are found by tokenizing each file (comments and literals dropped) and reading
//! every path that starts with `crate::`, including grouped imports (`use crate::{a, b::c}`),
//! and every `super::` chain that climbs to the crate root (tracking inline `mod x { }`).
//! Macro-generated paths and `#[path]` attributes are not seen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cmd::{Error, Result};
use crate::rust_scan::{tokenize, Tok, Token};

/// Layers, lowest first. Modules not present yet (`util`, `mount`) are listed so they slot in.
pub const LAYERS: &[(&str, u8)] = &[
    ("backend", 0),
    ("platform", 0),
    ("util", 0),
    ("id", 0),
    ("error", 0),
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
    ("repo", "cache"),
];

/// Files at the top of the crate, exempt from the check.
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

pub fn run(root: &Path) -> Result<()> {
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

    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    let mut references = 0usize;
    let mut edges = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap_or(file);
        let path = module_path(rel);
        let Some(from) = path.first().cloned() else { continue };
        if EXEMPT.contains(&from.as_str()) && path.len() == 1 {
            continue;
        }
        if layer(&from).is_none() {
            unknown.insert(from.clone());
            continue;
        }
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(format!("reading {}", file.display()), e))?;
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

    for v in &violations {
        println!("{v}");
    }
    for m in &unknown {
        println!("src/{m}: module `{m}` is not in the layers table (xtask/src/layers.rs)");
    }
    if violations.is_empty() && unknown.is_empty() {
        println!(
            "layers OK: {} distinct module edges ({references} references) checked in {} files",
            edges.len(),
            files.len()
        );
        Ok(())
    } else {
        Err(Error::Check(format!(
            "layers: {} forbidden references, {} unknown modules",
            violations.len(),
            unknown.len()
        )))
    }
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

fn is_ident(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Ident(s), .. }) if s == name)
}

fn is_punct(t: Option<&Token>, c: char) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
}

/// Is there a `::` at `i`?
fn path_sep(toks: &[Token], i: usize) -> bool {
    is_punct(toks.get(i), ':') && is_punct(toks.get(i + 1), ':')
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
                first_segments(toks, i + 3, &mut out);
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
                    first_segments(toks, j + 2, &mut out);
                }
            }
            _ => {}
        }
    }
    out
}

/// The first segments of the path (or `{group}` of paths) starting at `toks[i]`.
fn first_segments(toks: &[Token], i: usize, out: &mut Vec<Reference>) {
    match toks.get(i) {
        Some(Token { tok: Tok::Ident(s), line }) if s != "self" && s != "super" => {
            out.push(Reference { line: *line, module: s.clone() });
        }
        Some(Token { tok: Tok::Punct('{'), .. }) => {
            let mut depth = 0usize;
            let mut expect_segment = true;
            for t in &toks[i..] {
                match &t.tok {
                    Tok::Punct('{') => {
                        depth += 1;
                        expect_segment = depth == 1;
                    }
                    Tok::Punct('}') => {
                        depth -= 1;
                        if depth == 0 {
                            return;
                        }
                    }
                    Tok::Punct(',') if depth == 1 => expect_segment = true,
                    Tok::Ident(s) if expect_segment && depth == 1 => {
                        if s != "self" {
                            out.push(Reference { line: t.line, module: s.clone() });
                        }
                        expect_segment = false;
                    }
                    _ => expect_segment = false,
                }
            }
        }
        _ => {}
    }
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
}
