//! `arca daemon [-P profile]…`: the profiles' scheduled jobs run by `automation::daemon`, with
//! `--metrics-listen` serving their run records as Prometheus metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::args::Global;
use super::automation_args::DaemonArgs;
use super::exit;
use super::output::Out;
use crate::automation::daemon::Daemon;
use crate::error::{Error, Result};

pub fn run(g: &Global, _out: Out, a: &DaemonArgs) -> Result<u8> {
    let loaded = super::schedule::scheduled(g, "daemon")?;
    let root = super::schedule::state_root(g, &loaded)
        .ok_or_else(|| Error::usage("no cache directory for the daemon's state").hint("give --cache-dir DIR"))?;
    let state_dir = crate::cache::job_state::profile_dir(&root, &loaded.names)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("the arca executable", e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let metrics = match &a.metrics_listen {
        None => None,
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr).map_err(|e| {
                Error::io(format!("--metrics-listen {addr}"), e).hint("give a free ADDR:PORT, e.g. 127.0.0.1:9842")
            })?;
            let bound = listener.local_addr().map_err(|e| Error::io(addr, e))?;
            eprintln!("arca daemon: metrics at http://{bound}/metrics");
            let dirs = vec![(crate::cache::job_state::profile_key(&loaded.names), state_dir.clone())];
            Some(crate::automation::metrics::serve(
                listener,
                move || crate::automation::metrics::render(&dirs),
                stop.clone(),
            ))
        }
    };
    let daemon = Daemon {
        exe,
        profiles: loaded.names.clone(),
        state_dir,
        jobs: super::schedule::jobs_of(&loaded),
        watch: loaded.profile.watch.enabled == Some(true),
    };
    let result = daemon.run(&crate::platform::interrupted);
    stop.store(true, Ordering::SeqCst);
    if let Some(m) = metrics {
        let _ = m.join();
    }
    result.map(|()| exit::OK)
}
