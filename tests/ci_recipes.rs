//! The CI recipes run here: action.yml's steps (the scripts with the env the YAML passes, GitHub's
//! variables set by the test) and ci/gitlab-ci.example.yml's jobs (three shards with
//! CI_NODE_INDEX/CI_NODE_TOTAL, then the merge job), against the built-in target, in a temp dir.
//! The `cargo install` is skipped: WIRECHECK_BIN names the binary cargo built for these tests
//! (install.sh honours it; a real install takes minutes). Uploading artifacts cannot run here:
//! those steps are checked to exist and named. Snapshots are off (WIRECHECK_SNAPSHOTS) so the runs
//! never record into the checkout.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The environment every recipe step gets from "the CI" here.
fn base_env(work: &Path) -> BTreeMap<String, String> {
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    [
        ("HOME", home.display().to_string()),
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("WIRECHECK_BIN", env!("CARGO_BIN_EXE_wirecheck").to_string()),
        ("WIRECHECK_SNAPSHOTS", "off".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs a bash script in `dir` with exactly `env`; returns the exit code and the output.
fn bash(script: &str, dir: &Path, env: &BTreeMap<String, String>) -> (i32, String) {
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("bash exited"), text)
}

/// What a GitHub Actions job did with the action's steps.
struct ActionRun {
    /// (step name, exit code) of every `run` step that ran.
    ran: Vec<(String, i32)>,
    /// (step name, `uses`, resolved `with`) of every step that cannot run here.
    not_run: Vec<(String, String, BTreeMap<String, String>)>,
    /// The job summary.
    summary: String,
    /// The step outputs written to GITHUB_OUTPUT.
    outputs: BTreeMap<String, String>,
}

/// Replaces `${{ expr }}` by its value; an expression the test does not know fails the test.
fn resolve(text: &str, values: &BTreeMap<String, String>) -> String {
    let re = regex::Regex::new(r"\$\{\{\s*([^}]*?)\s*\}\}").unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        values
            .get(&c[1])
            .unwrap_or_else(|| {
                panic!(
                    "action.yml uses `{}`, which the test does not provide",
                    &c[1]
                )
            })
            .clone()
    })
    .into_owned()
}

/// Runs action.yml's steps as a runner would, with these inputs (the rest at their defaults).
fn run_action(work: &Path, inputs: &[(&str, &str)]) -> ActionRun {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let mut values = BTreeMap::new();
    for (name, spec) in action["inputs"].as_object().expect("inputs") {
        let default = spec["default"].as_str().unwrap_or_default();
        values.insert(format!("inputs.{name}"), default.to_string());
    }
    for (k, v) in inputs {
        assert!(values.contains_key(&format!("inputs.{k}")), "no input {k}");
        values.insert(format!("inputs.{k}"), v.to_string());
    }
    values.insert("github.action_path".into(), repo().display().to_string());
    let files = work.join("runner");
    std::fs::create_dir_all(&files).unwrap();
    let mut env = base_env(work);
    for (var, file) in [
        ("GITHUB_OUTPUT", "output"),
        ("GITHUB_STEP_SUMMARY", "summary"),
        ("GITHUB_PATH", "path"),
        ("GITHUB_ENV", "env"),
    ] {
        let path = files.join(file);
        std::fs::write(&path, "").unwrap();
        env.insert(var.into(), path.display().to_string());
    }
    env.insert("GITHUB_ACTION_PATH".into(), repo().display().to_string());
    let workspace = work.join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();

    let mut run = ActionRun {
        ran: Vec::new(),
        not_run: Vec::new(),
        summary: String::new(),
        outputs: BTreeMap::new(),
    };
    let mut failed = false;
    for step in action["runs"]["steps"].as_array().expect("steps") {
        let name = step["name"]
            .as_str()
            .expect("every step is named")
            .to_string();
        let always = step["if"].as_str() == Some("always()");
        assert!(
            step["if"].is_null() || always,
            "step {name}: only `if: always()` is understood here"
        );
        if failed && !always {
            continue;
        }
        if let Some(uses) = step["uses"].as_str() {
            let with = step["with"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), resolve(v.as_str().unwrap_or_default(), &values)))
                .collect();
            run.not_run.push((name, uses.to_string(), with));
            continue;
        }
        let script = step["run"]
            .as_str()
            .unwrap_or_else(|| panic!("step {name}: no run"));
        assert_eq!(
            step["shell"], "bash",
            "step {name}: composite steps need a shell"
        );
        let mut step_env = env.clone();
        for (k, v) in step["env"].as_object().into_iter().flatten() {
            step_env.insert(k.clone(), resolve(v.as_str().unwrap_or_default(), &values));
        }
        let started = Instant::now();
        let (code, output) = bash(&resolve(script, &values), &workspace, &step_env);
        eprintln!(
            "step `{name}`: exit {code} in {:?}\n{}",
            started.elapsed(),
            output.trim_end()
        );
        run.ran.push((name, code));
        failed |= code != 0;
        // Outputs written so far become `steps.ID.outputs.KEY`.
        if let Some(id) = step["id"].as_str() {
            let written = std::fs::read_to_string(files.join("output")).unwrap();
            for line in written.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    values.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
                    run.outputs.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    run.summary = std::fs::read_to_string(files.join("summary")).unwrap();
    run
}

fn check_upload_step(run: &ActionRun, junit: &str) {
    let (name, uses, with) = run.not_run.first().expect("an upload step");
    assert_eq!(run.not_run.len(), 1, "only the upload cannot run here");
    assert!(
        uses.starts_with("actions/upload-artifact@"),
        "{name}: {uses}"
    );
    assert!(
        with["path"].contains(junit),
        "{name} uploads {:?}",
        with["path"]
    );
    eprintln!(
        "not run here: step `{name}` ({uses}, path {:?})",
        with["path"].trim()
    );
}

#[test]
fn the_github_action_runs_and_publishes_a_passing_run() {
    let dir = tempfile::tempdir().unwrap();
    let cases = repo().join("cases/mqtt/v311").display().to_string();
    let run = run_action(
        dir.path(),
        &[
            ("cases", cases.as_str()),
            ("junit", "out/junit.xml"),
            ("json", "out/report.json"),
        ],
    );
    let names: Vec<&str> = run.ran.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Install wirecheck",
            "Run wirecheck",
            "Job summary",
            "Fail on the run's exit code"
        ]
    );
    assert!(run.ran.iter().all(|(_, c)| *c == 0), "{:?}", run.ran);
    assert_eq!(run.outputs["exit-code"], "0");
    let junit = dir.path().join("workspace/out/junit.xml");
    let size = std::fs::metadata(&junit)
        .expect("JUnit report written")
        .len();
    assert!(dir.path().join("workspace/out/report.json").is_file());
    assert!(run.summary.contains("## wirecheck"), "{}", run.summary);
    assert!(run.summary.contains(" passed, 0 failed"), "{}", run.summary);
    eprintln!("JUnit {size} bytes; summary:\n{}", run.summary);
    check_upload_step(&run, "out/junit.xml");
}

#[test]
fn the_github_action_fails_the_job_after_publishing_a_failing_run() {
    let dir = tempfile::tempdir().unwrap();
    let cases = repo().join("cases/mqtt/v311").display().to_string();
    let run = run_action(
        dir.path(),
        &[
            ("cases", cases.as_str()),
            ("args", "--fault wrong-puback-id -j 8"),
        ],
    );
    let codes: BTreeMap<&str, i32> = run.ran.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    assert_eq!(
        codes["Run wirecheck"], 0,
        "the run step defers its exit code"
    );
    assert_eq!(run.outputs["exit-code"], "1");
    assert_eq!(codes["Job summary"], 0);
    assert_eq!(codes["Fail on the run's exit code"], 1);
    assert!(run.summary.contains(" failed"), "{}", run.summary);
    assert!(!run.summary.contains(" 0 failed"), "{}", run.summary);
    assert!(dir.path().join("workspace/wirecheck-junit.xml").is_file());
    check_upload_step(&run, "wirecheck-junit.xml");
}

/// The `export` lines of a GitLab `variables:` map.
fn exports(vars: &Value) -> String {
    vars.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            format!("export {k}=\"{v}\"\n")
        })
        .collect()
}

/// A GitLab job as the shell script a runner makes of it: variables, before_script, script.
fn job_script(file: &Value, job: &Value) -> String {
    let mut script = String::from("set -eo pipefail\n");
    script.push_str(&exports(&file["variables"]));
    script.push_str(&exports(&job["variables"]));
    for part in ["before_script", "script"] {
        for line in job[part].as_array().into_iter().flatten() {
            script.push_str(line.as_str().expect("script lines are text"));
            script.push('\n');
        }
    }
    script
}

#[test]
fn the_gitlab_example_runs_three_shards_and_merges_them() {
    let file = yaml("ci/gitlab-ci.example.yml");
    let shard = &file["wirecheck"];
    let merge = &file["wirecheck-merge"];
    assert_eq!(shard["parallel"], 3);
    let shard_text = job_script(&file, shard);
    assert!(
        shard_text.contains("hash:${CI_NODE_INDEX}/${CI_NODE_TOTAL}"),
        "{shard_text}"
    );
    assert_eq!(merge["needs"][0], "wirecheck");
    assert_eq!(
        merge["when"], "always",
        "the merge runs when a shard failed"
    );
    let junit = merge["artifacts"]["reports"]["junit"]
        .as_str()
        .expect("the merge job publishes artifacts:reports:junit");
    assert!(
        shard["artifacts"]["reports"].is_null(),
        "only the merged report goes to GitLab's test widget (else cases count twice)"
    );

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("project");
    std::fs::create_dir_all(&work).unwrap();
    let mut env = base_env(dir.path());
    env.insert("CI_PROJECT_DIR".into(), repo().display().to_string());
    env.insert("CI_NODE_TOTAL".into(), "3".into());
    let mut shard_tests = 0;
    for k in 1..=3 {
        env.insert("CI_NODE_INDEX".into(), k.to_string());
        let started = Instant::now();
        let (code, out) = bash(&shard_text, &work, &env);
        let report = work.join(format!("reports/junit-{k}.xml"));
        let xml = std::fs::read_to_string(&report).unwrap_or_default();
        let tests = quick_junit::Report::deserialize_from_str(&xml).map_or(0, |r| r.tests);
        eprintln!(
            "shard {k}/3: exit {code} in {:?}, {tests} cases, JUnit {} bytes",
            started.elapsed(),
            xml.len()
        );
        assert_eq!(code, 0, "shard {k}:\n{out}");
        shard_tests += tests;
    }
    env.remove("CI_NODE_INDEX");
    env.remove("CI_NODE_TOTAL");
    let started = Instant::now();
    let (code, out) = bash(&job_script(&file, merge), &work, &env);
    eprintln!(
        "merge job: exit {code} in {:?}\n{}",
        started.elapsed(),
        out.trim_end()
    );
    assert_eq!(code, 0, "{out}");
    let xml = std::fs::read_to_string(work.join(junit)).expect("the merged JUnit report");
    let merged = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert!(shard_tests > 400, "{shard_tests} cases in the shards");
    assert_eq!(merged.tests, shard_tests);
    for path in merge["artifacts"]["paths"].as_array().into_iter().flatten() {
        let path = path.as_str().unwrap();
        assert!(work.join(path).is_file(), "artifact {path} missing");
    }
    eprintln!(
        "not run here: the artifact upload of both jobs and GitLab's JUnit import of {junit}"
    );
}
