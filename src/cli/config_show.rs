//! `arca config show`: the settings a command would run with (profiles merged, the command
//! line and environment applied), secrets masked, as text or `--json`.

use super::exit;
use super::output::Out;
use super::profile::{is_secret, masked};
use super::settings::{PasswordSource, Settings};
use crate::error::Result;

pub fn show(s: &Settings, out: Out) -> Result<u8> {
    let options: Vec<String> =
        s.options.iter().map(|(k, v)| if is_secret(k) { format!("{k}=*****") } else { format!("{k}={v}") }).collect();
    let password = match &s.password {
        PasswordSource::Env(var) => var.to_string(),
        PasswordSource::File(f) => format!("file {}", f.display()),
        PasswordSource::Command(_) => "command *****".to_string(),
        PasswordSource::Stdin => "standard input".to_string(),
        PasswordSource::Prompt(_) => "prompt".to_string(),
    };
    // the key file's path is no secret (its bytes are); the cache's lifetime is a setting
    let key_file = s.key_file.as_ref().map_or("none".to_string(), |f| f.display().to_string());
    let key_cache = s.key_cache.map_or("off".to_string(), |d| format!("{} s", d.as_secs()));
    let cache = s.cache_root.as_ref().map_or("disabled".to_string(), |c| c.display().to_string());
    let profiles: Vec<String> = s
        .profile
        .iter()
        .flat_map(|l| l.names.iter().zip(&l.files).map(|(n, f)| format!("{n} ({})", f.display())))
        .collect();
    let sections = s.profile.as_ref().map(|l| masked(&l.merged)).unwrap_or_default();
    if out.json {
        out.json_line(&serde_json::json!({
            "profiles": profiles,
            "repository": s.location.to_string(),
            "options": options,
            "password": password,
            "cache": cache,
            "key_file": key_file,
            "key_cache": key_cache,
            "connections": s.stack.connections,
            "limit_upload": s.stack.limit_upload,
            "limit_download": s.stack.limit_download,
            "profile": sections,
        }));
        return Ok(exit::OK);
    }
    let none = || "none".to_string();
    out.text(format!("profiles:    {}", if profiles.is_empty() { none() } else { profiles.join(", ") }));
    out.text(format!("repository:  {}", s.location));
    out.text(format!("options:     {}", if options.is_empty() { none() } else { options.join(", ") }));
    out.text(format!("password:    {password}"));
    out.text(format!("cache:       {cache}"));
    out.text(format!("key file:    {key_file}"));
    out.text(format!("key cache:   {key_cache}"));
    if !sections.is_empty() {
        out.text("");
        out.text(toml::to_string_pretty(&sections).unwrap_or_default());
    }
    Ok(exit::OK)
}
