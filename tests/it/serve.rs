//! `arca serve`: the real binary on a free loopback port, driven over HTTP. Every route
//! needs credentials; the token, Basic auth, htpasswd users and the login cookie work; a
//! changing request through the cookie needs its CSRF token; path parameters cannot leave the
//! snapshot's tree (`..`, encoded, NUL, symlinks not followed); listings page and sort with
//! the shapes of `ls --json`; downloads with ranges match the source byte for byte; new
//! snapshots appear; SIGTERM stops it and releases the lock.

use std::time::Duration;

use serde_json::Value;

use crate::common::server::*;
use crate::common::{code, noise, wait_within, write, Env};

/// A repository with one snapshot of `src/`: a 3 MiB file (several blobs), a directory of 25
/// files of growing size and a symlink to /etc/passwd.
fn repo_with_files() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(3 << 20, 7));
    for i in 0..25 {
        write(&src.join(format!("many/f{i:02}")), &noise(100 + i * 10, i as u64));
    }
    std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
    env.backup_json(&[src.to_str().unwrap()]);
    (env, src)
}

#[test]
fn every_route_without_credentials_is_401() {
    let (env, src) = repo_with_files();
    let s = start(&env, &[]);
    let file = format!("/api/snapshots/latest/file?path={}", enc(&format!("{}/big.bin", src.display())));
    for path in ["/", "/api/session", "/api/snapshots", "/api/snapshots/latest/tree", &file, "/dav/", "/nothing"] {
        for auth in [None, Some("Bearer wrong"), Some("Basic dXNlcjp3cm9uZw=="), Some("Bearer ")] {
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
            let a = get(&format!("{}{path}", s.base), &headers);
            assert_eq!(a.status, 401, "GET {path} with {auth:?}");
            assert_eq!(a.json()["error"]["kind"], "unauthorized", "{path}");
            assert!(!a.body.windows(4).any(|w| w == b"big."), "a refusal leaks nothing of the repository");
        }
        let cookie = get(&format!("{}{path}", s.base), &[("Cookie", "arca_session=00ff")]);
        assert_eq!(cookie.status, 401, "GET {path} with a made-up session");
    }
    assert_eq!(post(&format!("{}/logout", s.base), &[], "").status, 401);
    // the login page itself is public, and says nothing but how to log in
    let login = get(&format!("{}/login", s.base), &[]);
    assert_eq!(login.status, 200);
    // every answer, refusals included, is neither cached nor framed nor sniffed
    let refused = get(&format!("{}/api/snapshots", s.base), &[]);
    let listed = get(&format!("{}/api/snapshots", s.base), &[("Authorization", &bearer(&s))]);
    assert_eq!(listed.status, 200);
    for a in [&login, &refused, &listed] {
        assert_eq!(a.header("cache-control"), "no-store");
        assert_eq!(a.header("x-frame-options"), "DENY");
        assert!(a.header("content-security-policy").contains("frame-ancestors 'none'"));
        assert_eq!(a.header("x-content-type-options"), "nosniff");
        assert_eq!(a.header("referrer-policy"), "no-referrer");
    }
    assert!(!String::from_utf8_lossy(&login.body).contains(s.token.as_deref().unwrap()));
}

#[test]
fn the_token_basic_auth_and_the_login_cookie_work_and_changes_need_the_csrf_token() {
    let (env, _src) = repo_with_files();
    let s = start(&env, &[]);
    let token = s.token.clone().unwrap();
    assert_eq!(token.len(), 64, "256 random bits");
    let me = get(&format!("{}/api/session", s.base), &[("Authorization", &bearer(&s))]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["csrf"], Value::Null, "a header is never sent by a browser on its own: no CSRF token");
    let basic = format!("Basic {}", b64(&format!("anyone:{token}")));
    assert_eq!(get(&format!("{}/api/snapshots", s.base), &[("Authorization", &basic)]).status, 200);

    // a wrong token does not log in
    let wrong = post(&format!("{}/login", s.base), &[], "token=0123");
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("set-cookie").is_empty());

    let login = post(&format!("{}/login", s.base), &[], &format!("token={token}"));
    assert_eq!(login.status, 303, "a redirect after logging in");
    let set = login.header("set-cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let session = get(&format!("{}/api/session", s.base), &[("Cookie", &cookie)]);
    assert_eq!(session.status, 200);
    let csrf = session.json()["csrf"].as_str().expect("a CSRF token for a cookie session").to_string();
    assert_ne!(csrf, token);
    assert_eq!(get(&format!("{}/api/snapshots", s.base), &[("Cookie", &cookie)]).status, 200);

    // a changing request through the cookie, without or with a wrong CSRF token: refused
    let none = post(&format!("{}/logout", s.base), &[("Cookie", &cookie)], "");
    assert_eq!(none.status, 403);
    assert_eq!(none.json()["error"]["kind"], "forbidden");
    let forged = post(&format!("{}/logout", s.base), &[("Cookie", &cookie), ("X-CSRF-Token", &token)], "");
    assert_eq!(forged.status, 403, "the server's token is not the session's CSRF token");
    assert_eq!(get(&format!("{}/api/session", s.base), &[("Cookie", &cookie)]).status, 200, "still logged in");
    // with it: logged out, and the cookie is worth nothing after
    let out = post(&format!("{}/logout", s.base), &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], "");
    assert_eq!(out.status, 204);
    assert_eq!(get(&format!("{}/api/session", s.base), &[("Cookie", &cookie)]).status, 401);
}

#[test]
fn htpasswd_users_log_in_with_their_password_only() {
    use argon2::password_hash::PasswordHasher;
    let (env, _src) = repo_with_files();
    let params = argon2::Params::new(256, 1, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let users = env.path("users");
    let alice = a.hash_password(b"alice-pw").unwrap().to_string();
    let bob = a.hash_password(b"bob-pw").unwrap().to_string();
    std::fs::write(&users, format!("# users\nalice:{alice}\nbob:{bob}\n")).unwrap();
    let s = start(&env, &["--htpasswd", users.to_str().unwrap()]);
    assert!(s.token.is_none(), "no token is made or printed with --htpasswd");
    let url = format!("{}/api/session", s.base);
    let me = get(&url, &[("Authorization", &format!("Basic {}", b64("bob:bob-pw")))]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["user"], "bob");
    for wrong in ["bob:alice-pw", "carol:bob-pw", "alice:", "alice"] {
        assert_eq!(get(&url, &[("Authorization", &format!("Basic {}", b64(wrong)))]).status, 401, "{wrong}");
    }
    let login = post(&format!("{}/login", s.base), &[], "user=alice&password=alice-pw");
    assert_eq!(login.status, 303);
    let cookie = login.header("set-cookie").split(';').next().unwrap().to_string();
    assert_eq!(get(&url, &[("Cookie", &cookie)]).json()["user"], "alice");
    assert_eq!(post(&format!("{}/login", s.base), &[], "user=alice&password=bob-pw").status, 401);

    // a file with another kind of hash is refused at start, naming the line
    std::fs::write(&users, "alice:$apr1$salt$hash\n").unwrap();
    let o = env.run(&["serve", "--listen", "127.0.0.1:0", "--htpasswd", users.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(
        crate::common::stderr(&o).contains(":1: user \"alice\" has no Argon2 hash"),
        "{}",
        crate::common::stderr(&o)
    );
}

#[test]
fn path_parameters_cannot_leave_the_snapshot_tree() {
    let (env, src) = repo_with_files();
    let s = start(&env, &[]);
    let auth = bearer(&s);
    let h = [("Authorization", auth.as_str())];
    let src = src.display().to_string();
    for route in ["tree", "file"] {
        for bad in [
            "/../../etc/passwd".to_string(),
            format!("{src}/../../../etc/passwd"),
            format!("{src}/many/.."),
            "%2e%2e%2fetc%2fpasswd".to_string(),
            "/%2e%2e/%2E%2E/etc/passwd".to_string(),
            "etc/passwd".to_string(),
            "/etc%00/passwd".to_string(),
            format!("{src}//big.bin"),
        ] {
            let a = get(&format!("{}/api/snapshots/latest/{route}?path={bad}", s.base), &h);
            assert_eq!(a.status, 400, "{route} {bad}: {}", String::from_utf8_lossy(&a.body));
            assert_eq!(a.json()["error"]["kind"], "usage");
        }
        // encoded twice: a name with a percent in it, which this snapshot does not hold
        let a = get(&format!("{}/api/snapshots/latest/{route}?path=/%252e%252e/etc/passwd", s.base), &h);
        assert_eq!(a.status, 404, "{route}");
        assert_eq!(a.json()["error"]["kind"], "not_found");
        // a snapshot selector is an id, a prefix or latest, nothing else
        for sel in ["%2e%2e", "..%2f..", "latest%00"] {
            let a = get(&format!("{}/api/snapshots/{sel}/{route}?path=/", s.base), &h);
            assert!(a.status == 400 || a.status == 404, "{sel}: {}", a.status);
        }
    }
    // a symlink in the snapshot is not followed to the server's own /etc/passwd
    let a = get(&format!("{}/api/snapshots/latest/file?path={}", s.base, enc(&format!("{src}/link"))), &h);
    assert_eq!(a.status, 400);
    assert!(!String::from_utf8_lossy(&a.body).contains("root:"));
    // a directory is listed, not downloaded
    let a = get(&format!("{}/api/snapshots/latest/file?path={}", s.base, enc(&format!("{src}/many"))), &h);
    assert_eq!(a.status, 400);
    let a = get(&format!("{}/api/snapshots/latest/file?path={}", s.base, enc(&format!("{src}/absent"))), &h);
    assert_eq!(a.status, 404);
    assert!(a.json()["error"]["hint"].is_string() || a.json()["error"]["message"].as_str().unwrap().contains("absent"));
}

#[test]
fn listings_page_and_sort_with_the_shapes_of_ls_json() {
    let (env, src) = repo_with_files();
    let s = start(&env, &["--refresh", "1s"]);
    let auth = bearer(&s);
    let h = [("Authorization", auth.as_str())];
    let dir = format!("{}/many", src.display());

    // the snapshots as `snapshots --json` lists them
    let listed = get(&format!("{}/api/snapshots", s.base), &h).json();
    let cli: Value = serde_json::from_str(env.ok(&["snapshots", "--json"]).trim()).unwrap();
    assert_eq!(listed, cli);
    assert_eq!(get(&format!("{}/api/snapshots?host=no-such-host", s.base), &h).json(), serde_json::json!([]));

    // every page together is `ls --json`'s nodes of the directory, in its order
    let mut pages = vec![];
    for offset in [0, 10, 20] {
        let p = get(&format!("{}/api/snapshots/latest/tree?path={}&limit=10&offset={offset}", s.base, enc(&dir)), &h)
            .json();
        assert_eq!(p["total"], 25);
        assert_eq!(p["path"], dir.as_str());
        pages.extend(p["nodes"].as_array().unwrap().clone());
    }
    assert_eq!(pages.len(), 25);
    let ls: Vec<Value> = env
        .ok(&["ls", "--json", "latest", &dir])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["struct_type"] == "node" && v["path"] != dir.as_str())
        .collect();
    assert_eq!(pages, ls);
    let names: Vec<&str> = pages.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "f00");
    assert_eq!(names[24], "f24");

    let biggest =
        get(&format!("{}/api/snapshots/latest/tree?path={}&sort=size&reverse=true&limit=3", s.base, enc(&dir)), &h)
            .json();
    let sizes: Vec<u64> = biggest["nodes"].as_array().unwrap().iter().map(|n| n["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, vec![340, 330, 320]);
    let root = get(&format!("{}/api/snapshots/latest/tree", s.base), &h).json();
    assert_eq!(root["path"], "/");
    assert!(root["total"].as_u64().unwrap() >= 1);
    for bad in ["limit=0", "limit=100000", "sort=colour", "offset=-1", "limit=ten", "reverse=maybe"] {
        let a = get(&format!("{}/api/snapshots/latest/tree?path={}&{bad}", s.base, enc(&dir)), &h);
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(a.json()["error"]["kind"], "usage", "{bad}: a JSON error like the others");
    }
    let a = get(&format!("{}/api/snapshots/latest/file", s.base), &h);
    assert_eq!(
        (a.status, a.json()["error"]["kind"].clone()),
        (400, Value::from("usage")),
        "a download without its path"
    );

    // a new snapshot appears once the list is older than --refresh
    write(&src.join("many/f99"), b"new");
    env.backup_json(&[src.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(1500));
    let listed = get(&format!("{}/api/snapshots", s.base), &h).json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let p = get(&format!("{}/api/snapshots/latest/tree?path={}", s.base, enc(&dir)), &h).json();
    assert_eq!(p["total"], 26);
}

#[test]
fn downloads_match_the_source_whole_and_by_range() {
    let (env, src) = repo_with_files();
    let s = start(&env, &[]);
    let auth = bearer(&s);
    let data = std::fs::read(src.join("big.bin")).unwrap();
    let url = format!("{}/api/snapshots/latest/file?path={}", s.base, enc(&format!("{}/big.bin", src.display())));
    let whole = get(&url, &[("Authorization", &auth)]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(whole.header("content-length"), data.len().to_string());
    assert!(whole.header("content-disposition").contains("big.bin"));
    assert!(whole.body == data, "the whole file, byte for byte");
    let n = data.len();
    // ranges inside one blob, across blob boundaries, open-ended, and the last bytes
    for (range, from, to) in [
        ("bytes=0-0".to_string(), 0, 1),
        ("bytes=1000-2000000".to_string(), 1000, 2_000_001),
        (format!("bytes={}-", n - 5000), n - 5000, n),
        ("bytes=-777".to_string(), n - 777, n),
        (format!("bytes=1048570-{}", n + 99), 1_048_570, n),
    ] {
        let part = get(&url, &[("Authorization", &auth), ("Range", &range)]);
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(part.header("content-range"), format!("bytes {from}-{}/{n}", to - 1), "{range}");
        assert!(part.body == data[from..to], "{range}: bytes {from}..{to} byte for byte");
    }
    let past = get(&url, &[("Authorization", &auth), ("Range", &format!("bytes={n}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), format!("bytes */{n}"));
}

#[test]
fn sigterm_stops_serving_and_releases_the_lock() {
    let (env, _src) = repo_with_files();
    let mut s = start(&env, &[]);
    // while it serves, it holds a lock (a read lock: prune's two phases run beside it)
    let locks = env.ok(&["list", "locks"]);
    assert_eq!(locks.lines().count(), 1, "one lock while serving: {locks}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = wait_within(&mut s.child, Duration::from_secs(60), "arca serve after SIGTERM");
    assert!(status.success(), "a clean stop: {status:?}");
    assert_eq!(env.ok(&["list", "locks"]).trim(), "", "the lock is released");
    env.ok(&["prune"]);
    env.check();
}

#[test]
fn plain_http_beyond_loopback_needs_insecure_http() {
    let env = Env::new();
    env.init();
    let o = env.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(code(&o), 1);
    let err = crate::common::stderr(&o);
    assert!(err.contains("not a loopback address") && err.contains("--insecure-http"), "{err}");
    let o = env.run(&["--no-lock", "serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code(&o), 1, "serve without its lock is refused");
    assert!(crate::common::stderr(&o).contains("arca serve runs for days"), "{}", crate::common::stderr(&o));
}

/// The WebDAV view is nested in the real server, behind its authentication: a PROPFIND with
/// the token lists the mount's tree, and a file read through `/dav/ids/…` is the source's bytes.
#[test]
fn the_webdav_view_is_served_behind_the_same_login() {
    let (env, src) = repo_with_files();
    let s = start(&env, &[]);
    let auth = bearer(&s);
    let propfind = |path: &str, auth: Option<&str>| {
        let mut req =
            ureq::http::Request::builder().method("PROPFIND").uri(format!("{}{path}", s.base)).header("Depth", "1");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let dav: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).allow_non_standard_methods(true).build().into();
        answer(dav.run(req.body(()).unwrap()))
    };
    assert_eq!(propfind("/dav/", None).status, 401);
    let root = propfind("/dav/", Some(&auth));
    assert_eq!(root.status, 207, "{}", String::from_utf8_lossy(&root.body));
    let listing = String::from_utf8_lossy(&root.body).to_string();
    for dir in ["snapshots", "hosts", "tags", "ids"] {
        assert!(listing.contains(&format!("/dav/{dir}/")), "{dir} missing: {listing}");
    }
    let id = env.snapshot_ids()[0][..8].to_string();
    let url = format!("{}/dav/ids/{id}{}/big.bin", s.base, src.display());
    let got = get(&url, &[("Authorization", &auth)]);
    assert_eq!(got.status, 200, "{url}");
    assert!(got.body == std::fs::read(src.join("big.bin")).unwrap(), "the file through /dav/, byte for byte");
    // the server's own headers do not loosen the view's sandbox of backed-up files
    assert!(got.header("content-security-policy").contains("sandbox"), "{}", got.header("content-security-policy"));
    assert_eq!(get(&url, &[]).status, 401);
}
