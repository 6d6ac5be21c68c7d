//! A small Rust tokenizer, just enough to find module paths in source text.
//!
//! It yields identifiers and single punctuation characters with their line numbers, and drops
//! everything that can't name a module: whitespace, line and (nested) block comments, doc
//! comments, string, byte-string, C-string and raw-string literals, char and byte literals,
//! lifetimes and numbers. So `crate::x` inside a comment or a string is never seen. It does
//! not expand macros and does not need the code to compile; malformed input ends a literal or
//! comment at end of file instead of failing. [`scan`] also returns the string literals it
//! dropped (their text as written, with the place among the tokens where each stood), for
//! checks that look for a string such as an object path.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    Punct(char),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

/// A string literal (plain, raw, byte or C string): its text between the quotes as written
/// (escapes not resolved), its line, and how many tokens came before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Literal {
    pub text: String,
    pub line: usize,
    pub at: usize,
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                return;
            }
            self.bump();
        }
    }

    /// After `/*`: skip to the matching `*/`, counting nested openers.
    fn skip_block_comment(&mut self) {
        let mut depth = 1usize;
        while depth > 0 {
            match (self.bump(), self.peek(0)) {
                (Some('/'), Some('*')) => {
                    self.bump();
                    depth += 1;
                }
                (Some('*'), Some('/')) => {
                    self.bump();
                    depth -= 1;
                }
                (None, _) => return,
                _ => {}
            }
        }
    }

    /// After the opening `"`: skip to the closing one, honouring backslash escapes; returns
    /// the text in between as written.
    fn skip_string(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => return self.chars[start..self.pos - 1].iter().collect(),
                _ => {}
            }
        }
        self.chars[start..].iter().collect()
    }

    /// At `#`s or `"` after `r`: skip a raw string `#*"..."#*` and return its text. Returns
    /// `None` (consuming nothing) when this is not a raw string, e.g. the raw identifier
    /// `r#match`.
    fn skip_raw_string(&mut self) -> Option<String> {
        let hashes = (0..).take_while(|&i| self.peek(i) == Some('#')).count();
        if self.peek(hashes) != Some('"') {
            return None;
        }
        for _ in 0..=hashes {
            self.bump();
        }
        let start = self.pos;
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|i| self.peek(i) == Some('#')) {
                let text = self.chars[start..self.pos - 1].iter().collect();
                for _ in 0..hashes {
                    self.bump();
                }
                return Some(text);
            }
        }
        Some(self.chars[start..].iter().collect())
    }

    /// At `'`: a char literal (`'a'`, `'\n'`, `'\u{1F600}'`) or a lifetime/label (`'a`).
    fn skip_quote(&mut self) {
        self.bump();
        if self.peek(0) == Some('\\') {
            while let Some(c) = self.bump() {
                if c == '\'' || c == '\n' {
                    return;
                }
                if c == '\\' {
                    self.bump();
                }
            }
        } else if self.peek(1) == Some('\'') {
            self.bump();
            self.bump();
        } else {
            while self.peek(0).is_some_and(is_ident_continue) {
                self.bump();
            }
        }
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0).filter(|&c| is_ident_continue(c)) {
            s.push(c);
            self.bump();
        }
        s
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Tokenize `src` (see the module docs for what is kept).
pub fn tokenize(src: &str) -> Vec<Token> {
    scan(src).0
}

/// Tokenize `src`, and return the string literals dropped on the way too.
pub fn scan(src: &str) -> (Vec<Token>, Vec<Literal>) {
    let mut lx = Lexer { chars: src.chars().collect(), pos: 0, line: 1 };
    let mut out = Vec::new();
    let mut literals = Vec::new();
    while let Some(c) = lx.peek(0) {
        let line = lx.line;
        match c {
            c if c.is_whitespace() => {
                lx.bump();
            }
            '/' if lx.peek(1) == Some('/') => lx.skip_line(),
            '/' if lx.peek(1) == Some('*') => {
                lx.bump();
                lx.bump();
                lx.skip_block_comment();
            }
            '"' => {
                lx.bump();
                let text = lx.skip_string();
                literals.push(Literal { text, line, at: out.len() });
            }
            '\'' => lx.skip_quote(),
            c if c.is_ascii_digit() => {
                lx.ident();
            }
            c if is_ident_start(c) => {
                // Literal prefixes: b"", b'', br"", r"", r#""#, c"", cr"".
                let prefix_len = match (c, lx.peek(1), lx.peek(2)) {
                    ('b' | 'c', Some('r'), Some('"' | '#')) => 2,
                    ('b' | 'c' | 'r', Some('"'), _) | ('r', Some('#'), _) | ('b', Some('\''), _) => 1,
                    _ => 0,
                };
                if prefix_len > 0 {
                    let at = lx.pos;
                    let raw = lx.peek(prefix_len - 1) == Some('r');
                    for _ in 0..prefix_len {
                        lx.bump();
                    }
                    match lx.peek(0) {
                        Some('\'') => lx.skip_quote(),
                        Some('"') if !raw => {
                            lx.bump();
                            let text = lx.skip_string();
                            literals.push(Literal { text, line, at: out.len() });
                        }
                        _ => match lx.skip_raw_string() {
                            Some(text) => literals.push(Literal { text, line, at: out.len() }),
                            None => {
                                // `r#ident`: a raw identifier; keep its name.
                                lx.pos = at + 2;
                                let name = lx.ident();
                                out.push(Token { tok: Tok::Ident(name), line });
                            }
                        },
                    }
                } else {
                    let name = lx.ident();
                    out.push(Token { tok: Tok::Ident(name), line });
                }
            }
            c => {
                lx.bump();
                out.push(Token { tok: Tok::Punct(c), line });
            }
        }
    }
    (out, literals)
}

pub fn is_ident(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Ident(s), .. }) if s == name)
}

pub fn is_punct(t: Option<&Token>, c: char) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(p), .. }) if *p == c)
}

/// Is there a `::` at `i`?
pub fn path_sep(toks: &[Token], i: usize) -> bool {
    is_punct(toks.get(i), ':') && is_punct(toks.get(i + 1), ':')
}

/// The first segments (line, name) of the path, or `{group}` of paths, starting at `toks[i]`:
/// `a::b` gives `a`, `{a::b, c, self}` gives `a` and `c`.
pub fn first_segments(toks: &[Token], i: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    match toks.get(i) {
        Some(Token { tok: Tok::Ident(s), line }) if s != "self" && s != "super" => {
            out.push((*line, s.clone()));
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
                            break;
                        }
                    }
                    Tok::Punct(',') if depth == 1 => expect_segment = true,
                    Tok::Ident(s) if expect_segment && depth == 1 => {
                        if s != "self" {
                            out.push((t.line, s.clone()));
                        }
                        expect_segment = false;
                    }
                    _ => expect_segment = false,
                }
            }
        }
        _ => {}
    }
    out
}

/// Keywords that declare a named item a path can start with (`mod opendal;` makes
/// `opendal::x` the module, not the crate).
const ITEM_KEYWORDS: &[&str] = &["mod", "struct", "enum", "union", "trait", "type"];

/// Every place `toks` names one of the external crates `names`, as (line, crate):
/// `extern crate c`, `use c::…` / `use c;` / `use {c::…, …}`, and a path `c::…` anywhere
/// (expressions, types, attributes such as `#[tokio::main]`), including `::c::…`. A segment
/// after `::` (`crate::backend::opendal`, `super::tar`) is not the crate. Where the file binds
/// the name itself (`mod opendal;`, `use crate::x::tar;`, `use … as zip;`, `struct zip`),
/// `c::…` is that local item, and only `::c::…` and `extern crate c` still count.
pub fn crate_refs(toks: &[Token], names: &[&str]) -> Vec<(usize, String)> {
    let wanted = |s: &str| names.contains(&s);
    let local = local_bindings(toks);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let Tok::Ident(s) = &t.tok else { continue };
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        if s == "extern" && is_ident(toks.get(i + 1), "crate") {
            if let Some(Token { tok: Tok::Ident(c), line }) = toks.get(i + 2) {
                if wanted(c) {
                    out.push((*line, c.clone()));
                }
            }
            continue;
        }
        if s == "use" && !is_punct(prev, '.') {
            let start = if path_sep(toks, i + 1) { i + 3 } else { i + 1 };
            let global = start == i + 3;
            for (line, c) in first_segments(toks, start) {
                if wanted(&c) && (global || !local.contains(&c)) {
                    out.push((line, c));
                }
            }
            continue;
        }
        if !wanted(s) || !path_sep(toks, i + 1) {
            continue;
        }
        // `::c::x` is global when the `::` does not continue a path (`a::c`, `T>::c`, `f()::c`).
        let before = |k: usize| i.checked_sub(k).and_then(|p| toks.get(p));
        let arrow = is_punct(before(3), '>') && is_punct(before(4), '-');
        let global = i >= 2
            && path_sep(toks, i - 2)
            && (arrow || !matches!(before(3), Some(Token { tok: Tok::Ident(_) | Tok::Punct('>' | ')'), .. })));
        let continues_path = i >= 2 && path_sep(toks, i - 2) && !global;
        if continues_path || (!global && local.contains(s)) {
            continue;
        }
        out.push((t.line, s.clone()));
    }
    out.sort();
    out.dedup();
    out
}

/// Names the file binds itself: items (`mod x`, `struct x`, …) and the last segment or `as`
/// name of a `use` that does not start with that name.
fn local_bindings(toks: &[Token]) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_use = false;
    for (i, t) in toks.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| toks.get(p));
        match &t.tok {
            Tok::Ident(s) if s == "use" && !is_punct(prev, '.') => in_use = true,
            Tok::Punct(';') => in_use = false,
            Tok::Ident(s) => {
                let item = prev.is_some_and(|p| ITEM_KEYWORDS.iter().any(|k| is_ident(Some(p), k)));
                let renamed = in_use && is_ident(prev, "as");
                let last = in_use
                    && i >= 2
                    && path_sep(toks, i - 2)
                    && matches!(toks.get(i + 1), Some(Token { tok: Tok::Punct(';' | ',' | '}'), .. }));
                if item || renamed || last {
                    names.push(s.clone());
                }
            }
            _ => {}
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(src: &str) -> Vec<String> {
        tokenize(src)
            .into_iter()
            .filter_map(|t| match t.tok {
                Tok::Ident(s) => Some(s),
                Tok::Punct(_) => None,
            })
            .collect()
    }

    #[test]
    fn drops_comments_and_literals() {
        let src = r####"
            // crate::a
            /* crate::b /* nested crate::c */ still comment */
            let s = "crate::d \" crate::e";
            let r = r#"crate::f "quoted" "#;
            let b = b"crate::g"; let c = 'x'; let e = '\''; let l: &'static str = br##"crate::h"##;
            fn f<'a>(x: &'a u8) {}
            keep
        "####;
        let ids = idents(src);
        assert!(!ids.iter().any(|i| i == "crate"), "{ids:?}");
        assert!(ids.contains(&"keep".to_string()));
        assert!(ids.contains(&"str".to_string()) && !ids.contains(&"static".to_string()));
    }

    #[test]
    fn string_literals_are_returned_with_their_place() {
        let src = "let a = \"snapshots/x\";\nf(r#\"index/\"q\"#, b\"keys/\", 'c', r#type);\n// \"locks/\"";
        let (toks, lits) = scan(src);
        let got: Vec<(&str, usize, usize)> = lits.iter().map(|l| (l.text.as_str(), l.line, l.at)).collect();
        assert_eq!(got, vec![("snapshots/x", 1, 3), ("index/\"q", 2, 6), ("keys/", 2, 7)]);
        assert!(is_ident(toks.get(3), ";") || is_punct(toks.get(3), ';'), "{toks:?}");
        assert!(toks.iter().any(|t| t.tok == Tok::Ident("type".into())), "a raw identifier is kept");
    }

    #[test]
    fn raw_identifiers_and_lines() {
        let toks = tokenize("a\nr#match\n\"x\ny\"\nz");
        let lines: Vec<(String, usize)> = toks
            .into_iter()
            .filter_map(|t| match t.tok {
                Tok::Ident(s) => Some((s, t.line)),
                Tok::Punct(_) => None,
            })
            .collect();
        assert_eq!(lines, vec![("a".into(), 1), ("match".into(), 2), ("z".into(), 5)]);
    }

    fn refs(src: &str) -> Vec<(usize, String)> {
        crate_refs(&tokenize(src), &["fuser", "opendal", "tar", "tokio"])
    }

    #[test]
    fn crate_paths_in_use_expressions_attributes_and_extern_crate() {
        let src = "use fuser::{Filesystem, Request};\nuse {tokio::runtime, std::io};\n\
                   fn f() { let s = fuser::spawn_mount(x); }\n#[tokio::main]\nasync fn m() {}\n\
                   extern crate tar as archive;\nfn g() -> ::opendal::Result<()> { todo!() }\nuse opendal;\n\
                   // fuser::x in a comment\nlet t = \"tar::y in a string\";\n";
        assert_eq!(
            refs(src),
            vec![
                (1, "fuser".into()),
                (2, "tokio".into()),
                (3, "fuser".into()),
                (4, "tokio".into()),
                (6, "tar".into()),
                (7, "opendal".into()),
                (8, "opendal".into()),
            ]
        );
    }

    #[test]
    fn a_segment_inside_a_path_or_a_local_item_is_not_the_crate() {
        // backend/mod.rs: `mod opendal;` and then `opendal::OpendalBackend` is the module
        let src = "mod opendal;\nfn f() { opendal::OpendalBackend::new(); }\nuse crate::backend::opendal::X;\n\
                   use super::tar;\nfn g() { tar::pack(); self::tokio::x(); a.fuser; Iter::tar::<u8>(); }";
        assert_eq!(refs(src), vec![]);
        // a local item does not hide an explicit global path or `extern crate`
        assert_eq!(refs("mod tar;\nfn f() { ::tar::Archive::new(); }"), vec![(2, "tar".into())]);
        assert_eq!(refs("mod tar;\nextern crate tar;"), vec![(2, "tar".into())]);
    }

    #[test]
    fn first_segments_of_paths_and_groups() {
        let toks = tokenize("a::b; {c::d, self, e::{f, g}, h}");
        let names = |i| first_segments(&toks, i).into_iter().map(|(_, s)| s).collect::<Vec<_>>();
        assert_eq!(names(0), vec!["a"]);
        assert_eq!(names(5), vec!["c", "e", "h"]);
    }
}
