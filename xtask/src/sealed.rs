//! The repository is sealed (part of `cargo xtask layers`): outside `src/repo/`, no code
//! reaches past `Repository` to its storage or its keys, and no object path is spelled out.
//! Engines and faces name objects by kind and id (`ObjectKind`, `PackId`) and get typed
//! operations from `repo/`, so the storage layout and the keys live in one place.
//!
//! The compiler keeps most of it: `Repository::keys` is `pub(in crate::repo)` and there is no
//! accessor for the backend. This check keeps it that way if someone widens them again, and
//! covers what visibility cannot: a path string built by hand. It reports, in every file under
//! `src/` outside [`SEALED`]:
//!
//! - a call of a method in [`HATCHES`] (`x.backend()`, `repo.keys()`, or through the path
//!   `Repository::keys`); `keys` only on a receiver whose name says repository (`repo`,
//!   `self.repo`, `target_repo`), since maps have `keys()` too;
//! - a string literal that starts with an object directory ([`OBJECT_DIRS`], `"snapshots/…"`),
//!   except inside `#[cfg(test)] mod … { }`, where unit tests use example paths.
//!
//! [`ALLOWED`] lists the few exceptions, each with its reason; an entry that allows nothing is
//! itself reported, so the list cannot outlive its reasons.

use std::path::Path;

use crate::rust_scan::{is_ident, is_punct, path_sep, scan, Tok, Token};

/// The module that may do everything this check refuses elsewhere.
pub const SEALED: &str = "repo";

/// The directories of a repository's layout (format-spec §6): a literal starting with one is an
/// object path.
pub const OBJECT_DIRS: &[&str] = &["snapshots/", "index/", "keys/", "locks/", "data/"];

/// Methods that would hand out a repository's insides, and whether any receiver counts
/// (`false`: only one named like a repository).
pub const HATCHES: &[(&str, bool)] = &[("backend", true), ("keys", false)];

/// An exception: in `file` (under `src/`), `found` (as the check prints it) is allowed.
pub struct Allowed {
    pub file: &'static str,
    pub found: &'static str,
    pub why: &'static str,
}

pub const ALLOWED: &[Allowed] = &[
    Allowed {
        file: "cli/settings.rs",
        found: "self.backend()",
        why: "Settings::backend() opens the storage a repository is created in or opened from: no Repository yet",
    },
    Allowed {
        file: "cli/handlers.rs",
        found: "s.backend()",
        why: "init and the commands that open storage before a repository exists call Settings::backend()",
    },
    Allowed {
        file: "cli/maintenance.rs",
        found: "s.backend()",
        why: "repair config opens the storage of a repository whose config is missing: no Repository yet",
    },
    Allowed {
        file: "mount/layout.rs",
        found: "\"snapshots/%T\"",
        why: "a directory of the mounted file system (restic's layout), not a stored object",
    },
];

/// One thing found, before the allow-list is applied.
#[derive(Debug, PartialEq, Eq)]
pub struct Finding {
    pub line: usize,
    /// What was found, as the allow-list names it: `repo.keys()`, `"snapshots/"`.
    pub found: String,
    pub what: &'static str,
}

/// Everything in one file's text that the rules above refuse (allow-list not applied).
pub fn findings(text: &str) -> Vec<Finding> {
    let (toks, literals) = scan(text);
    let tests = test_modules(&toks);
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let Tok::Ident(name) = &toks[i].tok else { continue };
        let Some(&(_, any)) = HATCHES.iter().find(|(m, _)| m == name) else { continue };
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        let called = is_punct(toks.get(i + 1), '(') && is_punct(toks.get(i + 2), ')');
        if is_punct(prev, '.') && called {
            let receiver = match i.checked_sub(2).and_then(|p| toks.get(p)) {
                Some(Token { tok: Tok::Ident(r), .. }) => r.clone(),
                Some(Token { tok: Tok::Punct(c), .. }) => c.to_string(),
                None => String::new(),
            };
            if any || receiver.to_lowercase().contains("repo") {
                let found = format!("{receiver}.{name}()");
                out.push(Finding { line: toks[i].line, found, what: "reaches into a Repository" });
            }
        } else if i >= 3 && path_sep(&toks, i - 2) && is_ident(toks.get(i - 3), "Repository") {
            let found = format!("Repository::{name}");
            out.push(Finding { line: toks[i].line, found, what: "reaches into a Repository" });
        }
    }
    for l in literals {
        let in_test = tests.iter().any(|r| r.contains(&l.at));
        if !in_test && OBJECT_DIRS.iter().any(|d| l.text.starts_with(d)) {
            let found = format!("\"{}\"", l.text);
            out.push(Finding { line: l.line, found, what: "spells out an object path" });
        }
    }
    out.sort_by(|a, b| (a.line, &a.found).cmp(&(b.line, &b.found)));
    out
}

/// The token ranges of the inline modules under `#[cfg(test)]`.
fn test_modules(toks: &[Token]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]", "mod"];
    for i in 0..toks.len() {
        let matches = cfg_test.iter().enumerate().all(|(k, want)| match toks.get(i + k).map(|t| &t.tok) {
            Some(Tok::Ident(s)) => s == want,
            Some(Tok::Punct(c)) => want.len() == 1 && want.starts_with(*c),
            None => false,
        });
        // `#[cfg(test)] mod name {`: the module runs to its matching brace
        if !matches || !is_punct(toks.get(i + 9), '{') {
            continue;
        }
        let mut depth = 0usize;
        for (j, t) in toks.iter().enumerate().skip(i + 9) {
            match t.tok {
                Tok::Punct('{') => depth += 1,
                Tok::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        out.push(i + 9..j);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The findings in the file `rel` (its path under `src/`) that [`ALLOWED`] does not excuse, as
/// `src/…:LINE: …` messages; `used` counts each allow-list entry that excused something.
pub fn violations(rel: &Path, text: &str, used: &mut [usize]) -> Vec<String> {
    if rel.iter().next().is_some_and(|m| m == SEALED) {
        return Vec::new();
    }
    let file = rel.to_string_lossy();
    let mut out = Vec::new();
    for f in findings(text) {
        if let Some(k) = ALLOWED.iter().position(|a| a.file == file && a.found == f.found) {
            if let Some(n) = used.get_mut(k) {
                *n += 1;
            }
            continue;
        }
        out.push(format!(
            "src/{file}:{}: `{}` {} outside src/{SEALED}/; use a typed operation of Repository \
             (ObjectKind, packs, blobs; xtask/src/sealed.rs)",
            f.line, f.found, f.what
        ));
    }
    out
}

/// Allow-list entries that excused nothing (`used` as filled by [`violations`]).
pub fn stale_allowances(used: &[usize]) -> Vec<String> {
    ALLOWED
        .iter()
        .zip(used)
        .filter(|(_, n)| **n == 0)
        .map(|(a, _)| {
            format!(
                "sealed allow-list: `{}` in src/{} allows nothing any more (it was allowed because: {}); remove the entry",
                a.found, a.file, a.why
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(usize, String)> {
        findings(text).into_iter().map(|f| (f.line, f.found)).collect()
    }

    #[test]
    fn reaching_into_a_repository_is_found() {
        let planted = "fn f(repo: &Repository) {\n    let b = repo.backend();\n    let k = self.repo.keys();\n\
                       let t = target_repo.keys().seal;\n    let r = Repository::keys(&repo);\n    let h = opened?.backend();\n}";
        assert_eq!(
            found(planted),
            vec![
                (2, "repo.backend()".into()),
                (3, "repo.keys()".into()),
                (4, "target_repo.keys()".into()),
                (5, "Repository::keys".into()),
                (6, "?.backend()".into()),
            ]
        );
        // a map's keys, a method of that name defined, and a call with arguments are not
        let fine = "let k = stored.keys();\nfn backend(&self) -> X {}\nfn keys(&self) {}\nlet p = x.keys_of(y);";
        assert_eq!(found(fine), vec![]);
    }

    #[test]
    fn object_paths_are_found_outside_unit_tests_and_comments() {
        let planted = "fn f(id: &ObjectId) {\n    let p = format!(\"snapshots/{id}\");\n    let q = r#\"data/ab/\"#;\n\
                       // \"index/{id}\" in a comment\n    let list = repo.list(\"locks\");\n}\n\
                       #[cfg(test)]\nmod tests {\n    fn t() { let p = \"keys/ab\"; }\n}\nconst K: &str = \"keys/{x}\";";
        assert_eq!(
            found(planted),
            vec![(2, "\"snapshots/{id}\"".into()), (3, "\"data/ab/\"".into()), (11, "\"keys/{x}\"".into())]
        );
    }

    #[test]
    fn the_repository_itself_and_the_allow_list_are_exempt() {
        let mut used = vec![0; ALLOWED.len()];
        let planted = "fn f() { let p = format!(\"index/{id}\"); repo.keys(); }";
        assert_eq!(violations(Path::new("repo/index.rs"), planted, &mut used), Vec::<String>::new());
        let v = violations(Path::new("maintenance/check.rs"), planted, &mut used);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("src/maintenance/check.rs:1: `\"index/{id}\"` spells out an object path"), "{v:?}");
        assert!(v[1].contains("`repo.keys()` reaches into a Repository outside src/repo/"), "{v:?}");
        // Settings::backend() in the face that opens storage is allowed, and counted as used
        let settings = "fn open(&self) { let b = self.backend()?; }";
        assert_eq!(violations(Path::new("cli/settings.rs"), settings, &mut used), Vec::<String>::new());
        assert_eq!(used[0], 1);
        // the same call elsewhere is not
        assert_eq!(violations(Path::new("commands/init.rs"), settings, &mut used).len(), 1);
        // an entry that allowed nothing is reported
        let stale = stale_allowances(&used);
        assert_eq!(stale.len(), ALLOWED.len() - 1, "{stale:?}");
        assert!(stale[0].contains("allows nothing any more"), "{stale:?}");
    }
}
