//! Runs one case: asks the case's protocol to prepare it, opens actor sessions on first use,
//! executes steps in order under deadlines, collects failures and always-on violations, has the
//! protocol clean up, and hands the failures to the verdict.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::case::model::{ExpectCloseStep, ExpectStep};
use crate::case::{Case, CaseStep, Step};
use crate::run::registry;
use crate::run::stop::Stop;
use crate::run::verdict::{CaseResult, Failure, FailureKind, Verdict, judge};
use crate::seam::transcript::{CloseHow, ClosedBy, Transcript};
use crate::seam::{ActorSession, CaseState, Ended, LinkEnv, Next, SendHook, StepCx};
use crate::target::Target;
use crate::transport::ConnectOptions;
use crate::vars::{Vars, scalar_text};

/// Settings shared by every case of a run.
#[derive(Clone)]
pub struct RunOptions {
    /// Cases run at once.
    pub jobs: usize,
    /// Deadline of a wait when neither step nor case sets one.
    pub default_timeout: Duration,
    /// When set (`--timeout` given), the deadline of every wait, over the case's `timeout:`;
    /// a step's own `timeout:` still wins.
    pub timeout_override: Option<Duration>,
    /// TLS and connect settings.
    pub connect: ConnectOptions,
    /// Short random id of this run (isolation on shared servers).
    pub run_id: String,
    /// Sees, and may replace, every message before it is sent (the fuzzer's way in).
    pub hook: Option<Arc<dyn SendHook>>,
    /// Given by Ctrl-C / SIGTERM: running cases stop their steps and clean up.
    pub stop: Stop,
    /// When set, the longest an `expect_none` silence lasts (the fuzzer's iterations do not
    /// judge silences, so they need not wait them out).
    pub silence_cap: Option<Duration>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("jobs", &self.jobs)
            .field("default_timeout", &self.default_timeout)
            .field("timeout_override", &self.timeout_override)
            .field("connect", &self.connect)
            .field("run_id", &self.run_id)
            .field("hook", &self.hook.is_some())
            .field("stop", &self.stop.is_set())
            .field("silence_cap", &self.silence_cap)
            .finish()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            default_timeout: Duration::from_secs(5),
            timeout_override: None,
            connect: ConnectOptions::default(),
            run_id: new_run_id(),
            hook: None,
            stop: Stop::new(),
            silence_cap: None,
        }
    }
}

/// A fresh 6-character alphanumeric run id.
pub fn new_run_id() -> String {
    use rand::Rng;
    const ABC: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..6)
        .map(|_| ABC[rng.random_range(0..ABC.len())] as char)
        .collect()
}

/// FNV-1a of the case id: a short stable tag for client ids and resources.
fn case_hash(id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// A topic-safe, broker-neutral form of a case id for `{ns}`: letters, digits and `-` only
/// (some brokers rewrite `.` in topic names).
fn ns_segment(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

struct CaseRun<'a> {
    case: &'a Case,
    opts: &'a RunOptions,
    transcript: Transcript,
    env: LinkEnv,
    vars: Vars,
    state: Option<Box<dyn CaseState>>,
    sessions: BTreeMap<String, Box<dyn ActorSession>>,
    /// Where the protocol connects (what `ws_handshake` and `http_get` probe).
    endpoint: Option<crate::transport::Endpoint>,
    failures: Vec<Failure>,
    checks_passed: usize,
    /// Why the case is not applicable, when a `skip_unless` expectation was unmet.
    skipped: Option<String>,
}

/// An empty result for `case` (verdict pass, nothing recorded yet).
pub fn blank_result(case: &Case) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        group: case.group(),
        path: case.path.display().to_string(),
        spec: case.spec.clone(),
        verdict: Verdict::Pass,
        reason: None,
        failures: Vec::new(),
        checks_passed: 0,
        duration: Duration::ZERO,
        transcript: Vec::new(),
        transcript_dropped: 0,
        generated: BTreeMap::new(),
    }
}

/// Runs `case` against `target` and returns its verdict, failures and transcript.
pub async fn run_case(case: &Case, target: &Target, opts: &RunOptions) -> CaseResult {
    let started = std::time::Instant::now();
    let mut result = blank_result(case);
    let protocol_name = case.protocol.to_string();
    let Some(protocol) = registry::find(&protocol_name) else {
        result.verdict = Verdict::Error;
        result.failures.push(Failure::infra(format!(
            "wirecheck has no protocol `{protocol_name}`"
        )));
        return result;
    };
    if protocol.endpoint(target).is_none() {
        result.verdict = Verdict::Skip;
        result.reason = Some(format!(
            "target {} does not speak {protocol_name}",
            target.name
        ));
        return result;
    }
    let transcript = Transcript::new();
    let mut run = CaseRun {
        case,
        opts,
        env: LinkEnv {
            transcript: transcript.clone(),
            case_id: case.id.clone(),
            hook: opts.hook.clone(),
            connect: opts.connect.clone(),
        },
        transcript: transcript.clone(),
        vars: Vars::new(),
        state: None,
        sessions: BTreeMap::new(),
        endpoint: protocol.endpoint(target).cloned(),
        failures: Vec::new(),
        checks_passed: 0,
        skipped: None,
    };
    // A hard bound on the whole case, whatever the steps say: no case can hang a run.
    let per_wait = run.case_wait();
    let bound = per_wait * (case.steps.len() as u32 * 3 + 4) + Duration::from_secs(30);
    let tag = format!("{}{}", opts.run_id, case_hash(&case.id));
    run.vars.set("run", opts.run_id.as_str());
    run.vars.set("case", case.id.as_str());
    run.vars.set(
        "ns",
        format!("wirecheck/{}/{}", opts.run_id, ns_segment(&case.id)),
    );
    let stop = opts.stop.clone();
    let mut interrupted = false;
    tokio::select! {
        prepared = protocol.prepare(case, target, &mut run.vars, &tag) => match prepared {
            Ok(state) => run.state = Some(state),
            Err(f) => run.failures.push(f),
        },
        _ = stop.wait() => interrupted = true,
    }
    if run.failures.is_empty() && !interrupted {
        tokio::select! {
            done = tokio::time::timeout(bound, run.steps()) => if done.is_err() {
                run.failures.push(Failure::infra(format!(
                    "case did not finish within its overall bound of {}s",
                    bound.as_secs()
                )));
            },
            _ = stop.wait() => interrupted = true,
        }
    }
    transcript.set_step(None);
    // Cleanup talks to the server too, so it gets a bound of its own.
    let cleanup_bound = per_wait * 2 + Duration::from_secs(5);
    let notes = tokio::time::timeout(cleanup_bound, run.cleanup(per_wait)).await;
    let rec = transcript.recorder("cleanup");
    match notes {
        Ok(notes) => notes.into_iter().for_each(|n| rec.note(n)),
        Err(_) => rec.note(format!(
            "cleanup did not finish within {}s",
            cleanup_bound.as_secs()
        )),
    }
    // Dropping the state returns leased accounts, only now that the server is done with them.
    run.state = None;
    let (entries, dropped) = transcript.take_entries();
    result.transcript = entries;
    result.transcript_dropped = dropped;
    result.checks_passed = run.checks_passed;
    result.generated = run.generated();
    result.failures = run.failures;
    result.duration = started.elapsed();
    let (verdict, reason) = if interrupted {
        (
            Verdict::Interrupted,
            Some("stopped by a signal; its cleanup ran".to_string()),
        )
    } else if let (Some(why), true) = (run.skipped.take(), result.failures.is_empty()) {
        (Verdict::Skip, Some(why))
    } else {
        judge(case, target, &result.failures)
    };
    result.verdict = verdict;
    result.reason = reason;
    result
}

impl CaseRun<'_> {
    /// The deadline of a wait whose step sets none.
    fn case_wait(&self) -> Duration {
        self.opts
            .timeout_override
            .or(self.case.timeout)
            .unwrap_or(self.opts.default_timeout)
    }

    fn deadline(&self, step_timeout: Option<Duration>) -> Instant {
        Instant::now() + step_timeout.unwrap_or_else(|| self.case_wait())
    }

    fn wait(&self, step_timeout: Option<Duration>) -> Duration {
        step_timeout.unwrap_or_else(|| self.case_wait())
    }

    /// The endpoint and connect settings a probe step uses.
    fn probe_target(&self) -> Result<(&crate::transport::Endpoint, &ConnectOptions), Failure> {
        match &self.endpoint {
            Some(e) => Ok((e, &self.env.connect)),
            None => Err(Failure::infra(
                "the target has no endpoint for this protocol",
            )),
        }
    }

    /// The transcript section of probe steps (`[probe]`).
    fn probe_recorder(&self) -> crate::seam::transcript::Recorder {
        self.transcript.recorder("probe")
    }

    /// Every variable's value as text: run id, `{ns}`, client ids, JIDs, captures.
    fn generated(&self) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), scalar_text(v)))
            .collect()
    }

    async fn steps(&mut self) {
        for (index, cs) in self.case.steps.iter().enumerate() {
            self.transcript.set_step(Some(index));
            let outcome = match (self.step(cs).await, &cs.step) {
                // `absent_ok`: the server may legally send nothing; silence passes the check.
                (Err(f), Step::Expect(e)) if e.absent_ok && f.nothing_arrived => Ok(1),
                (o, _) => o,
            };
            let mut violations = Vec::new();
            for (name, s) in self.sessions.iter_mut() {
                violations.extend(s.take_violations().into_iter().map(|v| (name.clone(), v)));
            }
            for (actor, v) in violations {
                let mut f = Failure::violation(&v);
                f.location = Some(cs.loc.clone());
                f.actor = Some(actor);
                self.failures.push(f);
            }
            match outcome {
                Ok(checks) => self.checks_passed += checks,
                Err(f) => {
                    if let Some(why) = &f.not_applicable {
                        self.skipped = Some(format!("not applicable: {why}"));
                        return;
                    }
                    if let Step::Expect(e) = &cs.step
                        && let Some(why) = &e.skip_unless
                        && f.kind == FailureKind::Expectation
                        && f.mismatched
                    {
                        self.skipped = Some(format!("not applicable: {why} ({})", f.message));
                        return;
                    }
                    let f = self.locate(f, cs);
                    self.failures.push(f);
                    return;
                }
            }
        }
    }

    /// Places a step failure in the case file and names the statements it breaks: the step's
    /// own `spec:`, else what the check itself named, else the case's statements.
    fn locate(&self, mut f: Failure, cs: &CaseStep) -> Failure {
        if f.location.is_none() {
            f.location = Some(cs.loc.clone());
        }
        if f.actor.is_none() {
            f.actor = cs.step.actor().map(str::to_string);
        }
        if f.kind == FailureKind::Expectation {
            if !cs.step.spec().is_empty() {
                f.spec = cs.step.spec().to_vec();
            } else {
                f = f.or_spec(&self.case.spec);
            }
        }
        f
    }

    /// Opens the actor's connection if it is not open yet.
    async fn session(&mut self, actor: &str) -> Result<&mut Box<dyn ActorSession>, Failure> {
        if !self.sessions.contains_key(actor) {
            let state = self
                .state
                .as_mut()
                .ok_or_else(|| Failure::infra("the case was not prepared"))?;
            let s = state.open(actor, &self.env, &self.vars).await?;
            self.sessions.insert(actor.to_string(), s);
        }
        self.sessions
            .get_mut(actor)
            .ok_or_else(|| Failure::infra("session vanished"))
    }

    /// The actor's session (opened if needed) with a step context (disjoint borrows).
    async fn session_cx(
        &mut self,
        actor: &str,
        deadline: Instant,
    ) -> Result<(&mut Box<dyn ActorSession>, StepCx<'_>), Failure> {
        self.session(actor).await?;
        let s = self
            .sessions
            .get_mut(actor)
            .ok_or_else(|| Failure::infra("session vanished"))?;
        Ok((
            s,
            StepCx {
                vars: &mut self.vars,
                deadline,
            },
        ))
    }

    /// Runs one step; Ok(number of checks that held).
    async fn step(&mut self, cs: &CaseStep) -> Result<usize, Failure> {
        match &cs.step {
            Step::Sleep(d) => {
                tokio::time::sleep(d.0).await;
                Ok(0)
            }
            Step::WsHandshake(h) => {
                let wait = self.wait(h.timeout.map(|t| t.0));
                super::probe::ws_handshake(self.probe_target()?, h, &self.probe_recorder(), wait)
                    .await
            }
            Step::HttpGet(h) => {
                let wait = self.wait(h.timeout.map(|t| t.0));
                super::probe::http_get(self.probe_target()?, h, &self.probe_recorder(), wait).await
            }
            step @ (Step::Connect(_) | Step::Login(_) | Step::WsPing(_)) => {
                let timeout = match step {
                    Step::Connect(c) => c.0.timeout,
                    Step::Login(l) => l.0.timeout,
                    Step::WsPing(p) => p.timeout,
                    _ => None,
                };
                let actor = step.actor().unwrap_or_default().to_string();
                let deadline = self.deadline(timeout.map(|t| t.0));
                let (s, mut cx) = self.session_cx(&actor, deadline).await?;
                s.run_macro(step, &mut cx).await.map(|_| 1)
            }
            Step::Send(send) => {
                // A server that stops reading must not stall the run: sends have a deadline too.
                let deadline = self.deadline(None);
                let (s, mut cx) = self.session_cx(&send.actor, deadline).await?;
                s.send(send, &mut cx).await.map(|_| 0)
            }
            Step::Expect(e) if !e.exactly_one_of.is_empty() => self.expect_exactly_one(e).await,
            Step::Expect(e) => {
                let deadline = self.deadline(e.timeout.map(|t| t.0));
                let (s, mut cx) = self.session_cx(&e.actor, deadline).await?;
                s.expect(e, &mut cx).await.map(|_| 1)
            }
            Step::ExpectNone(n) => {
                let silence = match self.opts.silence_cap {
                    Some(cap) => n.duration.0.min(cap),
                    None => n.duration.0,
                };
                let deadline = Instant::now() + silence;
                match self.session(&n.actor).await?.next(deadline).await {
                    Next::Timeout => Ok(1),
                    Next::SetupRefused(why) => Err(Failure::infra(why)),
                    Next::Message(m) => Err(Failure::check(
                        Vec::new(),
                        format!(
                            "expected nothing for {:?}, but a message arrived",
                            n.duration.0
                        ),
                    )
                    .with_actual(m)),
                    Next::Ended(e) => Err(Failure::check(
                        Vec::new(),
                        format!(
                            "expected nothing for {:?}, but the connection ended",
                            n.duration.0
                        ),
                    )
                    .with_actual(e.to_string())),
                }
            }
            Step::Drain(d) => {
                let deadline = Instant::now() + d.duration.0;
                let s = self.session(&d.actor).await?;
                loop {
                    match s.next(deadline).await {
                        Next::Message(_) => continue,
                        Next::Timeout | Next::Ended(_) => break Ok(0),
                        Next::SetupRefused(why) => break Err(Failure::infra(why)),
                    }
                }
            }
            Step::ExpectClose(c) => self.expect_close(c, true).await,
            Step::ExpectDisconnect(c) => self.expect_close(c, false).await,
            Step::Disconnect(d) if d.0.abrupt => {
                self.session(&d.0.actor).await?.abort();
                Ok(0)
            }
            Step::Disconnect(d) => {
                let deadline = self.deadline(d.0.timeout.map(|t| t.0));
                self.session(&d.0.actor)
                    .await?
                    .disconnect(&d.0.spec, deadline)
                    .await
                    .map(|_| 1)
            }
        }
    }

    /// `expect` with `exactly_one_of`: polls the actors in turn until one receives the message,
    /// then gives the others `settle` to show a copy (which fails the step). The sessions are
    /// read one after the other in short slices; what arrives meanwhile waits in their buffers.
    async fn expect_exactly_one(&mut self, e: &ExpectStep) -> Result<usize, Failure> {
        const SLICE: Duration = Duration::from_millis(20);
        let started = Instant::now();
        let deadline = self.deadline(e.timeout.map(|t| t.0));
        let settle = e.settle.map_or(Duration::from_millis(300), |d| d.0);
        let single = |actor: &str| ExpectStep {
            actor: actor.to_string(),
            exactly_one_of: Vec::new(),
            settle: None,
            ..e.clone()
        };
        let mut first: Option<String> = None;
        'wait: while first.is_none() {
            for actor in &e.exactly_one_of {
                let now = Instant::now();
                if now >= deadline {
                    break 'wait;
                }
                let (s, mut cx) = self.session_cx(actor, (now + SLICE).min(deadline)).await?;
                match s.expect(&single(actor), &mut cx).await {
                    Ok(()) => {
                        first = Some(actor.to_string());
                        break 'wait;
                    }
                    Err(f) if f.nothing_arrived => {}
                    Err(f) => return Err(f),
                }
            }
        }
        let Some(first) = first else {
            return Err(Failure::check(
                Vec::new(),
                format!(
                    "none of {} received the expected message within {:.1}s",
                    e.exactly_one_of.join(", "),
                    started.elapsed().as_secs_f64()
                ),
            )
            .with_diff(
                e.packet
                    .as_ref()
                    .map(|p| p.to_string())
                    .or(e.xml.clone())
                    .unwrap_or_default(),
                "nothing",
            ));
        };
        let until = Instant::now() + settle;
        for actor in e.exactly_one_of.iter().filter(|a| **a != first) {
            let (s, mut cx) = self
                .session_cx(actor, until.max(Instant::now() + SLICE))
                .await?;
            match s.expect(&single(actor), &mut cx).await {
                Ok(()) => {
                    return Err(Failure::check(
                        Vec::new(),
                        format!(
                            "both {first} and {actor} received the message; exactly one of {} may",
                            e.exactly_one_of.join(", ")
                        ),
                    )
                    .with_diff(format!("only {first}"), format!("{first} and {actor}")));
                }
                Err(f) if f.nothing_arrived => {}
                Err(f) => return Err(f),
            }
        }
        Ok(1)
    }

    async fn expect_close(
        &mut self,
        c: &ExpectCloseStep,
        with_code: bool,
    ) -> Result<usize, Failure> {
        let deadline = self.deadline(c.timeout.map(|t| t.0));
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.session(&c.actor).await?.next(deadline).await {
            Next::Ended(Ended {
                by: ClosedBy::Peer,
                how,
                ..
            }) => {
                if let (true, Some(want)) = (with_code, c.code) {
                    let got = match &how {
                        CloseHow::WsClose { code, .. } => *code,
                        _ => None,
                    };
                    if got != Some(want) {
                        return Err(Failure::check(
                            Vec::new(),
                            format!("the server closed, but not with WebSocket close code {want}"),
                        )
                        .with_diff(format!("close code {want}"), how.to_string()));
                    }
                }
                Ok(1)
            }
            // wirecheck ended the connection itself: the server did not close it.
            Next::Ended(e) => Err(Failure::check_only(
                e.spec.clone().into_iter().collect(),
                format!("expected the server to close the connection, but wirecheck ended it: {e}"),
            )),
            Next::Message(m) => Err(Failure::check(
                Vec::new(),
                "expected the server to close the connection, but a message arrived",
            )
            .with_actual(m)),
            Next::SetupRefused(why) => Err(Failure::infra(why)),
            Next::Timeout => Err(Failure::check(
                Vec::new(),
                format!(
                    "expected the server to close the connection within {:.1}s; it stayed open",
                    wait.as_secs_f64()
                ),
            )),
        }
    }

    /// Hands every session to the protocol, which closes them and undoes what the case left.
    async fn cleanup(&mut self, per_wait: Duration) -> Vec<String> {
        let sessions: Vec<Box<dyn ActorSession>> =
            std::mem::take(&mut self.sessions).into_values().collect();
        match self.state.as_mut() {
            Some(state) => {
                state
                    .cleanup(sessions, &self.env, Instant::now() + per_wait)
                    .await
            }
            None => Vec::new(),
        }
    }
}

/// Renders a result's transcript as text (for JUnit system-out and the console).
pub fn transcript_text(result: &CaseResult) -> String {
    crate::seam::transcript::render(&result.transcript, result.transcript_dropped)
}
