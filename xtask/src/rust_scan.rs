//! A small Rust tokenizer, just enough to find module paths in source text.
//!
//! It yields identifiers and single punctuation characters with their line numbers, and drops
//! everything that can't name a module: whitespace, line and (nested) block comments, doc
//! comments, string, byte-string, C-string and raw-string literals, char and byte literals,
//! lifetimes and numbers. So `crate::x` inside a comment or a string is never seen. It does
//! not expand macros and does not need the code to compile; malformed input ends a literal or
//! comment at end of file instead of failing.

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

    /// After the opening `"`: skip to the closing one, honouring backslash escapes.
    fn skip_string(&mut self) {
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => return,
                _ => {}
            }
        }
    }

    /// At `#`s or `"` after `r`: skip a raw string `#*"..."#*`. Returns false (consuming
    /// nothing) when this is not a raw string, e.g. the raw identifier `r#match`.
    fn skip_raw_string(&mut self) -> bool {
        let hashes = (0..).take_while(|&i| self.peek(i) == Some('#')).count();
        if self.peek(hashes) != Some('"') {
            return false;
        }
        for _ in 0..=hashes {
            self.bump();
        }
        while let Some(c) = self.bump() {
            if c == '"' && (0..hashes).all(|i| self.peek(i) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return true;
            }
        }
        true
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
    let mut lx = Lexer { chars: src.chars().collect(), pos: 0, line: 1 };
    let mut out = Vec::new();
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
                lx.skip_string();
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
                            lx.skip_string();
                        }
                        _ if lx.skip_raw_string() => {}
                        _ => {
                            // `r#ident`: a raw identifier; keep its name.
                            lx.pos = at + 2;
                            let name = lx.ident();
                            out.push(Token { tok: Tok::Ident(name), line });
                        }
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
    out
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
}
