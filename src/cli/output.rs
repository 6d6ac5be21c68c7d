//! Printing: human text on a terminal (progress bars on long work), JSON lines with --json.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::Error;

#[derive(Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    pub fn json_line<T: Serialize>(&self, v: &T) {
        if let Ok(s) = serde_json::to_string(v) {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{s}");
        }
    }

    pub fn text(&self, s: impl AsRef<str>) {
        if !self.quiet && !self.json {
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{}", s.as_ref());
        }
    }

    /// A note on stderr (shown unless quiet, also in JSON mode).
    pub fn note(&self, s: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", s.as_ref());
        }
    }

    /// A warning about one item; always shown.
    pub fn warning(&self, during: &str, msg: &str) {
        if self.json {
            let v = serde_json::json!({"message_type": "error", "error": {"message": msg}, "during": during});
            if let Ok(s) = serde_json::to_string(&v) {
                eprintln!("{s}");
            }
        } else {
            eprintln!("warning: {msg}");
        }
    }

    pub fn error(&self, e: &Error, code: u8) {
        if self.json {
            let v =
                serde_json::json!({"message_type": "exit_error", "code": code, "message": e.message, "hint": e.hint});
            if let Ok(s) = serde_json::to_string(&v) {
                eprintln!("{s}");
            }
        } else {
            eprintln!("arca: {}", e.message);
            let mut src = std::error::Error::source(e);
            let mut depth = 0;
            while let Some(s) = src {
                if depth == 0 && !e.message.contains(&s.to_string()) {
                    eprintln!("  caused by: {s}");
                }
                src = s.source();
                depth += 1;
            }
            if let Some(h) = &e.hint {
                eprintln!("  hint: {h}");
            }
        }
    }
}

/// A live progress display over counters: a spinner on a terminal, status lines with --json.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    pub fn start(out: Out, verb: &'static str, read: impl Fn() -> (u64, u64, u64) + Send + Sync + 'static) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let on_tty = std::io::stderr().is_terminal();
        if out.quiet || (!out.json && !on_tty) {
            return Ticker { stop, handle: None };
        }
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let bar = (!out.json).then(|| {
                let b = ProgressBar::new_spinner();
                b.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b
            });
            let started = std::time::Instant::now();
            let tick = AtomicU64::new(0);
            while !s2.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let (files, bytes, errors) = read();
                if let Some(b) = &bar {
                    b.set_message(format!(
                        "{verb} {files} files, {}{}",
                        HumanBytes(bytes),
                        if errors > 0 { format!(", {errors} errors") } else { String::new() }
                    ));
                    b.tick();
                } else if tick.fetch_add(1, Ordering::Relaxed) % 10 == 9 {
                    out.json_line(&serde_json::json!({
                        "message_type": "status",
                        "seconds_elapsed": started.elapsed().as_secs(),
                        "files_done": files,
                        "bytes_done": bytes,
                        "error_count": errors,
                    }));
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Ticker { stop, handle: Some(handle) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}
