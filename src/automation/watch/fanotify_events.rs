//! The bytes a fanotify group in file-handle mode (`FAN_REPORT_DFID_NAME`) returns from
//! `read(2)`, parsed without I/O.
//!
//! A read returns whole events, one after the other. Each event is a
//! `struct fanotify_event_metadata` (24 bytes, native endian):
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | `event_len`, this event's whole length  |
//! | 4      | 1    | `vers` (`FANOTIFY_METADATA_VERSION`, 3) |
//! | 5      | 1    | reserved                                |
//! | 6      | 2    | `metadata_len`, where the records begin |
//! | 8      | 8    | `mask`                                  |
//! | 16     | 4    | `fd` (`FAN_NOFD`, -1, in this mode)     |
//! | 20     | 4    | `pid`                                   |
//!
//! followed, up to `event_len`, by information records: a 4-byte header (`info_type`, a pad
//! byte, `len` of the whole record), and for the file-handle types (`FID`, `DFID`,
//! `DFID_NAME`) an 8-byte `fsid`, a `struct file_handle` (`handle_bytes`, `handle_type`, the
//! handle) and, for `DFID_NAME`, the entry's name ending in a NUL byte.
//!
//! These bytes come from the kernel, but every length is checked before it is used: an
//! `event_len` or a record `len` that is too short (a zero would loop forever), runs past
//! its container, or a handle longer than `MAX_HANDLE_SZ` is an error, and so is a name
//! that is empty, holds a `/`, is `..` or lacks its NUL. The caller falls back to a full walk.

use nix::libc;

/// `sizeof(struct fanotify_event_metadata)`.
const METADATA_LEN: usize = 24;
/// The longest file handle the kernel makes (`MAX_HANDLE_SZ`).
pub const MAX_HANDLE_BYTES: usize = 128;
/// Record header (4) + fsid (8) + `handle_bytes` (4) + `handle_type` (4).
const FID_HEADER_LEN: usize = 20;

/// One event of a read.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub mask: u64,
    pub records: Vec<Record<'a>>,
}

/// A file-handle information record.
#[derive(Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// `FAN_EVENT_INFO_TYPE_FID`, `_DFID` or `_DFID_NAME`.
    pub info_type: u8,
    pub fsid: [u8; 8],
    pub handle_type: i32,
    pub handle: &'a [u8],
    /// The entry's name in the directory `handle` names (`DFID_NAME` only); `.` names the
    /// directory itself.
    pub name: Option<&'a [u8]>,
}

/// Parse the events of one read; an error says what was malformed and where.
pub fn parse(buf: &[u8]) -> Result<Vec<Event<'_>>, String> {
    let mut events = vec![];
    let mut at = 0;
    while at < buf.len() {
        let rest = &buf[at..];
        if rest.len() < METADATA_LEN {
            return Err(format!("event at byte {at}: {} bytes left, shorter than its header", rest.len()));
        }
        let event_len = usize::try_from(u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]))
            .map_err(|_| format!("event at byte {at}: length does not fit"))?;
        let vers = rest[4];
        let metadata_len = usize::from(u16::from_ne_bytes([rest[6], rest[7]]));
        if vers != libc::FANOTIFY_METADATA_VERSION {
            return Err(format!(
                "event at byte {at}: metadata version {vers}, not {}",
                libc::FANOTIFY_METADATA_VERSION
            ));
        }
        if metadata_len < METADATA_LEN || event_len < metadata_len || event_len > rest.len() {
            return Err(format!(
                "event at byte {at}: length {event_len} (metadata {metadata_len}) does not fit the {} bytes left",
                rest.len()
            ));
        }
        let mask = u64::from_ne_bytes(array(&rest[8..16]));
        // `fd` (16..20) is FAN_NOFD in file-handle mode, `pid` (20..24) is not needed
        let records = records(&rest[metadata_len..event_len]).map_err(|e| format!("event at byte {at}: {e}"))?;
        events.push(Event { mask, records });
        at += event_len;
    }
    Ok(events)
}

/// The file-handle records of one event (other record types are skipped).
fn records(mut buf: &[u8]) -> Result<Vec<Record<'_>>, String> {
    let mut out = vec![];
    while !buf.is_empty() {
        if buf.len() < 4 {
            return Err(format!("{} stray bytes after the records", buf.len()));
        }
        let info_type = buf[0];
        let len = usize::from(u16::from_ne_bytes([buf[2], buf[3]]));
        if len < 4 || len > buf.len() {
            return Err(format!("record of type {info_type}: length {len} does not fit the {} bytes left", buf.len()));
        }
        let (rec, rest) = buf.split_at(len);
        buf = rest;
        let named = info_type == libc::FAN_EVENT_INFO_TYPE_DFID_NAME;
        if !(named || info_type == libc::FAN_EVENT_INFO_TYPE_DFID || info_type == libc::FAN_EVENT_INFO_TYPE_FID) {
            continue;
        }
        if len < FID_HEADER_LEN {
            return Err(format!("file handle record of {len} bytes, shorter than its header"));
        }
        let fsid = array(&rec[4..12]);
        let handle_bytes = usize::try_from(u32::from_ne_bytes(array(&rec[12..16])))
            .map_err(|_| "file handle length does not fit".to_string())?;
        let handle_type = i32::from_ne_bytes(array(&rec[16..20]));
        if handle_bytes == 0 || handle_bytes > MAX_HANDLE_BYTES || FID_HEADER_LEN + handle_bytes > len {
            return Err(format!("file handle of {handle_bytes} bytes in a record of {len}"));
        }
        let handle = &rec[FID_HEADER_LEN..FID_HEADER_LEN + handle_bytes];
        let name = match named {
            false => None,
            true => {
                let tail = &rec[FID_HEADER_LEN + handle_bytes..];
                let end = tail.iter().position(|&b| b == 0).ok_or("a name without its NUL byte")?;
                let name = &tail[..end];
                if name.is_empty() || name == b".." || name.contains(&b'/') {
                    return Err(format!("the name {:?} is not one directory entry", String::from_utf8_lossy(name)));
                }
                Some(name)
            }
        };
        out.push(Record { info_type, fsid, handle_type, handle, name });
    }
    Ok(out)
}

/// `N` bytes of a slice whose length the caller checked.
fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&b[..N]);
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// One record as the kernel lays it out, padded to 4 bytes.
    fn record(info_type: u8, handle: &[u8], name: Option<&[u8]>) -> Vec<u8> {
        let mut body = vec![];
        body.extend_from_slice(&[7; 8]); // fsid
        body.extend_from_slice(&(handle.len() as u32).to_ne_bytes());
        body.extend_from_slice(&1i32.to_ne_bytes());
        body.extend_from_slice(handle);
        if let Some(n) = name {
            body.extend_from_slice(n);
            body.push(0);
        }
        while (body.len() + 4) % 4 != 0 {
            body.push(0);
        }
        let mut r = vec![info_type, 0];
        r.extend_from_slice(&((body.len() + 4) as u16).to_ne_bytes());
        r.extend_from_slice(&body);
        r
    }

    fn event(mask: u64, records: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = records.concat();
        let mut e = vec![];
        e.extend_from_slice(&((METADATA_LEN + body.len()) as u32).to_ne_bytes());
        e.push(libc::FANOTIFY_METADATA_VERSION);
        e.push(0);
        e.extend_from_slice(&(METADATA_LEN as u16).to_ne_bytes());
        e.extend_from_slice(&mask.to_ne_bytes());
        e.extend_from_slice(&(-1i32).to_ne_bytes());
        e.extend_from_slice(&42i32.to_ne_bytes());
        e.extend_from_slice(&body);
        e
    }

    const DFID_NAME: u8 = libc::FAN_EVENT_INFO_TYPE_DFID_NAME;

    #[test]
    fn events_with_names_and_an_overflow_parse() {
        let mut buf = event(libc::FAN_CREATE, &[record(DFID_NAME, b"handle-1", Some(b"new\nname"))]);
        buf.extend(event(libc::FAN_Q_OVERFLOW, &[]));
        buf.extend(event(
            libc::FAN_DELETE_SELF | libc::FAN_ONDIR,
            &[record(libc::FAN_EVENT_INFO_TYPE_DFID, b"h2", None)],
        ));
        let ev = parse(&buf).unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].mask, libc::FAN_CREATE);
        assert_eq!(ev[0].records[0].handle, b"handle-1");
        assert_eq!(ev[0].records[0].name, Some(&b"new\nname"[..]));
        assert_eq!(ev[0].records[0].fsid, [7; 8]);
        assert!(ev[1].records.is_empty() && ev[1].mask == libc::FAN_Q_OVERFLOW);
        assert_eq!((ev[2].records[0].handle, ev[2].records[0].name), (&b"h2"[..], None));
    }

    #[test]
    fn lengths_that_lie_are_errors_not_reads_out_of_bounds_or_endless_loops() {
        let good = event(libc::FAN_CREATE, &[record(DFID_NAME, b"handle", Some(b"f"))]);
        // truncated anywhere: an error, never a panic
        for cut in 1..good.len() {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut} parsed");
        }
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&(good.len() as u32 + 4).to_ne_bytes());
        assert!(parse(&bad).unwrap_err().contains("does not fit"), "event_len past the buffer");
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&0u32.to_ne_bytes());
        assert!(parse(&bad).is_err(), "event_len 0 would loop");
        let mut bad = good.clone();
        bad[6..8].copy_from_slice(&(good.len() as u16 + 1).to_ne_bytes());
        assert!(parse(&bad).is_err(), "metadata_len past event_len");
        let mut bad = good.clone();
        bad[4] = 2;
        assert!(parse(&bad).unwrap_err().contains("version"));
        // the record's own length: zero (endless), past the event
        for len in [0u16, 3, 200] {
            let mut bad = good.clone();
            bad[METADATA_LEN + 2..METADATA_LEN + 4].copy_from_slice(&len.to_ne_bytes());
            assert!(parse(&bad).is_err(), "record len {len} parsed");
        }
        // handle_bytes past the record, zero, above MAX_HANDLE_SZ
        for hb in [0u32, 100, 129, u32::MAX] {
            let mut bad = good.clone();
            bad[METADATA_LEN + 12..METADATA_LEN + 16].copy_from_slice(&hb.to_ne_bytes());
            assert!(parse(&bad).is_err(), "handle_bytes {hb} parsed");
        }
    }

    #[test]
    fn a_name_must_be_one_entry_ending_in_nul() {
        for name in [&b"a/b"[..], b"..", b""] {
            let buf = event(libc::FAN_CREATE, &[record(DFID_NAME, b"h", Some(name))]);
            assert!(parse(&buf).is_err(), "{name:?} parsed");
        }
        let mut buf = event(libc::FAN_CREATE, &[record(DFID_NAME, b"hh", Some(b"ab"))]);
        // the record ends in "ab", its NUL and 3 bytes of padding: no NUL left after them
        let end = buf.len();
        assert_eq!(&buf[end - 6..], b"ab\0\0\0\0");
        buf[end - 4..].copy_from_slice(b"cdef");
        assert!(parse(&buf).unwrap_err().contains("NUL"));
        let buf = event(libc::FAN_ATTRIB, &[record(DFID_NAME, b"h", Some(b"."))]);
        let dot = parse(&buf).unwrap();
        assert_eq!(dot[0].records[0].name, Some(&b"."[..]));
    }

    #[test]
    fn records_of_other_types_are_skipped() {
        let mut pidfd = vec![libc::FAN_EVENT_INFO_TYPE_PIDFD, 0];
        pidfd.extend_from_slice(&8u16.to_ne_bytes());
        pidfd.extend_from_slice(&5i32.to_ne_bytes());
        let buf = event(libc::FAN_MODIFY, &[pidfd, record(DFID_NAME, b"h", Some(b"x"))]);
        let ev = parse(&buf).unwrap();
        assert_eq!(ev[0].records.len(), 1);
        assert_eq!(ev[0].records[0].name, Some(&b"x"[..]));
    }
}
