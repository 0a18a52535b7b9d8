//! The campaign loop: batches of concurrent iterations, each a case replayed with a mutating
//! hook from its own seeded generator; oracles after every batch; triage, minimisation and
//! findings for what they catch.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    /// Iterations at once.
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
    /// Per iteration, in order: seed case id, planned mutator and message, mutators applied.
    pub trace: Vec<String>,
}

/// One finished iteration.
struct Outcome {
    iteration: u64,
    plan: String,
    choice: Choice,
    case: Arc<Case>,
    result: CaseResult,
    sent: Vec<Sent>,
}

/// A campaign against one target.
pub struct Campaign {
    cfg: Config,
    seeds: Vec<Arc<Case>>,
    target: Arc<Target>,
    server: Option<Server>,
    probes: Vec<(Protocol, String, u16)>,
    keys: HashSet<String>,
    summary: Summary,
    started: Instant,
}

impl Campaign {
    /// A campaign over `seeds` against `target`, optionally owning the server process.
    pub fn new(cfg: Config, seeds: Vec<Case>, target: Target, server: Option<Server>) -> Self {
        let mut probes = Vec::new();
        if seeds.iter().any(|c| c.protocol == Protocol::Mqtt)
            && let Some(m) = &target.mqtt
        {
            probes.push((Protocol::Mqtt, m.endpoint.host.clone(), m.endpoint.port));
        }
        if seeds.iter().any(|c| c.protocol == Protocol::Xmpp)
            && let Some(x) = &target.xmpp
        {
            probes.push((Protocol::Xmpp, x.endpoint.host.clone(), x.endpoint.port));
        }
        Self {
            cfg,
            seeds: seeds.into_iter().map(Arc::new).collect(),
            target: Arc::new(target),
            server,
            probes,
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
        }
    }

    /// Runs the campaign until its limit or `stop`; findings are written as they are found.
    pub async fn run(mut self, stop: Stop) -> Result<Summary, FuzzError> {
        let mut sched = Scheduler::new(self.seeds.iter().map(|c| c.protocol).collect());
        let started = Instant::now();
        self.started = started;
        let bar = self.progress_bar();
        let mut k: u64 = 0;
        let mut silent_batches = 0;
        while !self.done(k, started, &stop) {
            let n = match self.cfg.limit {
                Limit::Iterations(total) => (total - k).min(self.cfg.jobs as u64),
                Limit::Duration(_) => self.cfg.jobs as u64,
            };
            let mut tasks = Vec::new();
            for it in k..k + n {
                let mut rng = StdRng::seed_from_u64(self.cfg.seed.wrapping_add(it));
                let choice = sched.pick(&mut rng);
                let case = self.seeds[choice.seed].clone();
                let sends = sends_of(&case);
                let nth_send =
                    (sends > 0 && rng.random_bool(0.5)).then(|| rng.random_range(0..sends));
                let plan = Plan {
                    target: rng.random_range(0..messages_of(&case)),
                    nth_send,
                    mutator: choice.mutator,
                    extra: self.cfg.extra,
                };
                let planned = format!(
                    "{} {} {}/{:?}",
                    case.id, plan.mutator, plan.target, plan.nth_send
                );
                let hook = Arc::new(MutatingHook::new(
                    &case,
                    plan,
                    StdRng::seed_from_u64(rng.random()),
                ));
                let opts = self.run_options(it, Some(hook.clone()), &stop);
                let target = self.target.clone();
                tasks.push(tokio::spawn(async move {
                    let result = run_case(&case, &target, &opts).await;
                    Outcome {
                        iteration: it,
                        plan: planned,
                        choice,
                        case,
                        result,
                        sent: hook.log(),
                    }
                }));
            }
            let mut batch = Vec::new();
            for t in tasks {
                if let Ok(o) = t.await {
                    batch.push(o);
                }
            }
            k += n;
            if batch.iter().all(|o| o.sent.is_empty()) {
                silent_batches += 1;
                if silent_batches >= 5 {
                    let why = batch
                        .iter()
                        .flat_map(|o| o.result.failures.first())
                        .map(|f| f.message.clone())
                        .next()
                        .unwrap_or_else(|| "every case was skipped".into());
                    return Err(FuzzError::Gone(format!(
                        "5 batches in a row sent nothing (first reason: {why})"
                    )));
                }
            } else {
                silent_batches = 0;
            }
            for o in &batch {
                let sig = hash(&signature_text(&o.result));
                sched.learn(o.choice, sig);
                self.summary.messages += o.sent.len() as u64;
                let mutators: Vec<String> =
                    o.sent.iter().filter_map(|s| s.mutator.clone()).collect();
                for s in o.sent.iter().filter(|s| s.mutator.is_some()) {
                    self.summary.mutated += 1;
                    *self
                        .summary
                        .mutated_kinds
                        .entry(s.kind.clone())
                        .or_default() += 1;
                }
                self.summary
                    .trace
                    .push(format!("{} [{}]", o.plan, mutators.join(",")));
            }
            self.oracles(&batch, &stop).await?;
            self.summary.iterations = k;
            self.summary.signatures = sched.signatures();
            if let Some(b) = &bar {
                let secs = started.elapsed().as_secs_f64().max(0.001);
                let top: Vec<String> = {
                    let mut v: Vec<(&String, &u64)> = self.summary.mutated_kinds.iter().collect();
                    v.sort_by(|a, b| b.1.cmp(a.1));
                    v.iter().take(4).map(|(k, n)| format!("{k}:{n}")).collect()
                };
                b.set_message(format!(
                    "{k} iterations, {:.0}/s, {} mutated msgs/s, {} findings, {} signatures | {}",
                    k as f64 / secs,
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
        self.summary.elapsed = started.elapsed();
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

    /// Crash, hang/liveness, resource growth and spec oracles over one finished batch.
    async fn oracles(&mut self, batch: &[Outcome], stop: &Stop) -> Result<(), FuzzError> {
        if stop.is_set() {
            return Ok(());
        }
        // Process death.
        let died = self.server.as_mut().and_then(|s| s.dead());
        if let Some(death) = died {
            self.triage(batch, "crash", &death.describe()).await?;
            return Ok(());
        }
        // Liveness and hang.
        for (protocol, host, port) in self.probes.clone() {
            if let Err(why) = oracle::probe(protocol, &host, port, self.cfg.probe_deadline).await {
                let died = self
                    .server
                    .as_mut()
                    .and_then(|s| s.dies_within(Duration::from_millis(200)));
                match died {
                    Some(death) => self.triage(batch, "crash", &death.describe()).await?,
                    None if self.server.is_some() => {
                        self.triage(batch, "hang", "probe: no answer").await?
                    }
                    None => {
                        self.record(batch.first(), "liveness", &why, None).await?;
                        self.wait_for(protocol, &host, port, &why).await?;
                    }
                }
                return Ok(());
            }
        }
        // Resource growth.
        if let (Some(max), Some(s)) = (self.cfg.max_rss_kib, self.server.as_ref())
            && let Some(rss) = s.rss_kib()
            && rss > max
        {
            let sig = format!("VmRSS above {max} KiB");
            self.record(batch.last(), "rss", &sig, Some(format!("{rss} KiB")))
                .await?;
            self.restart()?;
        }
        // Spec: violations the strict decoder flagged on the server's replies.
        for o in batch {
            let ids = oracle::violations(&o.result);
            if !ids.is_empty() {
                self.record(Some(o), "spec", &ids.join(","), None).await?;
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

    /// Waits for an unspawned target to answer again (up to 30 s).
    async fn wait_for(
        &self,
        protocol: Protocol,
        host: &str,
        port: u16,
        why: &str,
    ) -> Result<(), FuzzError> {
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if oracle::probe(protocol, host, port, self.cfg.probe_deadline)
                .await
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(FuzzError::Gone(why.to_string()))
    }

    /// Finds which iteration of `batch` kills (or hangs) the server by replaying each alone on a
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
            if self.reproduces(&o.case, &o.sent, oracle).await? {
                let sent = self.minimise(&o.case, o.sent.clone(), oracle).await?;
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

    /// Replays `sent` as a finding case; true when the oracle fires again (the server is
    /// restarted if it crashed or hung).
    async fn reproduces(
        &mut self,
        seed: &Case,
        sent: &[Sent],
        oracle: &str,
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
                for (p, h, port) in self.probes.clone() {
                    hung &= oracle::probe(p, &h, port, self.cfg.probe_deadline)
                        .await
                        .is_err();
                }
                hung
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
            if self.reproduces(seed, &trial, oracle).await? {
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
                    if !cand.is_empty() && self.reproduces(seed, &trial, oracle).await? {
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
        let n = self.summary.findings.len() + 1;
        let name = format!("{oracle}-{n:03}-{}", o.case.id.replace('.', "-"));
        let id = format!("fuzz.{oracle}.{n:03}");
        let title = format!(
            "fuzz finding ({oracle}: {sig}) from {} (seed {}, iteration {})",
            o.case.id, self.cfg.seed, o.iteration
        );
        let yaml = finding::case_yaml(&id, &title, &o.case, sent);
        let file = finding::write_case(&self.cfg.out, &name, &yaml)?;
        self.summary.findings.push(Finding {
            oracle: oracle.to_string(),
            signature: sig.to_string(),
            seed: self.cfg.seed,
            iteration: o.iteration,
            case: o.case.id.clone(),
            mutators: sent.iter().filter_map(|s| s.mutator.clone()).collect(),
            messages: sent.iter().filter(|s| s.wire.is_some()).count(),
            reproduced,
            file,
            after_s: self.started.elapsed().as_secs_f64(),
        });
        finding::write_summary(&self.cfg.out, &self.summary.findings)?;
        Ok(())
    }
}

/// The kind of the last mutated message, for deduplication.
fn signature_of_sent(sent: &[Sent]) -> String {
    sent.iter()
        .rev()
        .find(|s| s.mutator.is_some())
        .map(|s| s.kind.clone())
        .unwrap_or_default()
}
