//! Runs one case: opens actor connections on first use, executes steps in order under
//! deadlines, collects failures and always-on violations, then cleans up.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::case::model::{ExpectCloseStep, Step};
use crate::case::{Case, CaseStep, Protocol};
use crate::mqtt::session::MqttSession;
use crate::run::actor::{Next, Session};
use crate::run::transcript::{Recorder, Transcript, render};
use crate::run::verdict::{CaseResult, Failure, FailureKind, Verdict};
use crate::target::{Lease, Target};
use crate::transport::{Closed, ConnectOptions};
use crate::vars::Vars;
use crate::xmpp::session::{XmppIdentity, XmppSession};

/// Settings shared by every case of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cases run at once.
    pub jobs: usize,
    /// Deadline of a wait when neither step nor case sets one.
    pub default_timeout: Duration,
    /// TLS and connect settings.
    pub connect: ConnectOptions,
    /// Short random id of this run (isolation on shared servers).
    pub run_id: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            default_timeout: Duration::from_secs(5),
            connect: ConnectOptions::default(),
            run_id: new_run_id(),
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

struct CaseRun<'a> {
    case: &'a Case,
    target: &'a Target,
    opts: &'a RunOptions,
    transcript: Transcript,
    vars: Vars,
    sessions: BTreeMap<String, Session>,
    identities: BTreeMap<String, XmppIdentity>,
    failures: Vec<Failure>,
    checks_passed: usize,
}

/// Runs `case` against `target` and returns its verdict, failures and transcript.
pub async fn run_case(case: &Case, target: &Target, opts: &RunOptions) -> CaseResult {
    let started = std::time::Instant::now();
    let mut result = CaseResult {
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
    };
    if !target.speaks(case.protocol) {
        result.verdict = Verdict::Skip;
        result.reason = Some(format!(
            "target {} does not speak {}",
            target.name, case.protocol
        ));
        return result;
    }
    let transcript = Transcript::new();
    let mut run = CaseRun {
        case,
        target,
        opts,
        transcript: transcript.clone(),
        vars: Vars::new(),
        sessions: BTreeMap::new(),
        identities: BTreeMap::new(),
        failures: Vec::new(),
        checks_passed: 0,
    };
    // A hard bound on the whole case, whatever the steps say: no case can hang a run.
    let per_wait = case.timeout.unwrap_or(opts.default_timeout);
    let bound = per_wait * (case.steps.len() as u32 * 3 + 4) + Duration::from_secs(30);
    let lease = match run.prepare().await {
        Ok(lease) => lease,
        Err(f) => {
            run.failures.push(f);
            None
        }
    };
    if run.failures.is_empty() && tokio::time::timeout(bound, run.steps()).await.is_err() {
        run.failures.push(Failure::infra(format!(
            "case did not finish within its overall bound of {}s",
            bound.as_secs()
        )));
    }
    // Cleanup talks to the server too, so it gets a bound of its own.
    let cleanup_bound = per_wait * 2 + Duration::from_secs(5);
    let cleaned = tokio::time::timeout(cleanup_bound, run.cleanup()).await;
    if cleaned.is_err() {
        transcript.push(
            "cleanup",
            crate::run::transcript::Direction::Event,
            format!("cleanup did not finish within {}s", cleanup_bound.as_secs()),
            None,
        );
    }
    drop(lease);
    let (entries, dropped) = transcript.entries();
    result.transcript = entries;
    result.transcript_dropped = dropped;
    result.checks_passed = run.checks_passed;
    result.failures = run.failures;
    result.duration = started.elapsed();
    result.verdict = if result.failures.iter().any(|f| f.kind == FailureKind::Infra) {
        Verdict::Error
    } else if !result.failures.is_empty() {
        let per_failure: Vec<Vec<String>> =
            result.failures.iter().map(|f| f.spec.clone()).collect();
        match target.covering_deviations(case, &per_failure) {
            Some(reasons) => {
                result.reason = Some(reasons.join("; "));
                Verdict::Xfail
            }
            None => Verdict::Fail,
        }
    } else {
        if let Some(d) = target.deviation_for(case, &case.spec)
            && d.case.is_some()
        {
            result.reason = Some(format!(
                "declared deviation no longer observed: {}",
                d.reason
            ));
        }
        Verdict::Pass
    };
    result
}

impl CaseRun<'_> {
    /// Defines variables and leases accounts.
    async fn prepare(&mut self) -> Result<Option<Lease>, Failure> {
        let case = self.case;
        let hash = case_hash(&case.id);
        let run_id = &self.opts.run_id;
        self.vars.set("run", run_id.as_str());
        self.vars.set("case", case.id.as_str());
        self.vars
            .set("ns", format!("wirecheck/{run_id}/{}", case.id));
        let names: Vec<&String> = case.actors.keys().collect();
        match case.protocol {
            Protocol::Mqtt => {
                for (i, name) in names.iter().enumerate() {
                    let doc = &case.actors[*name];
                    let id = match &doc.client_id {
                        Some(id) => self.vars.interpolate(id).map_err(|e| {
                            Failure::infra(format!("actor `{name}`: client_id: {e}"))
                        })?,
                        None => format!("wc{run_id}{hash}{i:02}"),
                    };
                    self.vars.set(format!("{name}.client_id"), id);
                }
                Ok(None)
            }
            Protocol::Xmpp => {
                let Some(x) = &self.target.xmpp else {
                    return Ok(None);
                };
                self.vars.set("domain", x.domain.as_str());
                let lease = x
                    .pool
                    .lease(names.len(), Duration::from_secs(120))
                    .await
                    .map_err(|e| Failure::infra(format!("account pool: {e}")))?;
                for (i, (name, account)) in names.iter().zip(&lease.accounts).enumerate() {
                    let doc = &case.actors[*name];
                    let resource = doc
                        .resource
                        .clone()
                        .unwrap_or_else(|| format!("wc-{run_id}-{hash}-{i}"));
                    let jid = format!("{}@{}", account.user, x.domain);
                    self.vars.set(format!("{name}.user"), account.user.as_str());
                    self.vars.set(format!("{name}.jid"), jid.as_str());
                    self.vars.set(format!("{name}.resource"), resource.as_str());
                    self.identities.insert(
                        (*name).clone(),
                        XmppIdentity {
                            user: account.user.clone(),
                            password: account.password.clone(),
                            domain: x.domain.clone(),
                            resource,
                        },
                    );
                }
                Ok(Some(lease))
            }
        }
    }

    async fn steps(&mut self) {
        for cs in &self.case.steps {
            let outcome = self.step(cs).await;
            let violations: Vec<_> = self
                .sessions
                .iter_mut()
                .flat_map(|(name, s)| {
                    s.take_violations()
                        .into_iter()
                        .map(move |v| (name.clone(), v))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (actor, v) in violations {
                self.transcript.push(
                    &actor,
                    crate::run::transcript::Direction::Event,
                    format!("violation {v}"),
                    None,
                );
                let mut f = Failure::check(vec![v.spec.clone()], v.detail.clone());
                f.location = Some(cs.loc.clone());
                f.actor = Some(actor);
                self.failures.push(f);
            }
            match outcome {
                Ok(checks) => self.checks_passed += checks,
                Err(mut f) => {
                    if f.location.is_none() {
                        f.location = Some(cs.loc.clone());
                    }
                    if f.actor.is_none() {
                        f.actor = cs.step.actor().map(str::to_string);
                    }
                    let spec = if cs.step.spec().is_empty() {
                        &self.case.spec
                    } else {
                        cs.step.spec()
                    };
                    let f = if f.kind == FailureKind::Check {
                        f.or_spec(spec)
                    } else {
                        f
                    };
                    self.failures.push(f);
                    return;
                }
            }
        }
    }

    fn deadline(&self, step_timeout: Option<Duration>) -> Instant {
        let d = step_timeout
            .or(self.case.timeout)
            .unwrap_or(self.opts.default_timeout);
        Instant::now() + d
    }

    fn recorder(&self, actor: &str) -> Recorder {
        self.transcript.recorder(actor)
    }

    /// Opens the actor's connection if it is not open yet.
    async fn session(&mut self, actor: &str) -> Result<&mut Session, Failure> {
        if !self.sessions.contains_key(actor) {
            let rec = self.recorder(actor);
            let session = match self.case.protocol {
                Protocol::Mqtt => {
                    let t = self
                        .target
                        .mqtt
                        .as_ref()
                        .ok_or_else(|| Failure::infra("target has no MQTT endpoint"))?;
                    let client_id = self
                        .vars
                        .get(&format!("{actor}.client_id"))
                        .map(crate::vars::scalar_text)
                        .unwrap_or_default();
                    Session::Mqtt(Box::new(
                        MqttSession::open(&t.endpoint, &self.opts.connect, rec, client_id).await?,
                    ))
                }
                Protocol::Xmpp => {
                    let t = self
                        .target
                        .xmpp
                        .as_ref()
                        .ok_or_else(|| Failure::infra("target has no XMPP endpoint"))?;
                    let identity = self
                        .identities
                        .get(actor)
                        .cloned()
                        .ok_or_else(|| Failure::infra(format!("no account for `{actor}`")))?;
                    Session::Xmpp(Box::new(
                        XmppSession::open(&t.endpoint, &self.opts.connect, rec, identity).await?,
                    ))
                }
            };
            self.sessions.insert(actor.to_string(), session);
        }
        self.sessions
            .get_mut(actor)
            .ok_or_else(|| Failure::infra("session vanished"))
    }

    /// The actor's open session together with the case variables (disjoint borrows).
    fn session_and_vars(&mut self, actor: &str) -> Result<(&mut Session, &mut Vars), Failure> {
        let s = self
            .sessions
            .get_mut(actor)
            .ok_or_else(|| Failure::infra("session vanished"))?;
        Ok((s, &mut self.vars))
    }

    /// Runs one step; Ok(number of checks that held).
    async fn step(&mut self, cs: &CaseStep) -> Result<usize, Failure> {
        match &cs.step {
            Step::Sleep(d) => {
                tokio::time::sleep(d.0).await;
                Ok(0)
            }
            Step::Connect(c) => {
                let deadline = self.deadline(c.0.timeout.map(|t| t.0));
                self.session(&c.0.actor).await?;
                let (s, vars) = self.session_and_vars(&c.0.actor)?;
                s.connect(&c.0, vars, deadline).await.map(|_| 1)
            }
            Step::Login(l) => {
                let deadline = self.deadline(l.0.timeout.map(|t| t.0));
                self.session(&l.0.actor).await?;
                let (s, vars) = self.session_and_vars(&l.0.actor)?;
                s.login(&l.0, vars, deadline).await.map(|_| 1)
            }
            Step::Send(s) => {
                // A server that stops reading must not stall the run: sends have a deadline too.
                let wait = self.case.timeout.unwrap_or(self.opts.default_timeout);
                self.session(&s.actor).await?;
                let (session, vars) = self.session_and_vars(&s.actor)?;
                match tokio::time::timeout(wait, session.send(s, vars)).await {
                    Ok(r) => r.map(|_| 0),
                    Err(_) => Err(Failure::check(
                        Vec::new(),
                        format!(
                            "could not send within {:.1}s: the server does not read",
                            wait.as_secs_f64()
                        ),
                    )),
                }
            }
            Step::Expect(e) => {
                let deadline = self.deadline(e.timeout.map(|t| t.0));
                self.session(&e.actor).await?;
                let (s, vars) = self.session_and_vars(&e.actor)?;
                s.expect(e, vars, deadline).await.map(|_| 1)
            }
            Step::ExpectNone(n) => {
                let deadline = Instant::now() + n.duration.0;
                match self.session(&n.actor).await?.next(deadline).await {
                    Next::Timeout => Ok(1),
                    Next::Message(m) => Err(Failure::check(
                        n.spec.clone(),
                        format!(
                            "expected nothing for {:?}, but a message arrived",
                            n.duration.0
                        ),
                    )
                    .with_actual(m)),
                    Next::Closed(c) => Err(Failure::check(
                        n.spec.clone(),
                        format!(
                            "expected nothing for {:?}, but the connection ended",
                            n.duration.0
                        ),
                    )
                    .with_actual(c.to_string())),
                }
            }
            Step::ExpectClose(c) => self.expect_close(c, true).await,
            Step::ExpectDisconnect(c) => self.expect_close(c, false).await,
            Step::Disconnect(d) => {
                let deadline = self.deadline(d.0.timeout.map(|t| t.0));
                self.session(&d.0.actor)
                    .await?
                    .disconnect(deadline)
                    .await
                    .map(|_| 1)
            }
        }
    }

    async fn expect_close(
        &mut self,
        c: &ExpectCloseStep,
        with_code: bool,
    ) -> Result<usize, Failure> {
        let deadline = self.deadline(c.timeout.map(|t| t.0));
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.session(&c.actor).await?.next(deadline).await {
            Next::Closed(closed) => {
                if let (true, Some(want)) = (with_code, c.code) {
                    let got = match &closed {
                        Closed::WsClose { code, .. } => *code,
                        _ => None,
                    };
                    if got != Some(want) {
                        return Err(Failure::check(
                            c.spec.clone(),
                            format!("the server closed, but not with WebSocket close code {want}"),
                        )
                        .with_diff(format!("close code {want}"), closed.to_string()));
                    }
                }
                Ok(1)
            }
            Next::Message(m) => Err(Failure::check(
                c.spec.clone(),
                "expected the server to close the connection, but a message arrived",
            )
            .with_actual(m)),
            Next::Timeout => Err(Failure::check(
                c.spec.clone(),
                format!(
                    "expected the server to close the connection within {:.1}s; it stayed open",
                    wait.as_secs_f64()
                ),
            )),
        }
    }

    /// Closes every connection and undoes what the case left on the server.
    async fn cleanup(&mut self) {
        let mut retained = Vec::new();
        for (_, s) in self.sessions.iter_mut() {
            if let Session::Mqtt(m) = s {
                retained.extend(m.retained_topics());
            }
            s.abort();
        }
        self.sessions.clear();
        if !retained.is_empty()
            && let Some(t) = &self.target.mqtt
        {
            let rec = self.recorder("cleanup");
            let id = format!("wc{}{}cl", self.opts.run_id, case_hash(&self.case.id));
            let deadline = Instant::now() + self.opts.default_timeout;
            if let Err(e) = MqttSession::clear_retained(
                &t.endpoint,
                &self.opts.connect,
                rec,
                id,
                &retained,
                deadline,
            )
            .await
            {
                self.transcript.push(
                    "cleanup",
                    crate::run::transcript::Direction::Event,
                    format!("could not clear retained messages: {}", e.message),
                    None,
                );
            }
        }
    }
}

/// Renders a result's transcript as text (for JUnit system-out and the console).
pub fn transcript_text(result: &CaseResult) -> String {
    render(&result.transcript, result.transcript_dropped)
}
