//! Runs many cases in parallel (bounded by `--jobs`) and reports each result as it lands.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::case::Case;
use crate::run::engine::{RunOptions, blank_result, run_case};
use crate::run::verdict::{CaseResult, Failure, Verdict};
use crate::target::Target;

/// Runs `cases` against `target`; `on_done` sees each result as it finishes; the returned
/// results are in the order of `cases`.
pub async fn run_all(
    cases: Vec<Case>,
    target: Arc<Target>,
    opts: Arc<RunOptions>,
    on_done: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Vec<CaseResult> {
    let permits = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let on_done = Arc::new(on_done);
    let mut handles = Vec::with_capacity(cases.len());
    let mut blanks = Vec::with_capacity(cases.len());
    for case in cases {
        blanks.push(blank_result(&case));
        let permits = permits.clone();
        let target = target.clone();
        let opts = opts.clone();
        let on_done = on_done.clone();
        handles.push(tokio::spawn(async move {
            let _permit = tokio::select! {
                p = permits.acquire_owned() => p,
                _ = opts.stop.wait() => return not_started(&case, on_done.as_ref()),
            };
            if opts.stop.is_set() {
                return not_started(&case, on_done.as_ref());
            }
            if let Some(reason) = crate::run::plan::unmet(&case, &target) {
                let mut r = blank_result(&case);
                r.verdict = Verdict::Skip;
                r.reason = Some(reason);
                on_done(&r);
                return r;
            }
            let result = run_case(&case, &target, &opts).await;
            on_done(&result);
            result
        }));
    }
    let mut results = Vec::with_capacity(handles.len());
    for (h, mut blank) in handles.into_iter().zip(blanks) {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => {
                // A panic inside a case is a wirecheck bug: the case is an error, the run goes on.
                blank.verdict = Verdict::Error;
                blank.failures = vec![Failure::infra(format!(
                    "wirecheck bug: the case task failed: {e}"
                ))];
                on_done(&blank);
                results.push(blank);
            }
        }
    }
    results
}

/// The result of a case a stop signal kept from starting.
fn not_started(case: &Case, on_done: &dyn Fn(&CaseResult)) -> CaseResult {
    let mut r = blank_result(case);
    r.verdict = Verdict::Interrupted;
    r.reason = Some("not started: the run was interrupted".into());
    on_done(&r);
    r
}
