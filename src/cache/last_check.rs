//! The result of the last `arca check`, kept in the repository's cache directory so that
//! `arca serve` can show it (`last-check`): when it ran, whether it found damage, how many
//! errors, how much data it read, and a one-line summary.
//!
//! The file is on a local disk other programs may write, so it is hostile input when read
//! back: it is opened without following a symlink, refused past [`MAX_LEN`] bytes before it
//! is read, must carry a keyed BLAKE3 MAC under the cache's key (derived from the
//! repository's master secret, so only a holder of the password can make one), and is parsed
//! strictly (unknown fields, an unparsable time, control characters or over-long strings
//! refuse it). A file that fails any of these is ignored, as if no check had run. It is only
//! ever displayed: nothing decides anything on it.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{write_new, Cache};

const FILE: &str = "last-check";
/// What the MAC covers before the record: the purpose, so no other MAC'd cache file can be
/// passed off as a check result.
const DOMAIN: &[u8] = b"arca last-check v1\0";
const MAC_LEN: usize = 32;
/// A record is a few hundred bytes; anything longer is not ours.
pub const MAX_LEN: u64 = 4096;
const MAX_SUMMARY: usize = 300;
const MAX_READ_DATA: usize = 64;

/// One check's outcome, as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastCheck {
    /// When the check finished (RFC 3339, UTC).
    pub time: String,
    pub ok: bool,
    /// Errors plus damaged files it reported (1 when the check itself failed).
    pub errors: u64,
    /// How much data it read: `None` for the structure only, else `all`, `n/t`, `x%` or a size.
    pub read_data: Option<String>,
    pub summary: String,
}

impl LastCheck {
    /// Is every field what a check writes? (Checked on both sides: a record we would refuse
    /// to read is not written.)
    fn valid(&self) -> bool {
        let clean = |s: &str, max: usize| s.chars().count() <= max && !s.chars().any(char::is_control);
        chrono::DateTime::parse_from_rfc3339(&self.time).is_ok()
            && clean(&self.summary, MAX_SUMMARY)
            && self.read_data.as_deref().is_none_or(|r| clean(r, MAX_READ_DATA))
    }

    /// A summary cut to what a record may hold, on a character boundary, without control
    /// characters (an error message may quote a file name).
    pub fn summary_line(s: &str) -> String {
        let one: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if one.chars().count() <= MAX_SUMMARY {
            return one;
        }
        let mut cut: String = one.chars().take(MAX_SUMMARY - 1).collect();
        cut.push('…');
        cut
    }
}

/// Writes a check's result into one repository's cache; taken from the [`Cache`] before a
/// check that sets the cache aside (`check` without `--with-cache`) starts.
pub struct Recorder {
    file: PathBuf,
    key: [u8; 32],
}

fn mac(key: &[u8; 32], record: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(DOMAIN);
    h.update(record);
    h.finalize()
}

impl Recorder {
    /// Store `r` (replacing the last one); a failure only costs the dashboard its line.
    pub fn record(&self, r: &LastCheck) {
        if !r.valid() {
            tracing::debug!("not recording a check result that would not be read back: {r:?}");
            return;
        }
        let Ok(bytes) = serde_json::to_vec(r) else { return };
        let tag = mac(&self.key, &bytes);
        if let Err(e) = write_new(&self.file, &mut |w: &mut dyn Write| {
            w.write_all(&bytes)?;
            w.write_all(tag.as_bytes())
        }) {
            tracing::warn!("could not record the check's result in {}: {e}", self.file.display());
        }
    }
}

impl Cache {
    /// Where a check records its result.
    pub fn last_check_recorder(&self) -> Recorder {
        Recorder { file: self.dir.join(FILE), key: self.mac_key }
    }

    /// The last check's result, if one was recorded under this repository's key and reads back
    /// whole; anything else (no file, a symlink, too long, a bad MAC, a strange field) is
    /// `None`.
    pub fn last_check(&self) -> Option<LastCheck> {
        // no symlink followed, and a FIFO planted in its place does not block the reader
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
            .open(self.dir.join(FILE))
            .ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_LEN + MAC_LEN as u64 {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // the file may grow after the stat: never read more than the bound
        f.take(MAX_LEN + MAC_LEN as u64 + 1).read_to_end(&mut bytes).ok()?;
        if bytes.len() <= MAC_LEN || bytes.len() > (MAX_LEN as usize + MAC_LEN) {
            return None;
        }
        let (record, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        let tag: [u8; MAC_LEN] = tag.try_into().ok()?;
        // blake3::Hash compares in constant time
        if mac(&self.mac_key, record) != blake3::Hash::from_bytes(tag) {
            tracing::warn!(
                "ignoring {}: it was not written by a check of this repository",
                self.dir.join(FILE).display()
            );
            return None;
        }
        let r: LastCheck = serde_json::from_slice(record).ok()?;
        r.valid().then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(dir: &std::path::Path) -> Cache {
        Cache::open(dir, &crate::id::RepoId([7; 32]), [9; 32]).unwrap()
    }

    fn record() -> LastCheck {
        LastCheck {
            time: "2026-12-07T10:00:00Z".into(),
            ok: true,
            errors: 0,
            read_data: Some("all".into()),
            summary: "no errors were found".into(),
        }
    }

    #[test]
    fn a_recorded_result_reads_back_and_nothing_else_does() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        assert_eq!(c.last_check(), None);
        c.last_check_recorder().record(&record());
        assert_eq!(c.last_check(), Some(record()));
        let file = c.dir().join(FILE);
        let good = std::fs::read(&file).unwrap();

        // another repository's key (or a forger without one) cannot make a record
        let other = Cache::open(tmp.path(), &crate::id::RepoId([7; 32]), [8; 32]).unwrap();
        assert_eq!(other.last_check(), None);

        // one flipped bit, a truncation, plain JSON without a MAC: ignored
        let mut flipped = good.clone();
        flipped[3] ^= 1;
        for bad in [flipped, good[..good.len() - 1].to_vec(), serde_json::to_vec(&record()).unwrap(), vec![]] {
            std::fs::write(&file, &bad).unwrap();
            assert_eq!(c.last_check(), None, "{:?}", String::from_utf8_lossy(&bad));
        }
        // too long, even with a valid MAC over it
        let mut long = serde_json::to_vec(&LastCheck { summary: "x".repeat(5000), ..record() }).unwrap();
        let tag = mac(&[9; 32], &long);
        long.extend_from_slice(tag.as_bytes());
        std::fs::write(&file, &long).unwrap();
        assert_eq!(c.last_check(), None);
        // a symlink to a valid record elsewhere is not followed
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::write(&elsewhere, &good).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(c.last_check(), None);
    }

    #[test]
    fn a_valid_mac_over_a_strange_record_is_still_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let c = cache(tmp.path());
        let file = c.dir().join(FILE);
        let forge = |json: &str| {
            let mut b = json.as_bytes().to_vec();
            let tag = mac(&[9; 32], &b);
            b.extend_from_slice(tag.as_bytes());
            std::fs::write(&file, b).unwrap();
        };
        forge(r#"{"time":"2026-12-07T10:00:00Z","ok":true,"errors":0,"read_data":null,"summary":"fine"}"#);
        assert!(c.last_check().is_some(), "the control case reads");
        for bad in [
            r#"{"time":"yesterday","ok":true,"errors":0,"read_data":null,"summary":"fine"}"#,
            r#"{"time":"2026-12-07T10:00:00Z","ok":true,"errors":0,"read_data":null,"summary":"a\u001b[2Jb"}"#,
            r#"{"time":"2026-12-07T10:00:00Z","ok":true,"errors":-1,"read_data":null,"summary":"fine"}"#,
            r#"{"time":"2026-12-07T10:00:00Z","ok":true,"errors":0,"read_data":null,"summary":"fine","run":"rm"}"#,
        ] {
            forge(bad);
            assert_eq!(c.last_check(), None, "{bad}");
        }
        assert_eq!(LastCheck::summary_line("a\nb"), "a b");
        assert_eq!(LastCheck::summary_line(&"é".repeat(400)).chars().count(), MAX_SUMMARY);
    }
}
