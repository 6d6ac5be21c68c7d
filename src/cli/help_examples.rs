//! Every example in `--help` is a command line that parses: a renamed or removed flag breaks
//! this test, not a user copying the example.

use clap::{CommandFactory, Parser};

use super::args::Cli;

/// The `arca ...` invocations of one help text: lines starting with `arca`, each cut at a
/// pipe, `&&`, a redirection, a trailing `&` or `(comment)`, skipping lines with `<placeholders>`.
fn examples(help: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    for line in help.lines().map(str::trim) {
        for part in line.split(" | ").next().unwrap_or("").split(" && ") {
            let part = part.split("  (").next().unwrap_or("").trim();
            let part = part.split(" > ").next().unwrap_or("").trim();
            let part = part.strip_suffix(" &").unwrap_or(part).trim();
            let part = part.strip_prefix("pg_dumpall ").map_or(part, |_| "");
            if !part.starts_with("arca ") || part.contains('<') {
                continue;
            }
            out.push(shlex::split(part).unwrap_or_else(|| panic!("unbalanced quotes in {part:?}")));
        }
    }
    out
}

fn walk(cmd: &clap::Command, path: &str, found: &mut Vec<(String, Vec<String>)>) {
    if let Some(help) = cmd.get_after_help() {
        for ex in examples(&help.to_string()) {
            found.push((path.to_string(), ex));
        }
    }
    for sub in cmd.get_subcommands() {
        walk(sub, &format!("{path} {}", sub.get_name()), found);
    }
}

#[test]
fn every_help_example_parses() {
    let mut found = vec![];
    walk(&Cli::command(), "arca", &mut found);
    assert!(found.len() > 40, "examples found: {}", found.len());
    for (cmd, ex) in &found {
        if let Err(e) = Cli::try_parse_from(ex) {
            panic!("an example in `{cmd} --help` does not parse: {ex:?}\n{e}");
        }
    }
}

#[test]
fn every_command_has_examples() {
    fn leaves<'a>(cmd: &'a clap::Command, path: String, out: &mut Vec<(String, &'a clap::Command)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            leaves(sub, format!("{path} {}", sub.get_name()), out);
        }
        if cmd.get_subcommands().next().is_none() {
            out.push((path, cmd));
        }
    }
    let cli = Cli::command();
    let mut all = vec![];
    leaves(&cli, "arca".into(), &mut all);
    let missing: Vec<_> = all.iter().filter(|(_, c)| c.get_after_help().is_none()).map(|(p, _)| p.clone()).collect();
    assert!(missing.is_empty(), "commands without examples in --help: {missing:?}");
}
