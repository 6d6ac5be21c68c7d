//! Long work as jobs: a restore or a backup runs on a blocking thread with the CLI's own verb
//! function and progress meter; the request that starts it is answered `202 {"job": ID}` at
//! once, and the job is followed at `GET /api/jobs/{job}` or as Server-Sent Events:
//!
//! - `GET /api/jobs`: every job kept, oldest first
//! - `GET /api/jobs/{job}`: `{id, kind, state, started, finished, progress, report, error}`
//! - `GET /api/jobs/{job}/events`: `event: progress` (the restic `status` message the CLI's
//!   `--json` prints), then one `event: done` or `event: failed` with the job; a client that
//!   connects after the end gets that final event at once
//!
//! Each job's state is a `watch` channel: the worker replaces it, subscribers see the newest
//! (progress is a picture, a slow client skips pictures and never holds the worker back).
//! At most [`MAX_RUNNING`] jobs run at once (more are refused, 503) and [`MAX_KEPT`] are kept
//! (the oldest finished one is dropped for a new one).
//!
//! The routes of long work are all here: directory archives ([`super::archive`]), restores
//! into the restore roots ([`super::restore`]) and backups of the server's profile.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

use super::error::ApiError;
use super::state::State;
use crate::error::{Error, Kind, Result};

/// Jobs running at once, at most.
pub const MAX_RUNNING: usize = 2;
/// Jobs kept (running and finished), at most.
pub const MAX_KEPT: usize = 50;
/// How often a running job's progress is taken from its counters.
pub const TICK: Duration = Duration::from_millis(250);

/// A restic `status` message of the work's counters, or `None` when there is nothing to say
/// yet. Made by the face that owns the meter (the CLI's `--json` progress).
pub type StatusFn = Box<dyn FnMut(Duration, bool) -> Option<Value> + Send>;

/// Where a job's work reports its progress.
pub type StatusSink = Arc<dyn Fn(Value) + Send + Sync>;

/// What the server may run and where: the job table, the restore roots, and the meters of the
/// face that started the server.
#[derive(Default)]
pub struct Work {
    pub jobs: Jobs,
    pub roots: Vec<super::restore::Root>,
    /// The restic `status` message of a restore's counters (the CLI's `--json` meter).
    pub restore_status: Option<fn(Arc<crate::restorer::RestoreProgress>) -> StatusFn>,
    /// The profile backups `POST /api/backup` may start.
    pub backups: Vec<BackupProfile>,
}

/// Run a profile's backup into the repository, reporting status pictures to the sink; returns
/// the `backup --json` summary.
pub type BackupFn = Arc<dyn Fn(Arc<crate::repo::Repository>, StatusSink) -> Result<Value> + Send + Sync>;

/// A backup the server may run: the profile it was started with (`arca -P NAME serve`).
#[derive(Clone)]
pub struct BackupProfile {
    /// The profile's name (`-P a -P b`: `a,b`, merged as the command line merges them).
    pub name: String,
    /// Its sources.
    pub paths: Vec<String>,
    pub run: BackupFn,
}

/// The error of a failed job, as the API renders errors.
#[derive(Clone, Debug, Serialize)]
pub struct JobError {
    pub kind: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A job as the API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub kind: &'static str,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    pub started: String,
    pub finished: Option<String>,
    pub progress: Option<Value>,
    pub report: Option<Value>,
    pub error: Option<JobError>,
}

pub struct Job {
    view: watch::Sender<JobView>,
}

impl Job {
    pub fn view(&self) -> JobView {
        self.view.borrow().clone()
    }
    fn running(&self) -> bool {
        self.view.borrow().state == "running"
    }
}

/// The jobs kept.
#[derive(Default)]
pub struct Jobs {
    table: Mutex<VecDeque<Arc<Job>>>,
}

fn now() -> String {
    crate::platform::now_rfc3339()
}

impl Jobs {
    fn table(&self) -> Result<std::sync::MutexGuard<'_, VecDeque<Arc<Job>>>> {
        self.table.lock().map_err(|_| Error::internal("the job table's lock is poisoned"))
    }

    pub fn list(&self) -> Result<Vec<JobView>> {
        Ok(self.table()?.iter().map(|j| j.view()).collect())
    }

    pub fn get(&self, id: &str) -> Result<Arc<Job>> {
        self.table()?.iter().find(|j| j.view.borrow().id == id).cloned().ok_or_else(|| {
            Error::new(Kind::NotFound, format!("no job {id:?}"))
                .hint("GET /api/jobs lists the jobs kept (the oldest finished ones are dropped)")
        })
    }

    /// Refused (503) while [`MAX_RUNNING`] jobs run: asked before a job's preparations write
    /// anything (a restore's target directories), and again when it starts.
    pub fn has_room(&self) -> Result<(), ApiError> {
        Self::room(&*self.table()?)
    }

    fn room(table: &VecDeque<Arc<Job>>) -> Result<(), ApiError> {
        let running = table.iter().filter(|j| j.running()).count();
        if running >= MAX_RUNNING {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                kind: Kind::Locked.as_str(),
                message: format!("{running} jobs are running, the most this server runs at once"),
                hint: Some("wait for one to finish (GET /api/jobs), then ask again".into()),
            });
        }
        Ok(())
    }

    /// Start `work` as a job of `kind` on a blocking thread: it gets a sink for its progress
    /// and returns its report. Refused while [`MAX_RUNNING`] jobs run.
    pub fn start(
        &self,
        kind: &'static str,
        work: impl FnOnce(StatusSink) -> Result<Value> + Send + 'static,
    ) -> Result<String, ApiError> {
        let id = hex::encode(crate::crypto::random_bytes::<8>());
        let view = JobView {
            id: id.clone(),
            kind,
            state: "running",
            started: now(),
            finished: None,
            progress: None,
            report: None,
            error: None,
        };
        let job = Arc::new(Job { view: watch::Sender::new(view) });
        {
            let mut table = self.table()?;
            Self::room(&table)?;
            while table.len() >= MAX_KEPT {
                let Some(old) = table.iter().position(|j| !j.running()) else { break };
                table.remove(old);
            }
            table.push_back(job.clone());
        }
        let sink: StatusSink = {
            let job = job.clone();
            Arc::new(move |status| job.view.send_modify(|v| v.progress = Some(status)))
        };
        tokio::task::spawn_blocking(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(sink)))
                .unwrap_or_else(|_| Err(Error::internal("the job's worker panicked")));
            job.view.send_modify(|v| {
                v.finished = Some(now());
                match result {
                    Ok(report) => {
                        v.state = "done";
                        v.report = Some(report);
                    }
                    Err(e) => {
                        let e = ApiError::from(e);
                        v.state = "failed";
                        v.error = Some(JobError { kind: e.kind.to_string(), message: e.message, hint: e.hint });
                    }
                }
            });
        });
        Ok(id)
    }
}

/// Run `work` while a thread takes `status` pictures every [`TICK`] into `sink`; a last
/// picture is taken when the work is done, so the final counters are the last progress.
pub fn metered<T>(mut status: StatusFn, sink: StatusSink, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let (result, status) = std::thread::scope(|scope| {
        let stop2 = stop.clone();
        let sink2 = sink.clone();
        let ticker = scope.spawn(move || {
            let mut next = started + TICK;
            loop {
                // short sleeps, so the end of the work is not kept waiting
                while Instant::now() < next && !stop2.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if stop2.load(Ordering::Acquire) {
                    return status;
                }
                if let Some(v) = status(started.elapsed(), false) {
                    sink2(v);
                }
                next += TICK;
            }
        });
        let result = work();
        stop.store(true, Ordering::Release);
        (result, ticker.join().ok())
    });
    if let Some(v) = status.and_then(|mut s| s(started.elapsed(), true)) {
        sink(v);
    }
    result
}

/// `202 {"job": ID}`.
pub fn accepted(id: String) -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({ "job": id }))).into_response()
}

pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/snapshots/{id}/archive", get(super::archive::archive))
        .route("/restore", post(super::restore::restore))
        .route("/restore/roots", get(super::restore::roots))
        .route("/backup", post(backup))
        .route("/backup/profiles", get(profiles))
        .route("/jobs", get(list))
        .route("/jobs/{job}", get(one))
        .route("/jobs/{job}/events", get(events))
}

#[derive(Serialize)]
struct ProfileInfo {
    name: String,
    paths: Vec<String>,
}

/// `GET /api/backup/profiles` → `{"profiles": [{name, paths}]}`.
async fn profiles(AxumState(state): AxumState<Arc<State>>) -> Json<Value> {
    let list: Vec<ProfileInfo> =
        state.work.backups.iter().map(|b| ProfileInfo { name: b.name.clone(), paths: b.paths.clone() }).collect();
    Json(serde_json::json!({ "profiles": list }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRequest {
    profile: String,
}

/// `POST /api/backup {"profile": NAME}` → `202 {"job": ID}`: the profile's backup, as
/// `arca -P NAME backup` runs it (sources, excludes, tags, hooks), with live progress; its
/// snapshot is in `/api/snapshots` once the job is done.
async fn backup(
    AxumState(state): AxumState<Arc<State>>,
    body: std::result::Result<Json<BackupRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::from(
            Error::usage(format!("invalid backup request: {}", e.body_text()))
                .hint("send JSON: {\"profile\": NAME} (GET /api/backup/profiles lists them)"),
        )
    })?;
    let Some(profile) = state.work.backups.iter().find(|b| b.name == req.profile).cloned() else {
        let names: Vec<&str> = state.work.backups.iter().map(|b| b.name.as_str()).collect();
        return Err(Error::new(Kind::NotFound, format!("no backup profile {:?} on this server", req.profile))
            .hint(if names.is_empty() {
                "start the server with the profile to back up: arca -P NAME serve".to_string()
            } else {
                format!("this server runs the backups of: {}", names.join(", "))
            })
            .into());
    };
    let st = state.clone();
    let id = state.work.jobs.start("backup", move |sink| {
        let report = (profile.run)(st.repo.clone(), sink);
        // the new snapshot is listed at the next request, not after the refresh interval
        st.snapshots_changed();
        report
    })?;
    Ok(accepted(id))
}

async fn list(AxumState(state): AxumState<Arc<State>>) -> Result<Json<Vec<JobView>>, ApiError> {
    Ok(Json(state.work.jobs.list()?))
}

async fn one(AxumState(state): AxumState<Arc<State>>, Path(job): Path<String>) -> Result<Json<JobView>, ApiError> {
    Ok(Json(state.work.jobs.get(&job)?.view()))
}

/// The SSE event of one picture of a job, and whether it is the last.
fn event_of(v: &JobView) -> (Event, bool) {
    let data = |name: &str, value: serde_json::Result<String>| {
        Event::default().event(name).data(value.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")))
    };
    match (v.state, &v.progress) {
        ("running", Some(p)) => (data("progress", serde_json::to_string(p)), false),
        ("running", None) => (Event::default().comment("started"), false),
        ("done", _) => (data("done", serde_json::to_string(v)), true),
        _ => (data("failed", serde_json::to_string(v)), true),
    }
}

async fn events(
    AxumState(state): AxumState<Arc<State>>,
    Path(job): Path<String>,
) -> Result<Sse<impl futures_util::Stream<Item = std::result::Result<Event, Infallible>>>, ApiError> {
    let rx = state.work.jobs.get(&job)?.view.subscribe();
    // (receiver, ended, first): the first picture is sent at once, later ones when they change
    let stream = futures_util::stream::unfold((rx, false, true), |(mut rx, ended, first)| async move {
        if ended || (!first && rx.changed().await.is_err()) {
            return None;
        }
        let (event, last) = event_of(&rx.borrow_and_update());
        Some((Ok(event), (rx, last, false)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metered_job_reports_pictures_while_it_runs_and_the_final_one_last() {
        let seen = Arc::new(Mutex::new(vec![]));
        let sink: StatusSink = {
            let seen = seen.clone();
            Arc::new(move |v| seen.lock().unwrap().push(v))
        };
        let status: StatusFn = Box::new(|_, last| Some(serde_json::json!({ "last": last })));
        let got = metered(status, sink, || {
            std::thread::sleep(TICK * 3);
            7
        });
        assert_eq!(got, 7);
        let seen = seen.lock().unwrap();
        assert!(seen.len() >= 2, "pictures while it ran: {seen:?}");
        assert_eq!(seen.last().unwrap()["last"], true);
        assert!(seen[..seen.len() - 1].iter().all(|v| v["last"] == false));
    }

    #[test]
    fn events_are_progress_then_one_final_event_with_the_job() {
        let mut v = JobView {
            id: "j".into(),
            kind: "restore",
            state: "running",
            started: now(),
            finished: None,
            progress: None,
            report: None,
            error: None,
        };
        assert!(!event_of(&v).1);
        v.progress = Some(serde_json::json!({"message_type": "status"}));
        assert!(!event_of(&v).1);
        v.state = "failed";
        assert!(event_of(&v).1, "the final event ends the stream");
    }
}
