//! The real storage servers of `scripts/test-servers`, for `ci` and the remote benchmarks:
//! start them, read the variables they export, stop them again.

use std::path::Path;
use std::process::Command;

use crate::cmd::{self, Error, Result};

/// Running servers; stopped on drop.
pub struct Servers {
    root: std::path::PathBuf,
    /// `NAME=value` pairs from the env file, `$PATH` expanded.
    pub vars: Vec<(String, String)>,
}

impl Servers {
    pub fn start(root: &Path) -> Result<Servers> {
        let script = root.join("scripts/test-servers");
        eprintln!("$ scripts/test-servers start");
        let out = Command::new(&script)
            .arg("start")
            .current_dir(root)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::io("starting scripts/test-servers", e))?;
        if !out.status.success() {
            let code = out.status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1);
            return Err(Error::Failed { what: "scripts/test-servers start".into(), code });
        }
        let env_file = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let text = std::fs::read_to_string(&env_file).map_err(|e| Error::io(format!("reading {env_file}"), e))?;
        let path = std::env::var("PATH").unwrap_or_default();
        let vars = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').trim_matches('"').replace("$PATH", &path)))
            .collect();
        Ok(Servers { root: root.to_path_buf(), vars })
    }

    pub fn apply(&self, c: &mut Command) {
        for (k, v) in &self.vars {
            c.env(k, v);
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        let mut stop = Command::new(self.root.join("scripts/test-servers"));
        stop.arg("stop");
        let _ = cmd::run(stop, &self.root);
    }
}
