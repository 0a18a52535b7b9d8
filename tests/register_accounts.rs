//! In-band registration as the account source (profile `register_accounts`, XEP-0077),
//! against the reference server reached by URL: cases pass on freshly registered accounts, and
//! a registered account is removed again so it no longer logs in.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::time::{Duration, Instant};
use wirecheck::reference::Reference;
use wirecheck::run::Verdict;
use wirecheck::run::engine::RunOptions;
use wirecheck::run::scheduler::run_all;
use wirecheck::seam::{LinkEnv, Transcript};
use wirecheck::target::{Secret, Target, TargetOptions};
use wirecheck::xmpp::register::{RegisterError, register, remove};
use wirecheck::xmpp::session::XmppIdentity;

fn profile(dir: &tempfile::TempDir, url: &str, extra: &str) -> PathBuf {
    let path = dir.path().join("ibr.yaml");
    let text = format!(
        "name: reference-ibr\nprotocol: xmpp\nurl: {url}\ndomain: localhost\n{extra}deviations: []\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn env() -> LinkEnv {
    LinkEnv {
        transcript: Transcript::new(),
        case_id: "register-accounts-test".into(),
        hook: None,
        connect: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_run_on_registered_accounts() {
    let reference = Reference::start(&[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = reference.xmpp_endpoint().to_string();
    let path = profile(
        &dir,
        &url,
        "register_accounts: { prefix: wcibr, count: 4 }\n",
    );
    let target = Target::resolve(Some(path.to_str().unwrap()), &TargetOptions::default())
        .await
        .expect("profile loads");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/xmpp");
    let cases = wirecheck::case::load_all(&[
        root.join("presence/initial-reflected.yaml"),
        root.join("im/message-full-jid.yaml"),
        root.join("roster/set-result-and-push.yaml"),
        root.join("register/existing-username-conflict.yaml"),
    ])
    .expect("cases load");
    assert_eq!(cases.len(), 4);
    let opts = RunOptions {
        jobs: 4,
        ..RunOptions::default()
    };
    let results = run_all(cases, Arc::new(target), Arc::new(opts), |_| {}).await;
    for r in &results {
        assert_eq!(r.verdict, Verdict::Pass, "{}: {:?}", r.id, r.failures);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_account_is_removed_and_no_longer_logs_in() {
    let reference = Reference::start(&[]).await.unwrap();
    let endpoint = reference.xmpp_endpoint();
    let env = env();
    let deadline = Instant::now() + Duration::from_secs(10);
    let id = XmppIdentity {
        user: "wcibrtest".into(),
        password: Secret::new("wcibr-test-secret"),
        domain: "localhost".into(),
        resource: "t".into(),
    };
    register(
        &endpoint,
        &env,
        "localhost",
        &id.user,
        id.password.expose(),
        deadline,
    )
    .await
    .expect("registration");
    let again = register(&endpoint, &env, "localhost", &id.user, "other", deadline).await;
    assert!(
        matches!(&again, Err(RegisterError::Refused(x)) if x.contains("<conflict")),
        "{again:?}"
    );
    remove(&endpoint, &env, &id, deadline)
        .await
        .expect("removal");
    let gone = remove(&endpoint, &env, &id, deadline).await;
    assert!(
        matches!(&gone, Err(RegisterError::Io(x)) if x.starts_with("login:")),
        "a removed account does not log in: {gone:?}"
    );
}

#[tokio::test]
async fn register_accounts_is_checked_when_the_profile_loads() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, says) in [
        ("register_accounts: { prefix: WC, count: 4 }\n", "prefix"),
        ("register_accounts: { prefix: wc, count: 0 }\n", "count"),
        (
            "accounts:\n  - { user: wc1, password_env: HOME }\nregister_accounts: { prefix: wc, count: 2 }\n",
            "not both",
        ),
    ] {
        let path = profile(&dir, "ws://127.0.0.1:1/xmpp-websocket", extra);
        let err = Target::resolve(Some(path.to_str().unwrap()), &TargetOptions::default())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains(says), "{extra}: {err}");
    }
}
