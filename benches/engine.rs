//! Engine overhead per exchange: the suite's cases that never wait on purpose (no `sleep`, no
//! `expect_none`, not tagged `slow`) run in-process against the built-in reference target, so
//! the time measured is the engine's, the transports' and the reference server's, not the
//! cases' deliberate silences. Run with `cargo bench --bench engine`; prints cases/s,
//! exchanges/s (messages sent + received) and microseconds per exchange. `BENCH_PROTOCOL=mqtt`
//! (or `xmpp`) measures one protocol's cases only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use wirecheck::case::{Case, Step};
use wirecheck::run::Verdict;
use wirecheck::run::engine::RunOptions;
use wirecheck::run::scheduler::run_all;
use wirecheck::target::{Target, TargetOptions};

/// Whether a case only waits for what it expects (no deliberate silence).
fn busy_only(c: &Case) -> bool {
    !c.tags.iter().any(|t| t == "slow")
        && c.steps
            .iter()
            .all(|s| !matches!(s.step, Step::Sleep(_) | Step::ExpectNone(_)))
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases");
    let cases: Vec<Case> = wirecheck::case::load_all(&[dir])
        .expect("cases load")
        .into_iter()
        .filter(busy_only)
        .filter(|c| std::env::var("BENCH_PROTOCOL").map_or(true, |p| c.protocol.to_string() == p))
        .collect();
    rt.block_on(async {
        let target = Arc::new(
            Target::resolve(None, &TargetOptions::default())
                .await
                .expect("reference target starts"),
        );
        for jobs in [1usize, 8] {
            let rounds = 40;
            let mut exchanges = 0usize;
            let mut ran = 0usize;
            let mut not_passed = Vec::new();
            // One warm-up round, not counted.
            let _ = run_all(
                cases.clone(),
                target.clone(),
                Arc::new(RunOptions { jobs, ..RunOptions::default() }),
                |_| {},
            )
            .await;
            let t = Instant::now();
            for _ in 0..rounds {
                let opts = Arc::new(RunOptions { jobs, ..RunOptions::default() });
                let results = run_all(cases.clone(), target.clone(), opts, |_| {}).await;
                for r in &results {
                    if r.verdict != Verdict::Pass {
                        not_passed.push(r.id.clone());
                    }
                    exchanges += r.exchanges();
                }
                ran += results.len();
            }
            let s = t.elapsed().as_secs_f64();
            println!(
                "engine -j {jobs}: {ran} cases ({} distinct) in {s:.2}s: {:.0} cases/s, {:.0} exchanges/s, {:.1} us/exchange",
                cases.len(),
                ran as f64 / s,
                exchanges as f64 / s,
                s * 1e6 / exchanges as f64
            );
            // A case that did not pass is a bug to fix, not a number to report.
            assert!(not_passed.is_empty(), "cases that did not pass: {not_passed:?}");
        }
    });
}
