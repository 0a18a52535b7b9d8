//! The campaign loop: a pipeline of concurrent iterations, each a case replayed with a mutating
//! hook from its own seeded generator; oracles over every window of outcomes; triage, minimisation and
//! findings for what they catch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;

use super::FuzzError;
use super::finding::{self, Finding};
use super::mutate::{MutatingHook, Plan, Sent, Wire, messages_of, sends_of};
use super::oracle;
use super::schedule::{Choice, Scheduler, hash, signature_text};
use super::spawn::Server;
use crate::case::{Case, Protocol};
use crate::run::engine::{RunOptions, run_case};
use crate::run::stop::Stop;
use crate::run::verdict::{CaseResult, Verdict};
use crate::target::Target;
use crate::transport::ConnectOptions;

/// When a campaign ends.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// After this many iterations.
    Iterations(u64),
    /// After this long.
    Duration(Duration),
}

/// Campaign settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed every iteration's generator derives from (iteration K uses seed + K).
    pub seed: u64,
    /// When to stop.
    pub limit: Limit,
    /// Iterations at once (in flight).
    pub jobs: usize,
    /// Where findings go.
    pub out: PathBuf,
    /// Deadline of every wait inside an iteration.
    pub timeout: Duration,
    /// Deadline of the liveness probe.
    pub probe_deadline: Duration,
    /// Bound on the spawned server's resident set size, in KiB.
    pub max_rss_kib: Option<u64>,
    /// Chance that a message other than the planned one is mutated too.
    pub extra: f64,
    /// Connect settings.
    pub connect: ConnectOptions,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Stop once this many findings are written.
    pub max_findings: Option<usize>,
}

/// What a campaign did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Iterations run.
    pub iterations: u64,
    /// Messages sent in all iterations.
    pub messages: u64,
    /// Mutated messages sent.
    pub mutated: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Distinct behaviour signatures seen.
    pub signatures: usize,
    /// Server restarts after a crash, hang or growth.
    pub restarts: usize,
    /// The findings, deduplicated.
    pub findings: Vec<Finding>,
    /// Mutated messages per packet type or stanza name.
    pub mutated_kinds: BTreeMap<String, u64>,
    /// Time the iterations took, summed (over `elapsed` × jobs: how full the pipeline was).
    pub busy: Duration,
    /// The plans of the first `TRACE_LIMIT` iterations, in order: seed case id, planned
    /// mutator and message (what the same seed must plan again).
    pub trace: Vec<String>,
}

/// One finished iteration.
struct Outcome {
    iteration: u64,
    choice: Choice,
    /// Its seed case is slow (`is_slow`): learned by the counters and oracles only.
    slow: bool,
    case: Arc<Case>,
    result: CaseResult,
    sent: Vec<Sent>,
}

/// How often the oracles look at the server, at the least.
const ORACLE_EVERY: Duration = Duration::from_millis(250);

/// The longest an iteration waits out a case's `expect_none` silence: the fuzzer judges what
/// the server sends, not that it keeps quiet, and a silence of the case's full length would
/// hold the slot for nothing. Still long enough on loopback for a stray reply to arrive.
const SILENCE_CAP: Duration = Duration::from_millis(30);

/// How far, in jobs, iteration K may run ahead of the last iteration the scheduler learned:
/// far enough that a slow case (a keep-alive or expiry wait of seconds) rarely stalls the
/// pipeline, near enough that picks keep following what was learned.
const LAG_PER_JOB: u64 = 16;

/// How many iterations' plans the summary keeps (a bound: a campaign runs millions).
pub const TRACE_LIMIT: usize = 4096;

/// Waits (sleeps and silences) a seed case makes on purpose, at or above which its iterations
/// are slow: they run like the others but do not hold back the pipeline's in-order learning.
const SLOW_WAITS: Duration = Duration::from_secs(1);

/// What a slow seed case's weight is multiplied by when picking: it is still reached, but its
/// seconds of waiting take no more than their share of the slots.
const SLOW_WEIGHT: f64 = 1.0 / 32.0;

/// Whether `case` is slow by its own text (tag `slow`, or waits summing to `SLOW_WAITS`): a
/// static property, so which iterations the scheduler learns from follows from the seed.
fn is_slow(case: &Case) -> bool {
    let waits: Duration = case
        .steps
        .iter()
        .map(|s| match &s.step {
            crate::case::Step::Sleep(d) => d.0,
            crate::case::Step::ExpectNone(n) => n.duration.0,
            _ => Duration::ZERO,
        })
        .sum();
    case.tags.iter().any(|t| t == "slow") || waits >= SLOW_WAITS
}

/// Outcomes put back in iteration order for the scheduler; slow iterations are passed over
/// (they go to the counters and oracles as they finish) so they never hold the pipeline.
#[derive(Default)]
struct InOrder {
    /// Every iteration before this one is learned or passed over.
    learned: u64,
    /// Finished iterations waiting for their turn (None: the task panicked).
    finished: BTreeMap<u64, Option<Outcome>>,
    /// Slow iterations not yet passed over.
    slow: std::collections::BTreeSet<u64>,
}

impl InOrder {
    /// Takes a finished iteration: a slow one comes straight back (to be counted now), a
    /// fast one waits for its turn.
    fn arrive(&mut self, it: u64, outcome: Option<Outcome>) -> Option<Outcome> {
        match outcome {
            Some(o) if o.slow => Some(o),
            // A slow task that panicked, or one already passed over: nothing to wait for.
            _ if self.slow.contains(&it) || it < self.learned => None,
            o => {
                self.finished.insert(it, o);
                None
            }
        }
    }

    /// The next outcome in iteration order, once it has finished (passing over slow ones).
    fn pop(&mut self) -> Option<Option<Outcome>> {
        loop {
            if self.slow.remove(&self.learned) {
                self.learned += 1;
                continue;
            }
            let o = self.finished.remove(&self.learned)?;
            self.learned += 1;
            return Some(o);
        }
    }

    /// With nothing running, skips a gap left by a task whose iteration number was lost.
    fn skip_lost(&mut self) {
        if !self.finished.contains_key(&self.learned)
            && !self.slow.contains(&self.learned)
            && let Some(first) = self.finished.keys().next()
        {
            self.learned = *first;
        }
    }
}

/// The iterations in flight, with the iteration number of each task.
#[derive(Default)]
struct Tasks {
    set: JoinSet<Outcome>,
    ids: HashMap<tokio::task::Id, u64>,
}

impl Tasks {
    /// The iteration a joined task ran, and its outcome (None if the task panicked).
    fn finish(
        &mut self,
        joined: Result<(tokio::task::Id, Outcome), tokio::task::JoinError>,
    ) -> (u64, Option<Outcome>) {
        match joined {
            Ok((id, o)) => {
                self.ids.remove(&id);
                (o.iteration, Some(o))
            }
            Err(e) => (self.ids.remove(&e.id()).unwrap_or(u64::MAX), None),
        }
    }
}

/// What the process and liveness oracles raised.
enum Alarm {
    /// The spawned server died.
    Died(String),
    /// A probe session failed.
    Probe { protocol: Protocol, why: String },
}

/// The liveness probe of one oracle turn, running beside the pipeline.
type ProbeTask = tokio::task::JoinHandle<Option<Alarm>>;

/// What the running probe found (a probe task that panicked raises nothing).
async fn probe_result(probing: &mut Option<(ProbeTask, Vec<Outcome>)>) -> Option<Alarm> {
    match probing.as_mut() {
        Some((task, _)) => task.await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// A campaign against one target.
pub struct Campaign {
    cfg: Config,
    seeds: Vec<Arc<Case>>,
    target: Arc<Target>,
    server: Option<Server>,
    probes: Vec<Protocol>,
    /// Per seed: whether its iterations are slow (`is_slow`).
    slow: Vec<bool>,
    /// Findings to confirm when the campaign ends.
    pending: Vec<Pending>,
    keys: HashSet<String>,
    summary: Summary,
    started: Instant,
}

impl Campaign {
    /// A campaign over `seeds` against `target`, optionally owning the server process.
    pub fn new(cfg: Config, seeds: Vec<Case>, target: Target, server: Option<Server>) -> Self {
        let slow = seeds.iter().map(is_slow).collect();
        let mut probes = Vec::new();
        if seeds.iter().any(|c| c.protocol == Protocol::Mqtt) && target.mqtt.is_some() {
            probes.push(Protocol::Mqtt);
        }
        if seeds.iter().any(|c| c.protocol == Protocol::Xmpp) && target.xmpp.is_some() {
            probes.push(Protocol::Xmpp);
        }
        Self {
            cfg,
            seeds: seeds.into_iter().map(Arc::new).collect(),
            target: Arc::new(target),
            server,
            probes,
            slow,
            pending: Vec::new(),
            keys: HashSet::new(),
            summary: Summary::default(),
            started: Instant::now(),
        }
    }

    fn done(&self, k: u64, started: Instant, stop: &Stop) -> bool {
        stop.is_set()
            || self
                .cfg
                .max_findings
                .is_some_and(|m| self.summary.findings.len() >= m)
            || match self.cfg.limit {
                Limit::Iterations(n) => k >= n,
                Limit::Duration(d) => started.elapsed() >= d,
            }
    }

    fn run_options(
        &self,
        iteration: u64,
        hook: Option<Arc<MutatingHook>>,
        stop: &Stop,
    ) -> RunOptions {
        RunOptions {
            jobs: 1,
            default_timeout: self.cfg.timeout,
            timeout_override: Some(self.cfg.timeout),
            connect: self.cfg.connect.clone(),
            run_id: format!("fz{iteration:x}"),
            hook: hook.map(|h| h as Arc<dyn crate::seam::SendHook>),
            stop: stop.clone(),
            silence_cap: Some(SILENCE_CAP),
        }
    }

    /// Starts iteration `it`: the scheduler's choice, a plan and a mutating hook drawn from its
    /// own seeded generator, and the case replayed through the hook on a task of its own.
    /// Returns whether the iteration is slow.
    fn spawn_iteration(
        &mut self,
        it: u64,
        sched: &Scheduler,
        stop: &Stop,
        tasks: &mut Tasks,
    ) -> bool {
        let mut rng = StdRng::seed_from_u64(self.cfg.seed.wrapping_add(it));
        let choice = sched.pick(&mut rng);
        let case = self.seeds[choice.seed].clone();
        let sends = sends_of(&case);
        let nth_send = (sends > 0 && rng.random_bool(0.5)).then(|| rng.random_range(0..sends));
        let plan = Plan {
            target: rng.random_range(0..messages_of(&case)),
            nth_send,
            mutator: choice.mutator,
            extra: self.cfg.extra,
        };
        if self.summary.trace.len() < TRACE_LIMIT {
            self.summary.trace.push(format!(
                "{} {} {}/{:?}",
                case.id, plan.mutator, plan.target, plan.nth_send
            ));
        }
        let slow = self.slow[choice.seed];
        let hook = Arc::new(MutatingHook::new(
            &case,
            plan,
            StdRng::seed_from_u64(rng.random()),
        ));
        let opts = self.run_options(it, Some(hook.clone()), stop);
        let target = self.target.clone();
        let handle = tasks.set.spawn(async move {
            let result = run_case(&case, &target, &opts).await;
            Outcome {
                iteration: it,
                choice,
                slow,
                case,
                result,
                sent: hook.log(),
            }
        });
        tasks.ids.insert(handle.id(), it);
        slow
    }

    /// Feeds one finished iteration to the scheduler, in iteration order.
    fn learn(&mut self, sched: &mut Scheduler, o: &Outcome) {
        let sig = hash(&signature_text(&o.result));
        sched.learn(o.choice, sig);
    }

    /// Adds one finished iteration to the counters.
    fn count(&mut self, o: &Outcome) {
        self.summary.messages += o.sent.len() as u64;
        self.summary.busy += o.result.duration;
        for s in o.sent.iter().filter(|s| s.mutator.is_some()) {
            self.summary.mutated += 1;
            *self
                .summary
                .mutated_kinds
                .entry(s.kind.clone())
                .or_default() += 1;
        }
    }

    /// Runs the campaign until its limit or `stop`; findings are written as they are found.
    ///
    /// Iterations run as a pipeline: up to `jobs` at once, a new one starting as soon as one
    /// ends, so a slow case holds one slot and not a whole batch. Outcomes are learned in
    /// iteration order, and iteration K starts only once every iteration before K - 16·jobs is
    /// learned, so the scheduler's state at each pick, and with it the campaign, follows from
    /// the seed. Iterations of slow seed cases (`is_slow`, a property of the case text) are not
    /// learned and do not hold that order back: a keep-alive case waiting seconds would
    /// otherwise stall every slot behind it. The oracles run over the outcomes finished since
    /// their last turn, at least every `ORACLE_EVERY` or `jobs` outcomes.
    pub async fn run(mut self, stop: Stop) -> Result<Summary, FuzzError> {
        let mut sched = Scheduler::weighted(
            self.seeds.iter().map(|c| c.protocol).collect(),
            self.slow
                .iter()
                .map(|&slow| if slow { SLOW_WEIGHT } else { 1.0 })
                .collect(),
        );
        let started = Instant::now();
        self.started = started;
        let bar = self.progress_bar();
        let jobs = self.cfg.jobs.max(1);
        let lag = LAG_PER_JOB * jobs as u64;
        let mut tasks = Tasks::default();
        let mut order = InOrder::default();
        let mut next: u64 = 0;
        let mut window: Vec<Outcome> = Vec::new();
        let mut checked = Instant::now();
        let mut drawn = Instant::now();
        let mut silent: usize = 0;
        // The liveness probe in flight, with the window of outcomes it answers for.
        let mut probing: Option<(ProbeTask, Vec<Outcome>)> = None;
        let mut probed: Option<Option<Alarm>> = None;
        loop {
            while tasks.set.len() < jobs
                && next < order.learned + lag
                && !self.done(next, started, &stop)
            {
                if self.spawn_iteration(next, &sched, &stop, &mut tasks) {
                    order.slow.insert(next);
                }
                next += 1;
            }
            if tasks.set.is_empty()
                && order.finished.is_empty()
                && probing.is_none()
                && window.is_empty()
            {
                break;
            }
            if tasks.set.is_empty() {
                order.skip_lost();
            }
            tokio::select! {
                joined = tasks.set.join_next_with_id(), if !tasks.set.is_empty() => {
                    if let Some(joined) = joined {
                        let (it, outcome) = tasks.finish(joined);
                        if let Some(o) = order.arrive(it, outcome) {
                            self.count(&o);
                            window.push(o);
                        }
                    }
                }
                alarm = probe_result(&mut probing), if probing.is_some() => probed = Some(alarm),
                _ = tokio::time::sleep(ORACLE_EVERY) => {}
            }
            while let Some(o) = order.pop() {
                let Some(o) = o else { continue };
                self.learn(&mut sched, &o);
                self.count(&o);
                silent = if o.sent.is_empty() { silent + 1 } else { 0 };
                // A spawned server that died is the crash oracle's, not a target gone away.
                let server_died = self.server.as_mut().and_then(|s| s.dead()).is_some();
                if silent >= 5 * jobs && !server_died {
                    let why = o
                        .result
                        .failures
                        .first()
                        .map(|f| f.message.clone())
                        .unwrap_or_else(|| "every case was skipped".into());
                    return Err(FuzzError::Gone(format!(
                        "{silent} iterations in a row sent nothing (last reason: {why})"
                    )));
                }
                window.push(o);
            }
            // A probe that has answered raised an alarm or not over the window it covered.
            let mut alarm: Option<(Alarm, Vec<Outcome>)> = None;
            if let Some(raised) = probed.take() {
                let (_, covered) = probing.take().expect("a probe was running");
                alarm = raised.map(|a| (a, covered));
            }
            // Process death is seen on every pass, even while a probe runs.
            if alarm.is_none()
                && let Some(death) = self.died(&stop)
            {
                let mut covered = probing
                    .take()
                    .map(|(task, covered)| {
                        task.abort();
                        covered
                    })
                    .unwrap_or_default();
                covered.append(&mut window);
                alarm = Some((death, covered));
            }
            let idle = tasks.set.is_empty();
            if alarm.is_none()
                && probing.is_none()
                && !window.is_empty()
                && (window.len() >= jobs || checked.elapsed() >= ORACLE_EVERY || idle)
            {
                // Spec and growth now, process death at once; the liveness probe runs beside
                // the pipeline, which keeps its slots filled meanwhile.
                self.spec_and_growth(&window).await?;
                let covered = std::mem::take(&mut window);
                match self.died(&stop) {
                    Some(death) => alarm = Some((death, covered)),
                    None if !stop.is_set() => probing = Some((self.spawn_probes(), covered)),
                    None => {}
                }
                checked = Instant::now();
            }
            if let Some((alarm, mut covered)) = alarm {
                // The culprit may still be running: let every started iteration end first.
                covered.append(&mut window);
                while let Some(joined) = tasks.set.join_next_with_id().await {
                    let (it, outcome) = tasks.finish(joined);
                    if let Some(o) = order.arrive(it, outcome) {
                        self.count(&o);
                        covered.push(o);
                    }
                }
                while let Some(o) = order.pop() {
                    if let Some(o) = o {
                        self.learn(&mut sched, &o);
                        self.count(&o);
                        covered.push(o);
                    }
                }
                self.raise(alarm, &covered).await?;
                checked = Instant::now();
                silent = 0;
            }
            let learned = order.learned;
            self.summary.iterations = learned;
            self.summary.signatures = sched.signatures();
            if let Some(b) = &bar
                && drawn.elapsed() >= Duration::from_millis(100)
            {
                drawn = Instant::now();
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let top: Vec<String> = {
                    let mut v: Vec<(&String, &u64)> = self.summary.mutated_kinds.iter().collect();
                    v.sort_by(|a, b| b.1.cmp(a.1));
                    v.iter().take(4).map(|(k, n)| format!("{k}:{n}")).collect()
                };
                b.set_message(format!(
                    "{learned} iterations, {:.0}/s, {} mutated msgs/s, {} findings, {} signatures | {}",
                    learned as f64 / secs,
                    (self.summary.mutated as f64 / secs) as u64,
                    self.summary.findings.len(),
                    self.summary.signatures,
                    top.join(" ")
                ));
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        self.summary.iterations = order.learned;
        self.summary.elapsed = started.elapsed();
        self.confirm_pending(&stop).await?;
        finding::write_summary(&self.cfg.out, &self.summary.findings)?;
        Ok(self.summary)
    }

    fn progress_bar(&self) -> Option<ProgressBar> {
        if !self.cfg.progress {
            return None;
        }
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").ok()?);
        b.enable_steady_tick(Duration::from_millis(200));
        Some(b)
    }

    /// Process death: the alarm, if the spawned server died.
    fn died(&mut self, stop: &Stop) -> Option<Alarm> {
        if stop.is_set() {
            return None;
        }
        let death = self.server.as_mut().and_then(|s| s.dead())?;
        Some(Alarm::Died(death.describe()))
    }

    /// Liveness and hang: a probe session per protocol on a task of its own; it yields the
    /// alarm of the first that fails.
    fn spawn_probes(&self) -> ProbeTask {
        let (target, connect, deadline) = (
            self.target.clone(),
            self.cfg.connect.clone(),
            self.cfg.probe_deadline,
        );
        let probes = self.probes.clone();
        tokio::spawn(async move {
            for protocol in probes {
                if let Err(why) = oracle::probe(protocol, &target, &connect, deadline).await {
                    return Some(Alarm::Probe {
                        protocol,
                        why: why.to_string(),
                    });
                }
            }
            None
        })
    }

    /// Triage of an alarm over the outcomes of its window: a crash or a hang of a spawned
    /// server is replayed and minimised; an unspawned server's silence is a liveness finding.
    async fn raise(&mut self, alarm: Alarm, window: &[Outcome]) -> Result<(), FuzzError> {
        match alarm {
            Alarm::Died(what) => self.triage(window, "crash", &what).await,
            Alarm::Probe { protocol, why } => {
                let died = self
                    .server
                    .as_mut()
                    .and_then(|s| s.dies_within(Duration::from_millis(200)));
                match died {
                    Some(death) => self.triage(window, "crash", &death.describe()).await,
                    None if self.server.is_some() => {
                        self.triage(window, "hang", "probe: no answer").await
                    }
                    None => {
                        self.record(window.last(), "liveness", &why, None).await?;
                        self.wait_for(protocol, &why).await
                    }
                }
            }
        }
    }

    /// Resource growth and spec oracles over one window of outcomes.
    async fn spec_and_growth(&mut self, window: &[Outcome]) -> Result<(), FuzzError> {
        if let (Some(max), Some(s)) = (self.cfg.max_rss_kib, self.server.as_ref())
            && let Some(rss) = s.rss_kib()
            && rss > max
        {
            let sig = format!("VmRSS above {max} KiB");
            self.record(window.last(), "rss", &sig, Some(format!("{rss} KiB")))
                .await?;
            self.restart()?;
        }
        // Spec: violations the strict decoder flagged on the server's replies, less those the
        // profile declares as known deviations of this server for the case.
        for o in window {
            let mut ids = oracle::violations(&o.result);
            ids.retain(|id| {
                self.target
                    .deviation_for(&o.case, std::slice::from_ref(id))
                    .is_none()
            });
            if !ids.is_empty() {
                self.confirm(o, "spec", &ids.join(","))?;
            }
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<(), FuzzError> {
        if let Some(s) = self.server.as_mut() {
            s.restart()?;
            self.summary.restarts += 1;
        }
        Ok(())
    }

    /// The liveness probe of `protocol` against the target.
    async fn probe(&self, protocol: Protocol) -> Result<(), crate::seam::ProbeError> {
        oracle::probe(
            protocol,
            &self.target,
            &self.cfg.connect,
            self.cfg.probe_deadline,
        )
        .await
    }

    /// Waits for an unspawned target to answer again (up to 30 s).
    async fn wait_for(&self, protocol: Protocol, why: &str) -> Result<(), FuzzError> {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if self.probe(protocol).await.is_ok() {
                return Ok(());
            }
        }
        Err(FuzzError::Gone(why.to_string()))
    }

    /// Finds which iteration of `batch` (a window of outcomes) kills (or hangs) the server by replaying each alone on a
    /// restarted server, minimises it and writes the finding.
    async fn triage(
        &mut self,
        batch: &[Outcome],
        oracle: &str,
        what: &str,
    ) -> Result<(), FuzzError> {
        self.restart()?;
        // The server died or hung right after its culprit's mutated message: the iterations whose
        // last mutated message went out latest are tried first.
        let last_mutated = |o: &Outcome| {
            o.sent
                .iter()
                .filter(|s| s.mutator.is_some())
                .map(|s| s.at)
                .max()
        };
        let mut order: Vec<&Outcome> = batch.iter().filter(|o| last_mutated(o).is_some()).collect();
        order.sort_by_key(|o| std::cmp::Reverse(last_mutated(o)));
        for o in order {
            if self.reproduces(&o.case, &o.sent, oracle, what).await? {
                let sent = self.minimise(&o.case, o.sent.clone(), oracle, what).await?;
                let key = format!("{oracle}:{what}:{}", signature_of_sent(&sent));
                if self.keys.insert(key) {
                    self.write(o, oracle, what, &sent, true)?;
                }
                return Ok(());
            }
        }
        // Nothing reproduced alone: record the batch's first mutated iteration, unconfirmed.
        if let Some(o) = batch
            .iter()
            .find(|o| o.sent.iter().any(|s| s.mutator.is_some()))
        {
            let key = format!("{oracle}:{what}:unreproduced");
            if self.keys.insert(key) {
                self.write(o, oracle, what, &o.sent.clone(), false)?;
            }
        }
        Ok(())
    }

    /// A spec finding of one iteration, new by its violation ids: replayed alone as a finding
    /// case and, when the replay shows the same violations, minimised; written either way, with
    /// whether it reproduced.
    ///
    /// The finding is written at once, unconfirmed; the replays wait for the end of the
    /// campaign (`confirm_pending`), since they would hold the pipeline for seconds.
    fn confirm(&mut self, o: &Outcome, oracle: &str, what: &str) -> Result<(), FuzzError> {
        if !self.keys.insert(format!("{oracle}:{what}")) {
            return Ok(());
        }
        self.write(o, oracle, what, &o.sent.clone(), false)?;
        self.pending.push(Pending {
            index: self.summary.findings.len() - 1,
            case: o.case.clone(),
            iteration: o.iteration,
            sent: o.sent.clone(),
            oracle: oracle.to_string(),
            what: what.to_string(),
        });
        Ok(())
    }

    /// Replays and minimises the findings `confirm` wrote unconfirmed; each that reproduces is
    /// written again, minimised, with `reproduced: true`. Skipped after a stop signal.
    async fn confirm_pending(&mut self, stop: &Stop) -> Result<(), FuzzError> {
        for p in std::mem::take(&mut self.pending) {
            if stop.is_set() {
                break;
            }
            if self
                .reproduces(&p.case, &p.sent, &p.oracle, &p.what)
                .await?
            {
                let sent = self
                    .minimise(&p.case, p.sent.clone(), &p.oracle, &p.what)
                    .await?;
                let at = FindingAt {
                    index: Some(p.index),
                    case: &p.case,
                    iteration: p.iteration,
                };
                self.write_at(at, &p.oracle, &p.what, &sent, true)?;
            }
        }
        Ok(())
    }

    /// Replays `sent` as a finding case; true when the oracle fires again: the server died
    /// (crash) or stopped answering (hang), or the replay shows every violation of `what`
    /// (spec). A crashed or hung server is restarted.
    async fn reproduces(
        &mut self,
        seed: &Case,
        sent: &[Sent],
        oracle: &str,
        what: &str,
    ) -> Result<bool, FuzzError> {
        let yaml = finding::case_yaml("fuzz.replay", "replay", seed, sent);
        let Ok(case) = crate::case::load_str(Path::new("replay.yaml"), &yaml) else {
            return Ok(false);
        };
        let opts = self.run_options(u64::MAX, None, &Stop::new());
        let result = run_case(&case, &self.target, &opts).await;
        let fired = match oracle {
            "crash" => self
                .server
                .as_mut()
                .and_then(|s| s.dies_within(Duration::from_millis(150)))
                .is_some(),
            "hang" => {
                let mut hung = result.verdict != Verdict::Pass;
                for p in self.probes.clone() {
                    hung &= self.probe(p).await.is_err();
                }
                hung
            }
            "spec" => {
                let seen = oracle::violations(&result);
                what.split(',').all(|id| seen.iter().any(|s| s == id))
            }
            _ => false,
        };
        if fired || self.server.as_mut().and_then(|s| s.dead()).is_some() {
            self.restart()?;
        }
        Ok(fired)
    }

    /// Delta debugging: drops messages one at a time (last first) while the failure still
    /// reproduces, then shortens the mutated messages' bytes.
    async fn minimise(
        &mut self,
        seed: &Case,
        mut sent: Vec<Sent>,
        oracle: &str,
        what: &str,
    ) -> Result<Vec<Sent>, FuzzError> {
        let mut i = sent.len();
        while i > 0 {
            i -= 1;
            if sent[i].wire.is_none() {
                sent.remove(i);
                continue;
            }
            let mut trial = sent.clone();
            trial.remove(i);
            if self.reproduces(seed, &trial, oracle, what).await? {
                sent = trial;
            }
        }
        let mut budget = 16;
        for i in 0..sent.len() {
            if sent[i].mutator.is_none() {
                continue;
            }
            let Some(Wire::Bytes(b)) = sent[i].wire.clone() else {
                continue;
            };
            let mut bytes = b;
            let mut chunk = bytes.len() / 2;
            while chunk >= 1 && budget > 0 {
                let mut at = 0;
                let mut shrunk = false;
                while at + chunk <= bytes.len() && budget > 0 {
                    budget -= 1;
                    let mut cand = bytes.clone();
                    cand.drain(at..at + chunk);
                    let mut trial = sent.clone();
                    trial[i].wire = Some(Wire::Bytes(cand.clone()));
                    if !cand.is_empty() && self.reproduces(seed, &trial, oracle, what).await? {
                        bytes = cand;
                        sent = trial;
                        shrunk = true;
                    } else {
                        at += chunk;
                    }
                }
                if !shrunk {
                    chunk /= 2;
                }
            }
        }
        Ok(sent)
    }

    /// Records a finding from one iteration (spec, rss, liveness), deduplicated by oracle and
    /// signature.
    async fn record(
        &mut self,
        o: Option<&Outcome>,
        oracle: &str,
        sig: &str,
        _detail: Option<String>,
    ) -> Result<(), FuzzError> {
        let Some(o) = o else { return Ok(()) };
        let key = format!("{oracle}:{sig}");
        if !self.keys.insert(key) {
            return Ok(());
        }
        self.write(o, oracle, sig, &o.sent.clone(), false)
    }

    fn write(
        &mut self,
        o: &Outcome,
        oracle: &str,
        sig: &str,
        sent: &[Sent],
        reproduced: bool,
    ) -> Result<(), FuzzError> {
        let at = FindingAt {
            index: None,
            case: &o.case,
            iteration: o.iteration,
        };
        self.write_at(at, oracle, sig, sent, reproduced)
    }

    /// Writes a finding case and findings.json: a new finding, or one written before again.
    fn write_at(
        &mut self,
        at: FindingAt<'_>,
        oracle: &str,
        sig: &str,
        sent: &[Sent],
        reproduced: bool,
    ) -> Result<(), FuzzError> {
        let n = at.index.unwrap_or(self.summary.findings.len()) + 1;
        let name = format!("{oracle}-{n:03}-{}", at.case.id.replace('.', "-"));
        let id = format!("fuzz.{oracle}.{n:03}");
        let title = format!(
            "fuzz finding ({oracle}: {sig}) from {} (seed {}, iteration {})",
            at.case.id, self.cfg.seed, at.iteration
        );
        let yaml = finding::case_yaml(&id, &title, at.case, sent);
        let file = finding::write_case(&self.cfg.out, &name, &yaml)?;
        let after_s = match at.index {
            Some(i) => self.summary.findings[i].after_s,
            None => self.started.elapsed().as_secs_f64(),
        };
        let finding = Finding {
            oracle: oracle.to_string(),
            signature: sig.to_string(),
            seed: self.cfg.seed,
            iteration: at.iteration,
            case: at.case.id.clone(),
            mutators: sent.iter().filter_map(|s| s.mutator.clone()).collect(),
            messages: sent.iter().filter(|s| s.wire.is_some()).count(),
            reproduced,
            file,
            after_s,
        };
        match at.index {
            Some(i) => self.summary.findings[i] = finding,
            None => self.summary.findings.push(finding),
        }
        finding::write_summary(&self.cfg.out, &self.summary.findings)?;
        Ok(())
    }
}

/// Where a finding comes from, and which earlier finding it replaces (None: a new one).
struct FindingAt<'a> {
    index: Option<usize>,
    case: &'a Case,
    iteration: u64,
}

/// A finding written unconfirmed, to replay and minimise when the campaign ends.
struct Pending {
    index: usize,
    case: Arc<Case>,
    iteration: u64,
    sent: Vec<Sent>,
    oracle: String,
    what: String,
}

/// The kind of the last mutated message, for deduplication.
fn signature_of_sent(sent: &[Sent]) -> String {
    sent.iter()
        .rev()
        .find(|s| s.mutator.is_some())
        .map(|s| s.kind.clone())
        .unwrap_or_default()
}
