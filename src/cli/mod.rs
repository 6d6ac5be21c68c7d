//! The only layer that reads argv and the environment, prompts, and prints.

mod args;
mod handlers;
mod maintenance;
mod output;
mod settings;

use std::process::ExitCode;

use clap::Parser;

pub use settings::parse_size;

use crate::error::{Error, Kind};
use output::Out;

/// Exit codes (stable; scripts rely on them).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FATAL: u8 = 1;
    pub const PARTIAL: u8 = 3;
    pub const NO_REPOSITORY: u8 = 10;
    pub const LOCKED: u8 = 11;
    pub const WRONG_PASSWORD: u8 = 12;
    pub const INTERRUPTED: u8 = 130;
}

/// The one mapping from error kinds to exit codes.
pub fn exit_code(e: &Error) -> u8 {
    match e.kind {
        Kind::NoRepository => exit::NO_REPOSITORY,
        Kind::Locked => exit::LOCKED,
        Kind::WrongPassword => exit::WRONG_PASSWORD,
        Kind::Interrupted => exit::INTERRUPTED,
        _ => exit::FATAL,
    }
}

pub fn run() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::FATAL } else { exit::OK });
        }
    };
    let level = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => tracing::Level::ERROR,
        (_, 0) => tracing::Level::WARN,
        (_, 1) => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    // arca's own messages at the chosen level; libraries (OpenDAL, ssh, HTTP) only warn
    use tracing_subscriber::layer::SubscriberExt;
    let only_arca = tracing_subscriber::filter::Targets::new()
        .with_target("arca", level)
        .with_default(tracing::Level::WARN.min(level));
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .without_time()
            .with_target(false)
            .finish()
            .with(only_arca),
    );
    let out = Out { json: cli.global.json, quiet: cli.global.quiet };
    crate::platform::install_interrupt_handler();
    let result = settings::Settings::from_global(&cli.global).and_then(|s| handlers::dispatch(&s, out, cli.command));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = exit_code(&e);
            out.error(&e, code);
            ExitCode::from(code)
        }
    }
}
