//! `arca serve`'s WebDAV view (`serve::dav`), started in-process on loopback over a
//! repository the binary made: a real client (rclone) lists and copies a snapshot directory
//! byte for byte, and raw HTTP requests check the listing, byte ranges, and that every
//! write method, every path trick and every symlink is refused.

use crate::common::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arca::backend::{self, Location};
use arca::format::tree::NodeKind;
use arca::mount::vfs::{Vfs, VfsOptions, ROOT};
use arca::repo::Repository;
use arca::serve::dav::TestServer;

struct Fixture {
    env: Env,
    src: PathBuf,
    server: TestServer,
    vfs: Arc<Vfs>,
    /// URL path of the backed-up source directory inside the snapshot, below `/dav`.
    base: String,
}

const SECRET: &[u8] = b"the link's target must never be served";

fn fixture() -> Fixture {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(3_000_000, 7));
    write(&src.join("dir/small.txt"), b"small");
    write(&src.join("dir/empty"), b"");
    write(&src.join("dir/sub/deeper/deep.txt"), b"deep down");
    write(&src.join("page.html"), b"<script>alert(document.cookie)</script>");
    write(&env.path("outside/secret"), SECRET);
    std::os::unix::fs::symlink(env.path("outside/secret"), src.join("dir/link")).unwrap();
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let raw = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    let repo = Arc::new(Repository::open(raw, PASSWORD.as_bytes()).unwrap());
    let vfs = Arc::new(Vfs::new(repo, VfsOptions::default()).unwrap());
    let ids = vfs.lookup(ROOT, b"ids").unwrap().ino;
    let dirs: Vec<_> = vfs.readdir(ids).unwrap().into_iter().filter(|e| e.1 == NodeKind::Dir).collect();
    assert_eq!(dirs.len(), 1, "one snapshot: {dirs:?}");
    let id = String::from_utf8(dirs[0].2.clone()).unwrap();
    let server = TestServer::start(vfs.clone()).unwrap();
    let base = format!("/ids/{id}{}", encode(src.to_str().unwrap()));
    Fixture { env, src, server, vfs, base }
}

/// Percent-encode a path, keeping its slashes.
fn encode(p: &str) -> String {
    p.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    fn xml(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as text, cut short for a failure message (it may be a file's bytes).
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(2000).collect()
    }
}

/// One raw HTTP/1.1 request (the path is sent exactly as given, no client normalizes it).
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = vec![];
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut reply = Reply { status, head, body: raw[split + 4..].to_vec() };
    if reply.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        reply.body = dechunk(&reply.body);
    }
    reply
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

fn propfind(f: &Fixture, path: &str) -> Reply {
    http(f.server.addr, "PROPFIND", &format!("/dav{path}"), &[("Depth", "1")], b"")
}

/// The hrefs of a multistatus answer.
fn hrefs(xml: &str) -> Vec<String> {
    xml.split("<D:href>").skip(1).filter_map(|s| s.split("</D:href>").next()).map(str::to_string).collect()
}

#[test]
fn propfind_depth_1_lists_the_mounts_tree_without_symlinks() {
    let f = fixture();
    let root = propfind(&f, "/");
    assert_eq!(root.status, 207, "{}\n{}", root.head, root.text());
    let got = hrefs(&root.xml());
    for dir in ["/dav/", "/dav/snapshots/", "/dav/hosts/", "/dav/tags/", "/dav/ids/"] {
        assert!(got.iter().any(|h| h == dir), "{dir} missing from {got:?}");
    }
    let dir = propfind(&f, &format!("{}/dir/", f.base));
    assert_eq!(dir.status, 207, "{}", dir.text());
    let mut got = hrefs(&dir.xml());
    got.sort();
    let b = format!("/dav{}/dir/", f.base);
    let want: Vec<String> = ["", "empty", "small.txt", "sub/"].iter().map(|n| format!("{b}{n}")).collect();
    assert_eq!(got, want, "the symlink is not listed");
    assert!(dir.xml().contains("<D:getcontentlength>5</D:getcontentlength>"), "{}", dir.text());
    assert_eq!(f.vfs.held_inodes(), 0, "every inode a request looked up is forgotten again");
}

#[test]
fn get_with_a_range_returns_exactly_those_bytes() {
    let f = fixture();
    let data = std::fs::read(f.src.join("big.bin")).unwrap();
    let url = format!("/dav{}/big.bin", f.base);
    let whole = http(f.server.addr, "GET", &url, &[], b"");
    assert_eq!(whole.status, 200);
    assert!(whole.body == data, "the whole file differs ({} bytes of {})", whole.body.len(), data.len());
    for (range, from, to) in [
        ("bytes=1048000-2097999", 1_048_000, 2_098_000),
        ("bytes=0-0", 0, 1),
        ("bytes=2999900-", 2_999_900, 3_000_000),
        ("bytes=-77", 3_000_000 - 77, 3_000_000),
    ] {
        let r = http(f.server.addr, "GET", &url, &[("Range", range)], b"");
        assert_eq!(r.status, 206, "{range}: {}", r.head);
        assert_eq!(r.header("content-range"), Some(format!("bytes {from}-{}/3000000", to - 1)), "{range}");
        assert!(r.body == data[from..to], "{range}: {} bytes, not those", r.body.len());
    }
    let past = http(f.server.addr, "GET", &url, &[("Range", "bytes=3000000-")], b"");
    assert_eq!(past.status, 416, "{}", past.head);
    let head = http(f.server.addr, "HEAD", &url, &[], b"");
    assert_eq!(head.header("content-length").as_deref(), Some("3000000"));
}

#[test]
fn every_write_method_is_refused_and_the_tree_is_unchanged() {
    let f = fixture();
    let file = format!("/dav{}/dir/small.txt", f.base);
    let dir = format!("/dav{}/dir/", f.base);
    let dest = format!("http://{}/dav{}/dir/copy.txt", f.server.addr, f.base);
    let lock = br#"<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"#;
    let patch = br#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>"#;
    type Try<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, &'a [u8]);
    let tries: Vec<Try> = vec![
        ("PUT", file.clone(), vec![], b"overwritten"),
        ("PUT", format!("{dir}new.txt"), vec![], b"new"),
        ("DELETE", file.clone(), vec![], b""),
        ("DELETE", dir.clone(), vec![], b""),
        ("MKCOL", format!("{dir}newdir"), vec![], b""),
        ("MOVE", file.clone(), vec![("Destination", &dest)], b""),
        ("COPY", file.clone(), vec![("Destination", &dest)], b""),
        ("PROPPATCH", file.clone(), vec![], patch),
        ("LOCK", file.clone(), vec![], lock),
        ("UNLOCK", file.clone(), vec![("Lock-Token", "<urn:uuid:1>")], b""),
        ("PATCH", file.clone(), vec![], b"x"),
        ("POST", file.clone(), vec![], b"x"),
    ];
    for (method, path, headers, body) in tries {
        let r = http(f.server.addr, method, &path, &headers, body);
        assert!(matches!(r.status, 403 | 405), "{method} {path}: {} {}", r.status, r.text());
    }
    assert_eq!(http(f.server.addr, "GET", &file, &[], b"").body, b"small");
    for gone in ["new.txt", "newdir", "copy.txt"] {
        assert_eq!(http(f.server.addr, "GET", &format!("{dir}{gone}"), &[], b"").status, 404, "{gone}");
    }
    assert_eq!(f.env.snapshot_ids().len(), 1);
}

#[test]
fn traversal_nul_and_symlinks_are_refused_and_files_are_sandboxed() {
    let f = fixture();
    let a = f.server.addr;
    let b = format!("/dav{}", f.base);
    // names that dav-server would fold away (`..` inside the tree): refused, not interpreted
    for path in [
        format!("{b}/dir/%2e%2e/big.bin"),
        format!("{b}/dir/%2E%2E/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
        format!("{b}/dir/../big.bin"),
        format!("{b}/./big.bin"),
        format!("{b}/dir%2f..%2fbig.bin"),
        format!("{b}/dir/small.txt%00.png"),
        format!("{b}/dir%5c..%5cbig.bin"),
        "/dav/%2e%2e/%2e%2e/etc/passwd".to_string(),
    ] {
        for method in ["GET", "PROPFIND"] {
            let r = http(a, method, &path, &[("Depth", "1")], b"");
            assert_eq!(r.status, 400, "{method} {path}: {} {}", r.status, r.text());
        }
    }
    // a symlink in a snapshot is neither followed nor served, whatever it points at
    for method in ["GET", "PROPFIND"] {
        let r = http(a, method, &format!("{b}/dir/link"), &[("Depth", "0")], b"");
        assert_eq!(r.status, 404, "{method} of the symlink: {}", r.text());
        assert!(!r.body.windows(SECRET.len()).any(|w| w == SECRET));
    }
    assert_eq!(http(a, "GET", "/dav/snapshots/latest/", &[], b"").status, 404, "latest is a symlink");
    // a backed-up HTML page cannot run script in the server's origin
    let page = http(a, "GET", &format!("{b}/page.html"), &[], b"");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-security-policy").as_deref(), Some("sandbox; default-src 'none'"));
    assert_eq!(page.header("x-content-type-options").as_deref(), Some("nosniff"));
}

/// rclone, as `scripts/test-servers install` installs it; `None` (skipped) without it,
/// a failure under CI.
fn rclone() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("rclone"))
        .find(|p| p.is_file());
    if found.is_none() {
        let ci = ["CI", "ARCA_TEST_REQUIRE_SERVERS"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"));
        assert!(!ci, "rclone is not installed: run `scripts/test-servers install`");
        eprintln!("SKIPPED: rclone is not installed (run `scripts/test-servers install`)");
    }
    found
}

fn rclone_cmd(bin: &Path, f: &Fixture) -> Command {
    let mut c = Command::new(bin);
    c.env("RCLONE_CONFIG", "/dev/null")
        .env("RCLONE_WEBDAV_URL", format!("http://{}/dav/", f.server.addr))
        .env("RCLONE_WEBDAV_VENDOR", "other");
    c
}

#[test]
fn rclone_lists_and_copies_a_snapshot_directory_byte_for_byte() {
    let Some(bin) = rclone() else { return };
    let f = fixture();
    let remote = format!(":webdav:ids/{}", &f.base["/ids/".len()..]);
    let out = rclone_cmd(&bin, &f).args(["lsf", "-R", &remote]).output().unwrap();
    assert!(out.status.success(), "rclone lsf: {}", String::from_utf8_lossy(&out.stderr));
    let mut listed: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    listed.sort();
    let want = [
        "big.bin",
        "dir/",
        "dir/empty",
        "dir/small.txt",
        "dir/sub/",
        "dir/sub/deeper/",
        "dir/sub/deeper/deep.txt",
        "page.html",
    ];
    assert_eq!(listed, want);
    let dest = f.env.path("copied");
    let out = rclone_cmd(&bin, &f).arg("copy").arg(&remote).arg(&dest).output().unwrap();
    assert!(out.status.success(), "rclone copy: {}", String::from_utf8_lossy(&out.stderr));
    for file in want.iter().filter(|p| !p.ends_with('/')) {
        let (a, b) = (std::fs::read(f.src.join(file)).unwrap(), std::fs::read(dest.join(file)).unwrap());
        assert!(a == b, "{file}: {} bytes copied, {} in the source, or different", b.len(), a.len());
    }
    assert!(std::fs::symlink_metadata(dest.join("dir/link")).is_err(), "the symlink is not copied");
    assert_eq!(f.vfs.held_inodes(), 0, "every inode a request looked up is forgotten again");
}
