//! Printing: human text on a terminal (progress bars on long work), JSON lines with --json.
//!
//! File names, host and user names, tags and key fields come from the file system or the
//! repository, and whoever wrote them may have put terminal escapes in them (`ESC ]` sets the
//! window title, `ESC [ … m` repaints, a newline forges a line). Human output therefore goes
//! through [`term`]: every control character is printed escaped (`\x1b`, `\n`). Lines made of
//! such names use [`Out::entry`]; `text`, `note` and errors escape everything but their own
//! newlines; warnings escape everything. JSON output is exact (serde escapes).
//!
//! `--quiet` silences progress and chatter, never the results a command was asked for (the
//! kinds of [`Line`] say which is which), as restic does.
//!
//! A reader that goes away (`arca cat … | head`, `arca ls … | head`) closes stdout: the write
//! fails with `EPIPE` (Rust ignores `SIGPIPE`). Every write to stdout goes through here, which
//! notes the closed pipe ([`stdout_closed`]) and writes nothing more; the command then ends
//! quietly with exit code 0 (restic's output also just stops), never with a panic.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Has the reader of stdout gone away (a closed pipe)?
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Note the outcome of a write to stdout: a closed pipe is remembered; the outcome is handed
/// back as it is.
fn stdout_result<T>(r: std::io::Result<T>) -> std::io::Result<T> {
    if r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
    r
}

/// Bytes to stdout (`cat`, `dump`): a closed pipe is noted ([`stdout_closed`]) and returned as
/// the error it is, so the command stops writing.
pub struct Stdout<W: Write>(pub W);

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if stdout_closed() {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        stdout_result(self.0.write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        stdout_result(self.0.flush())
    }
}

use indicatif::HumanBytes;
use serde::Serialize;

use super::render::{Line, Lines};
use crate::error::Error;

/// Does `c` need escaping before it reaches a terminal? C0 controls, DEL, C1 controls (`0x9b`
/// is a CSI on some terminals) and the bidirectional overrides and isolates, which reorder
/// what a line appears to say.
fn unsafe_for_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let bad = |c: char| unsafe_for_terminal(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if !bad(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// `s` safe to print on a terminal: every control character escaped, newlines too.
pub fn term(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// [`term`], but keeping newlines: for text whose line breaks are arca's own.
pub fn term_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub quiet: bool,
    /// `-v` given this many times (`--verbose=N`).
    pub verbose: u8,
}

impl Out {
    pub fn json_line<T: Serialize>(&self, v: &T) {
        if let (Ok(s), false) = (serde_json::to_string(v), stdout_closed()) {
            let mut o = std::io::stdout().lock();
            let _ = stdout_result(writeln!(o, "{s}"));
        }
    }

    /// Bytes a command was asked for (`cat`), as they are, on stdout; a closed pipe ends them
    /// ([`stdout_closed`]).
    pub fn bytes(&self, b: &[u8]) -> crate::error::Result<()> {
        Stdout(std::io::stdout().lock()).write_all(b).map_err(|e| Error::io("stdout", e))
    }

    pub fn text(&self, s: impl AsRef<str>) {
        self.show_line(&Line::Text(s.as_ref().into()));
    }

    /// One line of human output that holds names from the file system or the repository
    /// (`ls`, `find`, `diff`, `snapshots`, `key list`): newlines in it are escaped too, so a
    /// name cannot forge a line.
    pub fn entry(&self, s: impl AsRef<str>) {
        self.show_line(&Line::Entry(s.as_ref().into()));
    }

    /// A note on stderr (shown unless quiet, also in JSON mode).
    pub fn note(&self, s: impl AsRef<str>) {
        self.show_line(&Line::Note(s.as_ref().into()));
    }

    /// Print a rendering (`super::render`), each line by the rule of its kind.
    pub fn show(&self, lines: &Lines) {
        for line in &lines.0 {
            self.show_line(line);
        }
    }

    /// Print one rendered line by the rule of its kind, locking only the stream it goes to
    /// (`dump` holds stdout while notes go to stderr).
    pub fn show_line(&self, line: &Line) {
        let one = std::slice::from_ref(line);
        match line {
            Line::Text(_) | Line::Entry(_) | Line::Result(_) | Line::ResultEntry(_) => {
                if !stdout_closed() {
                    self.write(one, &mut Stdout(std::io::stdout().lock()), &mut std::io::sink())
                }
            }
            Line::Note(_) | Line::Problem(_) => self.write(one, &mut std::io::sink(), &mut std::io::stderr().lock()),
        }
    }

    /// The one place the rules live: text and entries on `stdout` unless quiet or JSON (text
    /// keeps its own line breaks, entries escape them too), results on `stdout` unless JSON
    /// (quiet keeps them), notes on `stderr` unless quiet, problems on `stderr` always, as they
    /// are; every control character escaped but where said.
    pub fn write<'a>(&self, lines: impl IntoIterator<Item = &'a Line>, stdout: &mut dyn Write, stderr: &mut dyn Write) {
        let human = !self.quiet && !self.json;
        for line in lines {
            // a closed stdout or stderr loses the line, as for any other output
            let _ = match line {
                Line::Text(s) if human => writeln!(stdout, "{}", term_lines(s)),
                Line::Entry(s) if human => writeln!(stdout, "{}", term(s)),
                Line::Result(s) if !self.json => writeln!(stdout, "{}", term_lines(s)),
                Line::ResultEntry(s) if !self.json => writeln!(stdout, "{}", term(s)),
                Line::Note(s) if !self.quiet => writeln!(stderr, "{}", term_lines(s)),
                Line::Problem(s) => writeln!(stderr, "{s}"),
                _ => Ok(()),
            };
        }
    }

    /// A warning about one item; always shown.
    pub fn warning(&self, during: &str, msg: &str) {
        if self.json {
            let v = serde_json::json!({"message_type": "error", "error": {"message": msg}, "during": during});
            if let Ok(s) = serde_json::to_string(&v) {
                let _ = writeln!(std::io::stderr(), "{s}");
            }
        } else {
            let _ = writeln!(std::io::stderr(), "warning: {}", term(msg));
        }
    }

    pub fn error(&self, e: &Error, code: u8) {
        if self.json {
            let mut v = serde_json::json!({
                "message_type": "exit_error",
                "code": code,
                "kind": e.kind.as_str(),
                "message": e.message,
                "hint": e.hint,
            });
            if let Some(o) = &e.object {
                v["object"] = o.as_str().into();
            }
            if let Some(op) = e.operation {
                v["operation"] = op.as_str().into();
            }
            if let Ok(s) = serde_json::to_string(&v) {
                let _ = writeln!(std::io::stderr(), "{s}");
            }
        } else {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "arca: {}", term_lines(&e.message));
            let mut src = std::error::Error::source(e);
            let mut depth = 0;
            while let Some(s) = src {
                let s_text = s.to_string();
                if depth == 0 && !e.message.contains(&s_text) {
                    let _ = writeln!(err, "  caused by: {}", term_lines(&s_text));
                }
                src = s.source();
                depth += 1;
            }
            if let Some(h) = &e.hint {
                let _ = writeln!(err, "  hint: {}", term_lines(h));
            }
        }
    }
}

pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}

pub use crate::util::words::count;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_clean_text_is_not_copied() {
        assert!(matches!(term("plain name.txt"), Cow::Borrowed(_)));
        assert_eq!(term("a\x1b]0;title\x07b\nc\td\r"), "a\\x1b]0;title\\x07b\\nc\\td\\r");
        assert_eq!(term("x\u{9b}31m\u{7f}"), "x\\x9b31m\\x7f");
        assert_eq!(term("cod\u{202e}gpj.exe"), "cod\\u{202e}gpj.exe");
        assert_eq!(term("ünïcödé ok"), "ünïcödé ok");
        assert_eq!(term_lines("line one\nline\x1btwo"), "line one\nline\\x1btwo");
    }
}
