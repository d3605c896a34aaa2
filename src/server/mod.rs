//! `offboard serve`: offboarding at the right moment, with no human in the loop where the
//! policy says so.
//!
//! One process serves one policy repository and one journal:
//!
//! - [`hooks`]: `POST /hooks/hr/{source}` takes HR webhooks. A request is believed only
//!   after its signature and timestamp verify ([`signature`]) and its event id is new; each
//!   accepted event is journaled as a [`crate::journal::TriggerRecord`] *before* it is
//!   answered and before anything is done about it, so "when did we know" has an answer
//!   that survives any crash. Its facts are laid over the roster until the HR export
//!   catches up (see [`crate::roster::hr_event`]).
//! - [`worker`]: one thread does everything that changes something, in order: an event whose
//!   rules say `auto-apply` is applied for its person at once; any other termination is
//!   planned and the plan sent for approval; and on every tick the scheduler applies each
//!   leaver whose cutoff (or deletion) the clock has passed, escalates overdue tasks and
//!   sends what the journal holds undelivered. Every apply goes through the same operations
//!   and guards as `offboard apply` (stale checks, the mass-disable share, read-back,
//!   re-audit). After a restart nothing is lost: the first tick reconciles everything due,
//!   from the roster and the journal.
//! - [`metrics`]: `GET /metrics` (Prometheus) and `GET /healthz`.
//!
//! The policy is loaded only from a clean, committed tree, and reloaded when the checked-out
//! commit changes; while the tree is dirty, the last good policy keeps answering webhooks
//! but nothing is applied (and `/healthz` says why). Only one instance acts per journal: it
//! holds the journal's serve lock for as long as it runs (an OS file lock, or a PostgreSQL
//! advisory lock), and takes the apply lock for each run like any other apply. SIGTERM
//! stops taking requests, lets the run in flight finish recording, and exits.

pub mod clock;
pub mod event;
mod hooks;
pub mod metrics;
pub mod signature;
mod worker;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use crate::apply::retry::RetryPolicy;
use crate::journal::{JournalLock, LockPurpose};
use crate::ops::{Observer, OpError, Workspace, inputs, journal};
use crate::policy::Policy;
use clock::Clock;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub listen: SocketAddr,
    /// How often the scheduler looks at the clock.
    pub tick: Duration,
    /// How often everything is planned and applied, whatever the schedule says (catches what
    /// no schedule entry names: an account recreated, a system that was down).
    pub reconcile_every: Duration,
    pub clock: Clock,
    pub actor: String,
    pub host: String,
    pub retry: RetryPolicy,
    pub lock_timeout: Duration,
    /// Send notifications (`--no-notify` turns sending off; messages are still journaled).
    pub notify: bool,
}

/// The policy in force: what the committed tree held at `commit`.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub commit: Option<String>,
    pub policy: Arc<Policy>,
}

/// What the HTTP handlers and the worker share.
pub(crate) struct Shared {
    pub ws: Workspace,
    pub opts: Options,
    pub policy: RwLock<Option<Loaded>>,
    /// Why the policy in force is not the checked-out one (dirty tree, invalid policy).
    pub policy_problem: RwLock<Option<String>>,
    /// `(source, event id)` of every event journaled: replays are refused.
    pub seen: Mutex<HashSet<(String, String)>>,
    /// Held from the replay check to the journal append, so two deliveries of one event
    /// cannot both pass.
    pub accepting: Mutex<()>,
    pub work: Mutex<std::sync::mpsc::Sender<worker::Work>>,
    pub metrics: metrics::Metrics,
    pub log: Log,
}

impl Shared {
    pub fn policy(&self) -> Option<Loaded> {
        self.policy.read().ok().and_then(|p| p.clone())
    }

    /// Load the policy if the checked-out commit changed (only from a clean tree); returns
    /// whether a policy is in force and matches the tree.
    pub fn reload(&self) -> bool {
        let provenance = crate::vcs::provenance(&self.ws.policies_dir);
        let commit = provenance.as_ref().and_then(|p| p.commit.clone());
        let problem = match &provenance {
            Some(p) if p.dirty() => Some(format!(
                "policy files have uncommitted changes ({}); serving the last committed policy, applying nothing",
                p.dirty_files.join(", ")
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            self.set_problem(Some(problem));
            return false;
        }
        let current = self.policy();
        if current.as_ref().is_some_and(|c| c.commit == commit) {
            self.set_problem(None);
            return true;
        }
        match inputs::load_policy(&self.ws.fresh()) {
            Ok(policy) => {
                self.log.info(&format!(
                    "policy loaded{}",
                    commit
                        .as_deref()
                        .map(|c| format!(" at commit {}", c.get(..12).unwrap_or(c)))
                        .unwrap_or_default()
                ));
                if let Ok(mut slot) = self.policy.write() {
                    *slot = Some(Loaded {
                        commit,
                        policy: Arc::new(policy),
                    });
                }
                self.set_problem(None);
                true
            }
            Err(e) => {
                self.set_problem(Some(format!(
                    "the policy at the checked-out commit is invalid ({e}); serving the last valid one, applying nothing"
                )));
                false
            }
        }
    }

    fn set_problem(&self, problem: Option<String>) {
        if let Ok(mut slot) = self.policy_problem.write() {
            if *slot != problem
                && let Some(p) = &problem
            {
                self.log.warn(p);
            }
            *slot = problem;
        }
    }
}

/// A line per event on stderr (journald or a container log keeps it), escaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log;

impl Log {
    fn line(&self, level: &str, text: &str) {
        eprintln!(
            "{} {level} {}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            crate::escape::terminal(text)
        );
    }

    pub fn info(&self, text: &str) {
        self.line("INFO", text);
    }

    pub fn error(&self, text: &str) {
        self.line("ERROR", text);
    }
}

impl Observer for Log {
    fn warn(&self, text: &str) {
        self.line("WARN", text);
    }
}

/// Serve until SIGTERM or SIGINT.
pub fn run(ws: Workspace, opts: Options) -> Result<(), OpError> {
    let log = Log;
    journal::check(&ws)?;
    let holder = format!("offboard serve on {}", opts.host);
    let _serving = JournalLock::acquire_for(LockPurpose::Serve, &ws.journal, &holder, Duration::ZERO)
        .map_err(|e| {
            OpError::new(format!("{e}: another `offboard serve` is acting on this journal"))
                .hint("one instance acts per journal; stop the other one, or point this one at its own journal")
        })?;
    let seen: HashSet<(String, String)> = journal::read(&ws)?
        .triggers()
        .map_err(journal::evidence)?
        .into_iter()
        .map(|t| (t.source, t.event_id))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared {
        ws,
        opts: opts.clone(),
        policy: RwLock::new(None),
        policy_problem: RwLock::new(None),
        seen: Mutex::new(seen),
        accepting: Mutex::new(()),
        work: Mutex::new(tx),
        metrics: metrics::Metrics::new(),
        log,
    });
    if !shared.reload() && shared.policy().is_none() {
        let problem = shared
            .policy_problem
            .read()
            .ok()
            .and_then(|p| p.clone())
            .unwrap_or_default();
        return Err(OpError::new(format!("cannot serve: {problem}"))
            .hint("serve runs a reviewed policy: commit (or discard) the changes first"));
    }
    let worker = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("offboard-worker".into())
            .spawn(move || worker::run(&shared, rx))
            .map_err(|e| OpError::new(format!("cannot start the worker: {e}")))?
    };
    let app = Router::new()
        .route("/hooks/hr/{source}", post(hooks::hr))
        .route("/healthz", get(hooks::healthz))
        .route("/metrics", get(hooks::metrics))
        .with_state(shared.clone());
    let runtime = crate::ops::runtime()?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|e| OpError::new(format!("cannot listen on {}: {e}", opts.listen)))?;
        log.info(&format!(
            "serving on http://{}",
            listener.local_addr().unwrap_or(opts.listen)
        ));
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_signal())
            .await
            .map_err(|e| OpError::new(format!("the HTTP server stopped: {e}")))
    });
    log.info("stopping: finishing the work in flight");
    if let Ok(tx) = shared.work.lock() {
        let _ = tx.send(worker::Work::Stop);
    }
    let _ = worker.join();
    log.info("stopped");
    served
}

/// SIGTERM (systemd, containers) or SIGINT (a terminal).
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
