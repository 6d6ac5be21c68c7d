//! `arca serve`'s long work, through the real binary: directories as tar and zip archives
//! (streamed, equal byte for byte and mode for mode to the source once extracted by GNU tar
//! and unzip).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::server::*;
use crate::common::{assert_same_tree, describe, noise, write, Env};

/// A repository with one snapshot of `src/`: files of several sizes and modes (one of
/// several blobs), a subdirectory, an empty directory and a symlink.
fn repo_with_tree() -> (Env, PathBuf) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(3 << 20, 7));
    write(&src.join("sub/script.sh"), b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(src.join("sub/script.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    write(&src.join("sub/private"), &noise(1000, 3));
    std::fs::set_permissions(src.join("sub/private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for i in 0..10 {
        write(&src.join(format!("many/f{i:02}")), &noise(100 + i * 1000, i as u64));
    }
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::os::unix::fs::symlink("sub/script.sh", src.join("link")).unwrap();
    env.backup_json(&[src.to_str().unwrap()]);
    (env, src)
}

fn run(cmd: &mut std::process::Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// `dir` inside `root` as an archive entry would name it: without the leading `/`.
fn inside(root: &Path, dir: &Path) -> PathBuf {
    root.join(dir.strip_prefix("/").unwrap())
}

#[test]
fn a_directory_streams_as_tar_and_zip_equal_to_the_source() {
    let (env, src) = repo_with_tree();
    let s = start(&env, &[]);
    let auth = bearer(&s);
    let url = |path: &Path, format: &str| {
        format!("{}/api/snapshots/latest/archive?path={}&format={format}", s.base, enc(&path.display().to_string()))
    };

    // tar (the default format): GNU tar extracts every byte, mode, owner and time of the source
    let tar = get(&url(&src, "tar").replace("&format=tar", ""), &[("Authorization", &auth)]);
    assert_eq!(tar.status, 200, "{}", String::from_utf8_lossy(&tar.body));
    assert_eq!(tar.header("content-type"), "application/x-tar");
    assert_eq!(tar.header("content-disposition"), "attachment; filename*=UTF-8''src.tar");
    assert!(tar.header("content-length").is_empty(), "streamed: no length known in advance");
    let out = env.path("from-tar");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(env.path("a.tar"), &tar.body).unwrap();
    run(std::process::Command::new("tar").arg("-xpf").arg(env.path("a.tar")).arg("-C").arg(&out));
    assert_same_tree(&describe(&src), &describe(&inside(&out, &src)));

    // zip: unzip gives the same bytes and permissions (zip keeps no owners, times to 2 s)
    let zip = get(&url(&src.join("sub"), "zip"), &[("Authorization", &auth)]);
    assert_eq!(zip.status, 200, "{}", String::from_utf8_lossy(&zip.body));
    assert_eq!(zip.header("content-type"), "application/zip");
    assert_eq!(zip.header("content-disposition"), "attachment; filename*=UTF-8''sub.zip");
    let out = env.path("from-zip");
    std::fs::write(env.path("a.zip"), &zip.body).unwrap();
    run(std::process::Command::new("unzip").arg("-q").arg(env.path("a.zip")).arg("-d").arg(&out));
    let (want, got) = (describe(&src.join("sub")), describe(&inside(&out, &src.join("sub"))));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (p, w) in &want {
        let g = &got[p];
        assert_eq!((w.kind, w.mode, w.content), (g.kind, g.mode, g.content), "{}", p.display());
    }

    // the whole snapshot when no path is given; its entries are named by their full path
    let whole = get(&format!("{}/api/snapshots/latest/archive", s.base), &[("Authorization", &auth)]);
    assert_eq!(whole.status, 200);
    assert!(whole.header("content-disposition").contains("snapshot-"), "{}", whole.header("content-disposition"));
    let big = noise(3 << 20, 7);
    assert!(
        whole.body.windows(big.len().min(4096)).any(|w| w == &big[..4096]),
        "the big file is in the root's archive"
    );

    // what is not a directory, does not exist or is not a format: errors before any byte
    let file = get(&url(&src.join("big.bin"), "tar"), &[("Authorization", &auth)]);
    assert_eq!(file.status, 400);
    assert_eq!(file.json()["error"]["kind"], "usage");
    assert!(file.json()["error"]["hint"].as_str().unwrap().contains("/file?path="));
    let missing = get(&url(&src.join("nothing"), "tar"), &[("Authorization", &auth)]);
    assert_eq!(missing.status, 404);
    let format = get(&url(&src, "rar"), &[("Authorization", &auth)]);
    assert_eq!(format.status, 400);
    assert!(format.json()["error"]["message"].as_str().unwrap().contains("rar"));
    let up = get(&format!("{}/api/snapshots/latest/archive?path=/..", s.base), &[("Authorization", &auth)]);
    assert_eq!(up.status, 400, "no way out of the snapshot's tree");
}

/// The events of a job's SSE stream, `(event, data)`, up to and with the final one.
fn events(s: &Server, job: &str) -> Vec<(String, Value)> {
    use std::io::BufRead;
    let url = format!("{}/api/jobs/{job}/events", s.base);
    let mut r = agent().get(&url).header("Authorization", &bearer(s)).call().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let reader = std::io::BufReader::new(r.body_mut().as_reader());
    let (mut out, mut name) = (vec![], String::new());
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            out.push((name.clone(), serde_json::from_str(d).unwrap()));
            if name == "done" || name == "failed" {
                break;
            }
        }
    }
    out
}

/// Start a restore (by the token) and return the job's id.
fn restore_job(s: &Server, body: Value) -> String {
    let a = post_json(&format!("{}/api/restore", s.base), &[("Authorization", &bearer(s))], &body);
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    a.json()["job"].as_str().unwrap().to_string()
}

#[test]
fn a_restore_job_reports_progress_and_restores_the_snapshot_inside_a_root() {
    let (env, src) = repo_with_tree();
    let root = env.path("restores");
    std::fs::create_dir_all(&root).unwrap();
    let s = start(&env, &["--restore-root", root.to_str().unwrap()]);
    let auth = bearer(&s);
    let roots = get(&format!("{}/api/restore/roots", s.base), &[("Authorization", &auth)]);
    assert_eq!(roots.json(), serde_json::json!({"roots": [root.to_str().unwrap()]}));

    // a target that does not exist yet is made inside the root; the job ends done, with the
    // restore's --json summary as its report
    let target = root.join("new/place");
    let job = restore_job(
        &s,
        serde_json::json!({"snapshot": "latest", "path": src.to_str().unwrap(), "target": target.to_str().unwrap()}),
    );
    let evs = events(&s, &job);
    let (last, job_view) = evs.last().unwrap();
    assert_eq!(last, "done", "{evs:?}");
    assert_eq!(job_view["state"], "done");
    assert_eq!(job_view["kind"], "restore");
    assert_eq!(job_view["report"]["message_type"], "summary");
    assert_eq!(job_view["report"]["files_restored"], 13, "{job_view}");
    assert!(job_view["finished"].is_string() && job_view["error"].is_null());
    // progress in restic's status shape (the restore may end before the stream begins: the
    // job's own progress holds the final counters, and live events are status messages)
    assert_eq!(job_view["progress"]["message_type"], "status");
    assert_eq!(job_view["progress"]["files_restored"], 13);
    assert_eq!(job_view["progress"]["percent_done"], 1.0);
    for (_, p) in evs.iter().filter(|(n, _)| n == "progress") {
        assert_eq!(p["message_type"], "status", "{p}");
        assert!(p["total_files"].is_u64() && p["bytes_restored"].is_u64(), "{p}");
    }
    // the tree is the source's, below the target as restore places a path of the snapshot
    assert_same_tree(&describe(&src), &describe(&target));

    // a late subscriber gets the final event at once; the job is listed and shown
    let again = events(&s, &job);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].0, "done");
    let listed = get(&format!("{}/api/jobs", s.base), &[("Authorization", &auth)]).json();
    assert!(listed.as_array().unwrap().iter().any(|j| j["id"] == job.as_str()));
    let one = get(&format!("{}/api/jobs/{job}", s.base), &[("Authorization", &auth)]).json();
    assert_eq!(one["state"], "done");
    assert_eq!(get(&format!("{}/api/jobs/nothing", s.base), &[("Authorization", &auth)]).status, 404);

    // overwrite never keeps a changed file; delete removes what the snapshot lacks; a dry
    // run changes nothing
    write(&target.join("sub/private"), b"changed");
    write(&target.join("extra"), b"not in the snapshot");
    let body = |extra: Value| {
        let mut b = serde_json::json!({"snapshot": "latest", "path": src.to_str().unwrap(), "target": target.to_str().unwrap()});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    let dry = restore_job(&s, body(serde_json::json!({"delete": true, "dry_run": true})));
    let (last, v) = events(&s, &dry).pop().unwrap();
    assert_eq!(last, "done", "{v}");
    assert_eq!(v["report"]["dry_run"], true);
    assert!(target.join("extra").exists(), "a dry run deletes nothing");
    let never = restore_job(&s, body(serde_json::json!({"overwrite": "never", "delete": true})));
    assert_eq!(events(&s, &never).pop().unwrap().0, "done");
    assert_eq!(std::fs::read(target.join("sub/private")).unwrap(), b"changed", "never overwritten");
    assert!(!target.join("extra").exists(), "deleted");
    let always = restore_job(&s, body(serde_json::json!({"overwrite": "always"})));
    assert_eq!(events(&s, &always).pop().unwrap().0, "done");
    assert_same_tree(&describe(&src), &describe(&target));
    // a dry run into a target that does not exist makes nothing
    let nowhere = root.join("not/made");
    let dry = restore_job(
        &s,
        serde_json::json!({"snapshot": "latest", "target": nowhere.to_str().unwrap(), "dry_run": true}),
    );
    assert_eq!(events(&s, &dry).pop().unwrap().0, "done");
    assert!(!root.join("not").exists());

    // a bad request is an answer, not a failed job
    let bad = post_json(
        &format!("{}/api/restore", s.base),
        &[("Authorization", &auth)],
        &serde_json::json!({"snapshot": "ffffffff", "target": target.to_str().unwrap()}),
    );
    assert_eq!(bad.status, 404, "{}", String::from_utf8_lossy(&bad.body));
    let bad = post_json(
        &format!("{}/api/restore", s.base),
        &[("Authorization", &auth)],
        &serde_json::json!({"snapshot": "latest", "target": target.to_str().unwrap(), "overwrite": "sometimes"}),
    );
    assert_eq!(bad.status, 400);
    let bad = post_json(&format!("{}/api/restore", s.base), &[("Authorization", &auth)], &serde_json::json!({"x": 1}));
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["kind"], "usage");
}

#[test]
fn a_slow_restore_sends_live_progress_and_a_third_job_waits_its_turn() {
    // storage read at 512 KiB/s (`--limit-download`, which lets a transfer start at once and
    // makes the next one wait for it): a snapshot in two packs, 3 MiB and 1 MiB, takes seconds
    // to restore, so the stream must carry progress while the job runs, not only at its end
    let (env, src) = repo_with_tree();
    write(&src.join("extra.bin"), &noise(1 << 20, 99));
    env.backup_json(&[src.to_str().unwrap()]);
    let root = env.path("restores");
    std::fs::create_dir_all(&root).unwrap();
    let s = start(&env, &["--limit-download", "512", "--restore-root", root.to_str().unwrap()]);
    let target = root.join("slow");
    let job = restore_job(
        &s,
        serde_json::json!({"snapshot": "latest", "path": src.to_str().unwrap(), "target": target.to_str().unwrap()}),
    );
    // while it runs, a second job is taken and a third refused: two at once, the most
    let second = restore_job(
        &s,
        serde_json::json!({"snapshot": "latest", "path": src.to_str().unwrap(), "target": root.join("second").to_str().unwrap(), "dry_run": true}),
    );
    let third = post_json(
        &format!("{}/api/restore", s.base),
        &[("Authorization", &bearer(&s))],
        &serde_json::json!({"snapshot": "latest", "target": root.join("third").to_str().unwrap()}),
    );
    assert_eq!(third.status, 503, "{}", String::from_utf8_lossy(&third.body));
    assert_eq!(third.json()["error"]["kind"], "locked");
    assert!(third.json()["error"]["hint"].as_str().unwrap().contains("wait"), "{}", third.json());
    assert!(!root.join("third").exists(), "a refused job writes nothing");
    let evs = events(&s, &job);
    let (last, view) = evs.last().unwrap();
    assert_eq!(last, "done", "{evs:?}");
    assert_eq!(events(&s, &second).pop().unwrap().0, "done");
    let live: Vec<&Value> = evs
        .iter()
        .filter(|(n, p)| n == "progress" && p["percent_done"].as_f64().is_some_and(|f| f < 1.0))
        .map(|(_, p)| p)
        .collect();
    assert!(!live.is_empty(), "no progress while the restore ran: {evs:?}");
    // the counters only grow, and the report ends at the whole snapshot
    let done: Vec<u64> = live.iter().map(|p| p["bytes_restored"].as_u64().unwrap()).collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert_eq!(view["report"]["files_restored"], 14, "{view}");
    assert_same_tree(&describe(&src), &describe(&target));
}

#[test]
fn restores_outside_the_roots_are_refused_and_write_nothing() {
    let (env, _src) = repo_with_tree();
    let root = env.path("restores");
    let outside = env.path("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();

    // no roots configured: restores go nowhere
    let none = start(&env, &[]);
    let a = post_json(
        &format!("{}/api/restore", none.base),
        &[("Authorization", &bearer(&none))],
        &serde_json::json!({"snapshot": "latest", "target": root.join("x").to_str().unwrap()}),
    );
    assert_eq!(a.status, 403);
    assert!(a.json()["error"]["hint"].as_str().unwrap().contains("--restore-root"));
    assert_eq!(
        get(&format!("{}/api/restore/roots", none.base), &[("Authorization", &bearer(&none))]).json()["roots"],
        serde_json::json!([])
    );
    drop(none);

    let s = start(&env, &["--restore-root", root.to_str().unwrap()]);
    let refused = |target: String| {
        let a = post_json(
            &format!("{}/api/restore", s.base),
            &[("Authorization", &bearer(&s))],
            &serde_json::json!({"snapshot": "latest", "target": target}),
        );
        assert_eq!(a.status, 403, "{target}: {}", String::from_utf8_lossy(&a.body));
        assert_eq!(a.json()["error"]["kind"], "forbidden");
    };
    refused(outside.display().to_string());
    refused("/".into());
    refused(format!("{}/../outside", root.display()));
    refused(format!("{}/evil", root.display()));
    refused(format!("{}/evil/deeper", root.display()));
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing written outside");

    // the root itself replaced by a symlink to elsewhere after the server started
    std::fs::rename(&root, env.path("moved")).unwrap();
    std::os::unix::fs::symlink(&outside, &root).unwrap();
    refused(format!("{}/x", root.display()));
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none(), "nothing written outside");
}

#[test]
fn a_restore_through_the_login_cookie_needs_the_csrf_token() {
    let (env, _src) = repo_with_tree();
    let root = env.path("restores");
    std::fs::create_dir_all(&root).unwrap();
    let s = start(&env, &["--restore-root", root.to_str().unwrap()]);
    let login = post(&format!("{}/login", s.base), &[], &format!("token={}", s.token.as_deref().unwrap()));
    let cookie = login.header("set-cookie").split(';').next().unwrap().to_string();
    let csrf =
        get(&format!("{}/api/session", s.base), &[("Cookie", &cookie)]).json()["csrf"].as_str().unwrap().to_string();
    let body = serde_json::json!({"snapshot": "latest", "target": root.join("t").to_str().unwrap()});
    let url = format!("{}/api/restore", s.base);
    let forged = post_json(&url, &[("Cookie", &cookie)], &body);
    assert_eq!(forged.status, 403);
    assert!(!root.join("t").exists(), "nothing restored without the token");
    let ok = post_json(&url, &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], &body);
    assert_eq!(ok.status, 202, "{}", String::from_utf8_lossy(&ok.body));
}

#[test]
fn every_new_route_without_credentials_is_401() {
    let (env, _src) = repo_with_tree();
    let root = env.path("restores");
    std::fs::create_dir_all(&root).unwrap();
    let s = start(&env, &["--restore-root", root.to_str().unwrap()]);
    for path in [
        "/api/snapshots/latest/archive",
        "/api/snapshots/latest/archive?format=zip",
        "/api/restore/roots",
        "/api/jobs",
        "/api/jobs/x",
        "/api/jobs/x/events",
        "/api/backup/profiles",
    ] {
        for auth in [None, Some("Bearer wrong")] {
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
            let a = get(&format!("{}{path}", s.base), &headers);
            assert_eq!(a.status, 401, "GET {path} with {auth:?}");
            assert_eq!(a.json()["error"]["kind"], "unauthorized");
        }
    }
    let body = serde_json::json!({"snapshot": "latest", "target": root.join("t").to_str().unwrap()});
    for path in ["/api/restore", "/api/backup"] {
        let a = post_json(&format!("{}{path}", s.base), &[("Authorization", "Bearer wrong")], &body);
        assert_eq!(a.status, 401, "POST {path}");
    }
    assert!(!root.join("t").exists());
}

#[test]
fn a_profile_backup_runs_as_the_command_line_runs_it_beside_the_servers_lock() {
    let (env, src) = repo_with_tree();
    write(&src.join("skipped.tmp"), b"excluded by the profile");
    let log = env.path("hooks.log");
    let config = env.path(".config/arca");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("laptop.toml"),
        format!(
            "[backup]\nsources = [\"{}\"]\nexclude = [\"*.tmp\"]\ntags = [\"web\"]\n\
             run-before = [\"echo before $ARCA_PROFILE >> {l}\"]\n\
             run-after = [\"echo after $ARCA_SNAPSHOT_ID >> {l}\"]\n",
            src.display(),
            l = log.display()
        ),
    )
    .unwrap();
    let s = start(&env, &["-P", "laptop"]);
    let auth = bearer(&s);
    let profiles = get(&format!("{}/api/backup/profiles", s.base), &[("Authorization", &auth)]);
    assert_eq!(
        profiles.json(),
        serde_json::json!({"profiles": [{"name": "laptop", "paths": [src.to_str().unwrap()]}]})
    );
    let before = get(&format!("{}/api/snapshots", s.base), &[("Authorization", &auth)]).json();
    assert_eq!(before.as_array().unwrap().len(), 1);

    let a = post_json(
        &format!("{}/api/backup", s.base),
        &[("Authorization", &auth)],
        &serde_json::json!({"profile": "laptop"}),
    );
    assert_eq!(a.status, 202, "{}", String::from_utf8_lossy(&a.body));
    let job = a.json()["job"].as_str().unwrap().to_string();
    let (last, v) = events(&s, &job).pop().unwrap();
    assert_eq!(last, "done", "{v}");
    assert_eq!(v["kind"], "backup");
    // the report is backup --json's summary; the progress is its status message
    let report = &v["report"];
    assert_eq!(report["message_type"], "summary");
    let id = report["snapshot_id"].as_str().unwrap().to_string();
    assert_eq!(report["parent"], before[0]["id"], "the profile's earlier snapshot is the parent: {report}");
    assert_eq!(v["progress"]["message_type"], "status");
    assert!(v["progress"]["bytes_done"].is_u64(), "{}", v["progress"]);
    // the hooks ran around it, with the CLI's facts
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("before laptop\nafter {id}\n"));

    // the new snapshot is listed at once, with the profile's tag and without the excluded file
    let after = get(&format!("{}/api/snapshots", s.base), &[("Authorization", &auth)]).json();
    let snaps = after.as_array().unwrap();
    assert_eq!(snaps.len(), 2, "{after}");
    assert_eq!(snaps[1]["id"], id.as_str());
    assert_eq!(snaps[1]["tags"], serde_json::json!(["web"]));
    let tree = get(
        &format!("{}/api/snapshots/{id}/tree?path={}", s.base, enc(&src.display().to_string())),
        &[("Authorization", &auth)],
    );
    let names: Vec<String> =
        tree.json()["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"big.bin".to_string()) && !names.contains(&"skipped.tmp".to_string()), "{names:?}");

    // the backup's shared lock came and went beside the server's read lock: one lock is left
    let locks = env.ok(&["list", "locks"]);
    assert_eq!(locks.lines().count(), 1, "only the server's lock: {locks}");

    // a profile the server was not started with is not run
    let other = post_json(
        &format!("{}/api/backup", s.base),
        &[("Authorization", &auth)],
        &serde_json::json!({"profile": "desktop"}),
    );
    assert_eq!(other.status, 404);
    assert!(other.json()["error"]["hint"].as_str().unwrap().contains("laptop"));
    drop(s);
    env.check();
}

/// An htpasswd file of `alice` (password `alice-pw`), hashed with Argon2 parameters costly
/// enough (8 MiB, 2 passes) that a skipped verification shows in the time of an answer.
fn htpasswd(env: &Env) -> PathBuf {
    use argon2::password_hash::PasswordHasher;
    let params = argon2::Params::new(8192, 2, 1, None).unwrap();
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let users = env.path("users");
    std::fs::write(&users, format!("alice:{}\n", a.hash_password(b"alice-pw").unwrap())).unwrap();
    users
}

#[test]
fn failed_logins_are_throttled_per_address_and_a_success_forgets_them() {
    let (env, _src) = repo_with_tree();
    let users = htpasswd(&env);
    let s = start(&env, &["--htpasswd", users.to_str().unwrap()]);
    let url = format!("{}/api/session", s.base);
    let basic = |pw: &str| vec![("Authorization".to_string(), format!("Basic {}", b64(&format!("alice:{pw}"))))];
    let try_ = |pw: &str| {
        let h = basic(pw);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        get(&url, &h)
    };
    for i in 0..5 {
        assert_eq!(try_("wrong").status, 401, "failure {i} is answered as such");
    }
    // the sixth attempt waits, even with the right password, and is not checked at all
    let held = try_("alice-pw");
    assert_eq!(held.status, 429, "{}", String::from_utf8_lossy(&held.body));
    assert_eq!(held.header("retry-after"), "1");
    // the login form is held up too (the same address)
    let form = post(&format!("{}/login", s.base), &[], "user=alice&password=alice-pw");
    assert_eq!(form.status, 429);
    assert!(form.header("set-cookie").is_empty());
    // a browser at the form gets the form again, saying why and for how long, not JSON
    let page = post(&format!("{}/login", s.base), &[("Accept", "text/html")], "user=alice&password=alice-pw");
    assert_eq!(page.status, 429);
    assert_eq!(page.header("retry-after"), "1");
    assert!(page.header("content-type").starts_with("text/html"), "{}", page.header("content-type"));
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("too many failed logins") && html.contains("<form"), "{html}");
    assert!(page.header("set-cookie").is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // the wait passed: a sixth failure makes the next wait longer
    assert_eq!(try_("wrong").status, 401);
    let longer = try_("alice-pw");
    assert_eq!(longer.status, 429);
    assert_eq!(longer.header("retry-after"), "2", "the wait doubles");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    // a success forgets the address: five failures are free again
    assert_eq!(try_("alice-pw").status, 200);
    for _ in 0..5 {
        assert_eq!(try_("wrong").status, 401);
    }
    assert_eq!(try_("alice-pw").status, 429);
}

#[test]
fn an_unknown_user_costs_the_time_of_a_wrong_password() {
    let (env, _src) = repo_with_tree();
    let users = htpasswd(&env);
    let s = start(&env, &["--htpasswd", users.to_str().unwrap()]);
    let url = format!("{}/api/session", s.base);
    let timed = |cred: &str| {
        let h = format!("Basic {}", b64(cred));
        let t = std::time::Instant::now();
        let a = get(&url, &[("Authorization", &h)]);
        (a.status, t.elapsed())
    };
    let (mut wrong, mut unknown) = (vec![], vec![]);
    for _ in 0..5 {
        let (st, t) = timed("alice:wrong");
        assert_eq!(st, 401);
        wrong.push(t);
        let (st, t) = timed("mallory:wrong");
        assert_eq!(st, 401);
        unknown.push(t);
        // a success between the rounds keeps the throttle out of the measurement
        assert_eq!(timed("alice:alice-pw").0, 200);
    }
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[2], unknown[2]);
    // without the made-up hash an unknown user is answered without any Argon2 work: many
    // times faster. A generous factor, so a busy machine cannot make it flake.
    assert!(u * 4 > w, "unknown user {u:?} vs wrong password {w:?}: the answer's time tells users apart");
}

/// A self-signed certificate for 127.0.0.1 and its key (openssl), as PEM files.
fn self_signed(env: &Env) -> (PathBuf, PathBuf) {
    let (cert, key) = (env.path("cert.pem"), env.path("key.pem"));
    run(std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=arca test", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    (cert, key)
}

/// One HTTP/1.1 request over TLS to `addr`, trusting only `cert`: the whole answer as text.
fn https(addr: &str, cert: &Path, request: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_file(cert).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes()).unwrap();
    let mut out = vec![];
    // the server may close without close_notify after `Connection: close`: what came counts
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn https_with_a_certificate_sets_a_secure_cookie_and_needs_no_insecure_http() {
    let (env, _src) = repo_with_tree();
    let (cert, key) = self_signed(&env);
    let s = start(&env, &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    let addr = s.base.strip_prefix("https://").expect("an https:// address").to_string();
    let token = s.token.clone().unwrap();
    let listed = https(
        &addr,
        &cert,
        &format!("GET /api/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"),
    );
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    assert!(listed.contains("\"summary\""), "{listed}");
    let body = format!("token={token}");
    let login = https(
        &addr,
        &cert,
        &format!(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(login.starts_with("HTTP/1.1 303"), "{login}");
    let cookie = login.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap().to_string();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // plain HTTP to the HTTPS port gets no answer of the API
    let plain = std::panic::catch_unwind(|| {
        get(&format!("http://{addr}/api/snapshots"), &[("Authorization", &format!("Bearer {token}"))])
    });
    assert!(plain.map(|a| a.status != 200).unwrap_or(true));
    drop(s);

    // a non-loopback address needs no --insecure-http with TLS (refused without either)
    let o = env.run(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    let err = crate::common::stderr(&o);
    assert!(!err.contains("insecure-http") && err.contains("/nonexistent/key.pem"), "the key file is named: {err}");
    let o = env.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert!(crate::common::stderr(&o).contains("--insecure-http"));
    // a certificate file that is not one is named
    let o = env.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        key.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(crate::common::code(&o), 1);
    assert!(crate::common::stderr(&o).contains("key.pem"), "{}", crate::common::stderr(&o));
}
