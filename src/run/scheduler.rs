//! Runs many cases in parallel (bounded by `--jobs`) and reports each result as it lands.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::case::Case;
use crate::run::engine::{RunOptions, run_case};
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
    let mut identities = Vec::with_capacity(cases.len());
    for case in cases {
        identities.push((
            case.id.clone(),
            case.title.clone(),
            case.group(),
            case.path.display().to_string(),
            case.spec.clone(),
        ));
        let permits = permits.clone();
        let target = target.clone();
        let opts = opts.clone();
        let on_done = on_done.clone();
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            let result = run_case(&case, &target, &opts).await;
            on_done(&result);
            result
        }));
    }
    let mut results = Vec::with_capacity(handles.len());
    for (h, (id, title, group, path, spec)) in handles.into_iter().zip(identities) {
        match h.await {
            Ok(r) => results.push(r),
            Err(e) => {
                // A panic inside a case is a wirecheck bug: the case is an error, the run goes on.
                let r = CaseResult {
                    id,
                    title,
                    group,
                    path,
                    spec,
                    verdict: Verdict::Error,
                    reason: None,
                    failures: vec![Failure::infra(format!(
                        "wirecheck bug: the case task failed: {e}"
                    ))],
                    checks_passed: 0,
                    duration: std::time::Duration::ZERO,
                    transcript: Vec::new(),
                    transcript_dropped: 0,
                };
                on_done(&r);
                results.push(r);
            }
        }
    }
    results
}
