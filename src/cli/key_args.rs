//! Arguments of the `key` verbs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Add a password
    #[command(
        after_help = "Examples:\n  arca key add\n  arca key add --new-password-file ~/.arca-second\n  arca key add --user backup --host nas   (the names `arca key list` shows for it)"
    )]
    Add(NewPasswordArgs),
    /// List keys
    #[command(after_help = "Examples:\n  arca key list\n  arca key list --json")]
    List,
    /// Remove a key by id
    #[command(after_help = "Example:\n  arca key remove 41002846")]
    Remove { id: String },
    /// Change the password in use
    #[command(
        after_help = "Examples:\n  arca key passwd\n  arca key passwd --new-password-file ~/.arca-new\n  arca key passwd --user alice --host laptop   (the new key's names in `arca key list`)"
    )]
    Passwd(NewPasswordArgs),
    /// Replace the master secret: seal everything again under a new one, keep one password,
    /// remove every other key
    #[command(after_help = "Examples:
  arca key rotate                              # keep the current password
  arca key rotate --new-password-file new.txt  # and change it
  arca key rotate --json                       # figures for scripts

Blob ids and chunk boundaries stay, so deduplication goes on. Every other password stops
working: add them again with `arca key add`. Snapshot ids change (the files are sealed
again). An interrupted rotation leaves a readable repository: run `arca key rotate` again
with the password it keeps to finish it.")]
    Rotate(RotateArgs),
    /// Drop this repository's unlocked key from the kernel keyring (the key cache)
    #[command(
        after_help = "Examples:\n  arca key forget-cached\n  arca key forget-cached --all   (every repository's)"
    )]
    ForgetCached {
        /// Every key arca keeps in the keyring, of any repository
        #[arg(long)]
        all: bool,
    },
    /// Write the repository's unwrapped key to a file, for `--key-file` (asks the password once)
    #[command(after_help = "Examples:
  arca key export-raw --output /root/arca.key
  arca --key-file /root/arca.key backup /srv   (no password, no key derivation)

Whoever reads the file can read and change the repository: keep it like a private ssh key.
The file is created, never overwritten, with mode 0600.")]
    ExportRaw {
        /// The file to create
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct RotateArgs {
    /// The password the new key gets (default: keep the one in use)
    #[arg(long)]
    pub new_password_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct NewPasswordArgs {
    /// Read the new password from this file
    #[arg(long)]
    pub new_password_file: Option<PathBuf>,
    /// The user name the new key records (default: the user running arca)
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The host name the new key records (default: this host)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}
