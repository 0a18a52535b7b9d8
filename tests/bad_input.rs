//! Every bad input gets an honest exit code and a clear, located error (issue 6): a table of bad
//! case files, profiles, flags, URLs and special files, each with its exit code, its first
//! `error:` line and, where there is a file, the file:line:col it points at.
//!
//! Every input runs in a fresh temp dir with relative file names, so messages are stable. No input
//! needs a server: bad input is refused before anything connects (the built-in target, started on
//! loopback port 0, is the only server any of them may start).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const GOOD: &str = r#"id: bad.sample
title: PINGREQ gets PINGRESP
protocol: mqtt
version: "3.1.1"
spec: [MQTT-3.12.4-1]
actors: { c: {} }
steps:
  - connect: c
  - send: { actor: c, packet: { type: pingreq } }
  - expect: { actor: c, packet: { type: pingresp } }
"#;

const GOOD_XMPP: &str = r#"id: bad.xmpp
title: presence is reflected
protocol: xmpp
spec: [RFC6121-4.2.2-2]
actors: { alice: {}, bob: {} }
steps:
  - login: alice
  - send: { actor: alice, xml: "<presence xmlns='jabber:client'/>" }
  - expect: { actor: alice, xml: "<presence from='{alice.full_jid}'/>" }
"#;

const PROFILE: &str = r#"name: t
protocol: mqtt
version: "3.1.1"
url: mqtt://127.0.0.1:1883
deviations: []
"#;

const XMPP_PROFILE: &str = r#"name: x
protocol: xmpp
url: ws://127.0.0.1:5280/xmpp-websocket
domain: localhost
accounts:
  - { user: wc1, password_env: WC_TEST_UNSET_PASSWORD }
"#;

/// A file a bad input needs in its temp dir.
enum File {
    /// Text (or bytes) written as a regular file.
    Text(String),
    Bytes(Vec<u8>),
    /// A FIFO (named pipe).
    Fifo,
    /// A folder.
    Dir,
    /// A symbolic link to this target.
    Link(&'static str),
}

/// One bad input and what wirecheck must say about it.
struct Bad {
    /// What is wrong (for failure messages).
    name: &'static str,
    /// Files to create first, relative to the temp dir.
    files: Vec<(&'static str, File)>,
    /// Arguments.
    args: Vec<&'static str>,
    /// Environment variables to set.
    env: Vec<(&'static str, &'static str)>,
    /// The exit code.
    code: i32,
    /// The first line of stderr that starts with `error:`.
    first: &'static str,
    /// The `  --> file:line:col` line that must follow, if the error is in a file.
    at: Option<&'static str>,
}

fn text(s: impl Into<String>) -> File {
    File::Text(s.into())
}

fn case(name: &'static str, body: String) -> Vec<(&'static str, File)> {
    vec![(name, text(body))]
}

fn bad(
    name: &'static str,
    files: Vec<(&'static str, File)>,
    args: &[&'static str],
    code: i32,
    first: &'static str,
    at: Option<&'static str>,
) -> Bad {
    Bad {
        name,
        files,
        args: args.to_vec(),
        env: Vec::new(),
        code,
        first,
        at,
    }
}

fn with_env(mut b: Bad, env: &[(&'static str, &'static str)]) -> Bad {
    b.env = env.to_vec();
    b
}

fn table() -> Vec<Bad> {
    let g = |from: &str, to: &str| {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replace(from, to)
    };
    let x = |from: &str, to: &str| {
        assert!(GOOD_XMPP.contains(from), "{from}");
        GOOD_XMPP.replace(from, to)
    };
    let p = |from: &str, to: &str| {
        assert!(PROFILE.contains(from), "{from}");
        PROFILE.replace(from, to)
    };
    let list = |f: &'static str| vec!["list", f];
    let run_profile = vec!["run", "--target", "p.yaml", "c.yaml"];
    let with_case = |mut files: Vec<(&'static str, File)>| {
        files.push(("c.yaml", text(GOOD)));
        files
    };
    let long_line = format!("id: x\ntitle: {} : b\n", "a".repeat(1_300_000));
    vec![
        // ---- case files: integers and shapes name the field
        bad(
            "keep_alive: sixty",
            case(
                "k.yaml",
                g("- connect: c", "- connect: { actor: c, keep_alive: sixty }"),
            ),
            &list("k.yaml"),
            2,
            "error: field `keep_alive`: expected an integer from 0 to 65535, found `sixty`",
            Some("  --> k.yaml:8:38"),
        ),
        bad(
            "keep_alive: 70000",
            case(
                "k.yaml",
                g("- connect: c", "- connect: { actor: c, keep_alive: 70000 }"),
            ),
            &list("k.yaml"),
            2,
            "error: field `keep_alive`: expected an integer from 0 to 65535, found `70000`",
            Some("  --> k.yaml:8:38"),
        ),
        bad(
            "code: 99999",
            case(
                "k.yaml",
                format!("{GOOD}  - expect_close: {{ actor: c, code: 99999 }}\n"),
            ),
            &list("k.yaml"),
            2,
            "error: field `code`: expected an integer from 0 to 65535, found `99999`",
            Some("  --> k.yaml:11:37"),
        ),
        bad(
            "qos: 999",
            case(
                "q.yaml",
                g("type: pingreq", "type: publish, topic: t, qos: 999"),
            ),
            &list("q.yaml"),
            2,
            "error: `send`: field `packet.qos`: expected an integer from 0 to 255, found integer `999`",
            Some("  --> q.yaml:9:58"),
        ),
        bad(
            "steps: hello",
            case(
                "s.yaml",
                format!("{}steps: hello\n", &GOOD[..GOOD.find("steps:").unwrap()]),
            ),
            &list("s.yaml"),
            2,
            "error: field `steps`: expected a list (`[a, b]` or `- item` lines), found `hello`",
            Some("  --> s.yaml:7:8"),
        ),
        bad(
            "spec: 5",
            case("s.yaml", g("spec: [MQTT-3.12.4-1]", "spec: 5")),
            &list("s.yaml"),
            2,
            "error: field `spec`: expected a list (`[a, b]` or `- item` lines), found `5`",
            Some("  --> s.yaml:5:7"),
        ),
        bad(
            "actors: [c]",
            case("a.yaml", g("actors: { c: {} }", "actors: [c]")),
            &list("a.yaml"),
            2,
            "error: field `actors`: expected a map (`{ key: value }` or indented `key: value` lines), found `[c]`",
            Some("  --> a.yaml:6:9"),
        ),
        // ---- the YAML library's words, translated
        bad(
            "two YAML documents",
            case("m.yaml", format!("{GOOD}---\n{GOOD}")),
            &list("m.yaml"),
            2,
            "error: a case file is one YAML document, but a second one starts here (after `---`); put each in its own file",
            Some("  --> m.yaml:12:1"),
        ),
        bad(
            "duplicate key",
            case("d.yaml", format!("{GOOD}id: again\n")),
            &list("d.yaml"),
            2,
            "error: key `id` is given twice in the same map; keep one",
            Some("  --> d.yaml:11:1"),
        ),
        bad(
            "a step that is a list (externally tagged enum)",
            case("e.yaml", g("- connect: c", "- [connect, c]")),
            &list("e.yaml"),
            2,
            "error: expected a step: a map with one keyword, e.g. `- send: { actor: a, ... }` or `- connect: a` (keywords: connect, login, send, expect, expect_none, expect_close, expect_disconnect, disconnect, sleep, drain), found `[connect, c]`",
            Some("  --> e.yaml:8:5"),
        ),
        bad(
            "unknown step keyword",
            case("e.yaml", g("- connect: c", "- conect: c")),
            &list("e.yaml"),
            2,
            "error: unknown step `conect`; a step is one of: connect, login, send, expect, expect_none, expect_close, expect_disconnect, disconnect, sleep, drain",
            Some("  --> e.yaml:8:5"),
        ),
        bad(
            "unknown protocol",
            case("p.yaml", g("protocol: mqtt", "protocol: mqtts")),
            &list("p.yaml"),
            2,
            "error: field `protocol`: unknown protocol `mqtts`; expected `mqtt` or `xmpp`",
            Some("  --> p.yaml:3:11"),
        ),
        bad(
            "unclosed [",
            case("u.yaml", g("spec: [MQTT-3.12.4-1]", "spec: [MQTT-3.12.4-1")),
            &list("u.yaml"),
            2,
            "error: unclosed `[`: it is never closed with `]`",
            Some("  --> u.yaml:5:7"),
        ),
        bad(
            "nesting deeper than the limit",
            case(
                "n.yaml",
                g(
                    "spec: [MQTT-3.12.4-1]",
                    &format!("spec: {}{}", "[".repeat(300), "]".repeat(300)),
                ),
            ),
            &list("n.yaml"),
            2,
            "error: the case file nests more than 64 levels of lists and maps, the limit for a case file",
            None,
        ),
        bad(
            "more YAML values than the limit",
            case(
                "v.yaml",
                g(
                    "actors:",
                    &format!("tags: [{}]\nactors:", vec!["t"; 260_000].join(",")),
                ),
            ),
            &list("v.yaml"),
            2,
            "error: the case file has more than 250000 YAML values, the limit for a case file; split it or simplify it",
            None,
        ),
        bad(
            "bad indentation",
            case("i.yaml", g("  - send:", "    - send:")),
            &list("i.yaml"),
            2,
            "error: this line does not line up with the keys of the map above: check its indentation (keys of one map start in the same column) (YAML: while parsing a block mapping, did not find expected key)",
            None,
        ),
        bad(
            "a tab for indentation",
            case(
                "t.yaml",
                GOOD.replace("actors: { c: {} }", "actors:\n\tc: {}"),
            ),
            &list("t.yaml"),
            2,
            "error: a tab is used for indentation: YAML indents with spaces (YAML: tabs disallowed within this context (block indentation))",
            Some("  --> t.yaml:7:2"),
        ),
        // ---- values the loader used to accept silently
        bad(
            "title: !!binary AAAA",
            case(
                "b.yaml",
                g("title: PINGREQ gets PINGRESP", "title: !!binary AAAA"),
            ),
            &list("b.yaml"),
            2,
            "error: YAML tag `!!binary` is not used in a case file: write the value as plain text (quote it if it looks like a number)",
            Some("  --> b.yaml:2:8"),
        ),
        bad(
            "client_id: 42",
            case(
                "i.yaml",
                g("actors: { c: {} }", "actors: { c: { client_id: 42 } }"),
            ),
            &list("i.yaml"),
            2,
            "error: field `client_id`: expected text (write numbers and true/false in quotes, e.g. \"42\"), found integer `42`",
            Some("  --> i.yaml:6:16"),
        ),
        bad(
            "account: mine",
            case("a.yaml", x("alice: {}", "alice: { account: mine }")),
            &list("a.yaml"),
            2,
            "error: actor `alice`: field `account`: `mine` is not supported; the only form is `account: pool` (lease any free account of the target's pool), which is also the default",
            Some("  --> a.yaml:5:9"),
        ),
        bad(
            "same_account_as: an unknown actor",
            case("s.yaml", x("bob: {}", "bob: { same_account_as: carol }")),
            &list("s.yaml"),
            2,
            "error: actor `bob`: field `same_account_as`: `carol` is not an actor of this case",
            Some("  --> s.yaml:5:9"),
        ),
        bad(
            "same_account_as: a chain",
            case(
                "s2.yaml",
                x(
                    "alice: {}, bob: {}",
                    "alice: { same_account_as: bob }, bob: { same_account_as: alice }",
                ),
            ),
            &list("s2.yaml"),
            2,
            "error: actor `alice`: field `same_account_as`: `bob` itself shares another actor's account; name that actor instead",
            Some("  --> s2.yaml:5:9"),
        ),
        // ---- template mistakes, found when the case is loaded
        bad(
            "{nosuch}",
            case(
                "t.yaml",
                g("type: pingreq", "type: publish, topic: \"{nosuch}\""),
            ),
            &list("t.yaml"),
            2,
            "error: `send`: field `packet.topic`: unknown variable `{nosuch}` (variables: run, case, ns, c.client_id; captures bind in an earlier `expect` as `$name`)",
            Some("  --> t.yaml:9:56"),
        ),
        bad(
            "{bob.client_id} of an unknown actor",
            case(
                "t.yaml",
                g("type: pingreq", "type: publish, topic: \"{bob.client_id}\""),
            ),
            &list("t.yaml"),
            2,
            "error: `send`: field `packet.topic`: `{bob.client_id}`: `bob` is not an actor of this case (actors: c)",
            Some("  --> t.yaml:9:56"),
        ),
        bad(
            "unclosed {ns/t",
            case(
                "t.yaml",
                g("type: pingreq", "type: publish, topic: \"{ns/t\""),
            ),
            &list("t.yaml"),
            2,
            "error: `send`: field `packet.topic`: unclosed `{` in `{ns/t`: close it with `}`, or write `{{` for a literal brace",
            Some("  --> t.yaml:9:56"),
        ),
        bad(
            "$never sent before any expect binds it",
            case("t.yaml", g("type: pingreq", "type: puback, id: $never")),
            &list("t.yaml"),
            2,
            "error: `send`: field `packet.id`: capture `$never` is used before anything binds it: an earlier `expect` must capture it (`$never` in its pattern)",
            Some("  --> t.yaml:9:51"),
        ),
        bad(
            "{bob.full_jid} before bob logs in",
            case(
                "t.yaml",
                x("from='{alice.full_jid}'", "from='{bob.full_jid}'"),
            ),
            &list("t.yaml"),
            2,
            "error: `expect`: field `xml`: `{bob.full_jid}` is defined only after `login: bob`, and no earlier step logs bob in",
            Some("  --> t.yaml:9:51"),
        ),
        bad(
            "login with an unknown mechanism",
            case(
                "m.yaml",
                x(
                    "- login: alice",
                    "- login: { actor: alice, mechanism: SCRAM-MD5 }",
                ),
            ),
            &list("m.yaml"),
            2,
            "error: `login`: field `mechanism`: unknown SASL mechanism `SCRAM-MD5` (known: SCRAM-SHA-256, SCRAM-SHA-1, PLAIN)",
            Some("  --> m.yaml:7:28"),
        ),
        bad(
            "sasl_scram with an unknown message",
            case(
                "s.yaml",
                x(
                    "xml: \"<presence xmlns='jabber:client'/>\" }",
                    "sasl_scram: { message: middle } }",
                ),
            ),
            &list("s.yaml"),
            2,
            "error: `send`: field `sasl_scram.message`: `middle` is not `first` or `final`",
            None,
        ),
        bad(
            "ws_ping with a payload over 125 bytes",
            case(
                "wp.yaml",
                x(
                    "- login: alice",
                    "- login: alice\n  - ws_ping: { actor: alice, payload: pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp }",
                ),
            ),
            &list("wp.yaml"),
            2,
            "error: `ws_ping`: field `payload`: at most 125 bytes (RFC 6455 5.5)",
            None,
        ),
        bad(
            "http_get with a relative path",
            case(
                "hg.yaml",
                x(
                    "- login: alice",
                    "- http_get: { path: well-known, expect: {} }\n  - login: alice",
                ),
            ),
            &list("hg.yaml"),
            2,
            "error: `http_get`: field `path`: an absolute path without spaces, e.g. /.well-known/host-meta",
            None,
        ),
        bad(
            "ws_handshake offering a subprotocol that is no HTTP token",
            case(
                "wh.yaml",
                x(
                    "- login: alice",
                    "- ws_handshake: { subprotocols: [\"a b\"], expect: { subprotocol: xmpp } }\n  - login: alice",
                ),
            ),
            &list("wh.yaml"),
            2,
            "error: `ws_handshake`: field `subprotocols`: each is an HTTP token (RFC 6455 4.1)",
            None,
        ),
        bad(
            "ordered: maybe",
            case(
                "o.yaml",
                x(
                    "xml: \"<presence from='{alice.full_jid}'/>\" }",
                    "xml: \"<presence from='{alice.full_jid}'/>\", ordered: maybe }",
                ),
            ),
            &list("o.yaml"),
            2,
            "error: field `ordered`: expected `true` or `false`, found `maybe`",
            Some("  --> o.yaml:9:82"),
        ),
        bad(
            "exactly_one_of with an unknown actor",
            case(
                "x1.yaml",
                g(
                    "{ actor: c, packet: { type: pingresp } }",
                    "{ exactly_one_of: [c, d], packet: { type: pingresp } }",
                ),
            ),
            &list("x1.yaml"),
            2,
            "error: `expect`: field `exactly_one_of`: unknown actor `d` (this case has: c)",
            Some("  --> x1.yaml:10:5"),
        ),
        bad(
            "exactly_one_of beside actor",
            case(
                "x2.yaml",
                g(
                    "{ actor: c, packet: { type: pingresp } }",
                    "{ actor: c, exactly_one_of: [c, c], packet: { type: pingresp } }",
                ),
            ),
            &list("x2.yaml"),
            2,
            "error: `expect`: give `actor` or `exactly_one_of`, not both",
            Some("  --> x2.yaml:10:5"),
        ),
        bad(
            "ordered on an MQTT packet expect",
            case(
                "o.yaml",
                g(
                    "packet: { type: pingresp } }",
                    "packet: { type: pingresp }, ordered: true }",
                ),
            ),
            &list("o.yaml"),
            2,
            "error: `expect`: field `ordered` applies to `xml` patterns only (MQTT `packet` lists always match in order)",
            Some("  --> o.yaml:10:5"),
        ),
        bad(
            "a zero step deadline",
            case(
                "z.yaml",
                g("- connect: c", "- connect: { actor: c, timeout: 0s }"),
            ),
            &list("z.yaml"),
            2,
            "error: `connect`: field `timeout`: a deadline of 0 fails every wait; give e.g. 2s",
            Some("  --> z.yaml:8:5"),
        ),
        bad(
            "MQTT version 3.1 (not supported)",
            case("v.yaml", g("version: \"3.1.1\"", "version: \"3.1\"")),
            &list("v.yaml"),
            2,
            "error: field `version`: `3.1` is not supported; expected \"3.1.1\" or \"5.0\"",
            Some("  --> v.yaml:4:10"),
        ),
        // ---- files that are not case files
        bad(
            "not UTF-8",
            vec![("n.yaml", File::Bytes(b"id: x\ntitle: caf\xe9\n".to_vec()))],
            &list("n.yaml"),
            2,
            "error: the file is not UTF-8 text: byte 0xE9 at byte offset 16 (line 2, column 11) is not valid UTF-8",
            Some("  --> n.yaml:2:11"),
        ),
        bad(
            "a FIFO given directly",
            vec![("f.yaml", File::Fifo)],
            &list("f.yaml"),
            2,
            "error: f.yaml is a FIFO (named pipe), not a regular file; give a case file",
            None,
        ),
        bad(
            "a FIFO inside a case folder",
            vec![("d", File::Dir), ("d/f.yaml", File::Fifo)],
            &list("d"),
            2,
            "error: d/f.yaml is a FIFO (named pipe), not a regular file; give a case file",
            None,
        ),
        bad(
            "a symlink loop inside a case folder (walked once, no hang)",
            vec![
                ("d", File::Dir),
                ("d/loop", File::Link("..")),
                (
                    "d/x.yaml",
                    text(g("spec: [MQTT-3.12.4-1]", "spec: [MQTT-9.9.9-9]")),
                ),
            ],
            &list("d"),
            2,
            "error: field `spec`: `MQTT-9.9.9-9` is not a MQTT 3.1.1 statement id",
            Some("  --> d/x.yaml:5:7"),
        ),
        bad(
            "/dev/zero",
            Vec::new(),
            &list("/dev/zero"),
            2,
            "error: /dev/zero is a character device, not a regular file; give a case file",
            None,
        ),
        bad(
            "a case file over the size limit",
            case(
                "big.yaml",
                format!("{GOOD}#{}\n", "x".repeat(4 * 1024 * 1024)),
            ),
            &list("big.yaml"),
            2,
            "error: big.yaml is larger than 4194304 bytes, the limit for a case file",
            None,
        ),
        bad(
            "one error in a 1.3 MB one-line file",
            case("l.yaml", long_line),
            &list("l.yaml"),
            2,
            "error: `: ` cannot appear here: quote the value if the colon belongs to it, or check the indentation (YAML: mapping values are not allowed in this context)",
            Some("  --> l.yaml:2:1300009"),
        ),
        // ---- profiles: located, with the `error:` prefix
        bad(
            "profile version: \"9\"",
            with_case(vec![(
                "p.yaml",
                text(p("version: \"3.1.1\"", "version: \"9\"")),
            )]),
            &run_profile,
            2,
            "error: field `version`: `9` is not supported; expected \"3.1.1\" or \"5.0\"",
            Some("  --> p.yaml:3:10"),
        ),
        bad(
            "deviation glob [abc",
            with_case(vec![(
                "p.yaml",
                text(p(
                    "deviations: []",
                    "deviations: [{ case: \"[abc\", reason: r }]",
                )),
            )]),
            &run_profile,
            2,
            "error: deviation: field `case`: `[abc` is not a valid glob: unclosed character class; missing ']'",
            Some("  --> p.yaml:5:14"),
        ),
        bad(
            "deviation naming an unknown statement id",
            with_case(vec![(
                "p.yaml",
                text(p(
                    "deviations: []",
                    "deviations: [{ spec: MQTT-9.9.9-9, reason: r }]",
                )),
            )]),
            &run_profile,
            2,
            "error: deviation: field `spec`: `MQTT-9.9.9-9` is not a MQTT 3.1.1 or MQTT 5.0 statement id",
            Some("  --> p.yaml:5:14"),
        ),
        bad(
            "deviation with neither case nor spec",
            with_case(vec![(
                "p.yaml",
                text(p("deviations: []", "deviations: [{ reason: r }]")),
            )]),
            &run_profile,
            2,
            "error: deviation: give `case` (a case id glob), `spec` (a statement id) or both; with neither it covers nothing",
            Some("  --> p.yaml:5:14"),
        ),
        bad(
            "unknown capability in a profile",
            with_case(vec![(
                "p.yaml",
                text(format!(
                    "{PROFILE}capabilities: {{ retain: false, qos3: true }}\n"
                )),
            )]),
            &run_profile,
            2,
            "error: field `capabilities`: `qos3` is not a known capability; expected one of mqtt5, qos2, retain, wildcards, shared_subscriptions, subscription_ids, topic_alias, websocket, will, muc, scram_sha_1, scram_sha_256, register, stream_management, host_meta",
            Some("  --> p.yaml:6:32"),
        ),
        bad(
            "unknown capability in a case",
            case(
                "r.yaml",
                g("actors:", "requires: [qos2, teleport]\nactors:"),
            ),
            &list("r.yaml"),
            2,
            "error: field `requires`: `teleport` is not a known capability; expected one of mqtt5, qos2, retain, wildcards, shared_subscriptions, subscription_ids, topic_alias, websocket, will, muc, scram_sha_1, scram_sha_256, register, stream_management, host_meta",
            Some("  --> r.yaml:6:18"),
        ),
        bad(
            "profile url that is not a target URL",
            with_case(vec![(
                "p.yaml",
                text(p("url: mqtt://127.0.0.1:1883", "url: http://127.0.0.1")),
            )]),
            &run_profile,
            2,
            "error: profile `t`: field `url`: `http://127.0.0.1`: unsupported scheme `http`; expected mqtt, mqtts, ws or wss",
            Some("  --> p.yaml:4:6"),
        ),
        with_env(
            bad(
                "url_env holding a bad URL",
                with_case(vec![(
                    "p.yaml",
                    text(format!("{PROFILE}url_env: WC_TEST_BAD_URL\n")),
                )]),
                &run_profile,
                2,
                "error: profile `t`: field `url_env`: environment variable WC_TEST_BAD_URL holds a bad URL: `nonsense` is not a URL: expected mqtt://HOST[:PORT], mqtts://HOST[:PORT], ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH",
                Some("  --> p.yaml:6:10"),
            ),
            &[("WC_TEST_BAD_URL", "nonsense")],
        ),
        bad(
            "MQTT password variable not set",
            with_case(vec![(
                "p.yaml",
                text(format!(
                    "{PROFILE}username: bob\npassword_env: WC_TEST_UNSET_PASSWORD\n"
                )),
            )]),
            &run_profile,
            2,
            "error: profile `t`: field `password_env`: environment variable WC_TEST_UNSET_PASSWORD is not set (it should hold the password of MQTT user `bob`)",
            Some("  --> p.yaml:7:15"),
        ),
        bad(
            "XMPP account password variable not set",
            vec![("p.yaml", text(XMPP_PROFILE)), ("c.yaml", text(GOOD_XMPP))],
            &run_profile,
            2,
            "error: profile `x`: account `wc1` needs its password in environment variable WC_TEST_UNSET_PASSWORD, which is not set",
            Some("  --> p.yaml:6:5"),
        ),
        bad(
            "credentials inside a profile url",
            with_case(vec![(
                "p.yaml",
                text(p("mqtt://127.0.0.1", "mqtt://bob:hunter2@127.0.0.1")),
            )]),
            &run_profile,
            2,
            "error: profile `t`: field `url`: `mqtt://***@127.0.0.1:1883`: credentials in a URL are not accepted (they would show in process lists, shell history and reports); use --user NAME --password-env VAR, or `username:` and `password_env:` in a profile",
            Some("  --> p.yaml:4:6"),
        ),
        // ---- flags
        bad(
            "--protocol with a profile",
            with_case(vec![("p.yaml", text(PROFILE))]),
            &["run", "--target", "p.yaml", "--protocol", "xmpp", "c.yaml"],
            2,
            "error: --protocol applies to ws:// and wss:// URL targets; profile p.yaml names its `protocol`",
            None,
        ),
        bad(
            "huge -j",
            case("c.yaml", GOOD.into()),
            &["run", "-j", "18446744073709551615", "c.yaml"],
            2,
            "error: invalid value '18446744073709551615' for '--jobs <N>': 18446744073709551615 is more than the 1024 cases at once wirecheck allows",
            None,
        ),
        bad(
            "-j 0",
            case("c.yaml", GOOD.into()),
            &["run", "-j", "0", "c.yaml"],
            2,
            "error: invalid value '0' for '--jobs <N>': 0 cases at once would run nothing; give 1 to 1024",
            None,
        ),
        bad(
            "--timeout 0s",
            case("c.yaml", GOOD.into()),
            &["run", "--timeout", "0s", "c.yaml"],
            2,
            "error: invalid value '0s' for '--timeout <DURATION>': `0s` is zero: a deadline of 0 fails every wait; give e.g. 5s",
            None,
        ),
        bad(
            "--connect-timeout 0s",
            case("c.yaml", GOOD.into()),
            &["run", "--connect-timeout", "0s", "c.yaml"],
            2,
            "error: invalid value '0s' for '--connect-timeout <DURATION>': `0s` is zero: a deadline of 0 fails every wait; give e.g. 5s",
            None,
        ),
        bad(
            "--timeout 25h",
            case("c.yaml", GOOD.into()),
            &["run", "--timeout", "25h", "c.yaml"],
            2,
            "error: invalid value '25h' for '--timeout <DURATION>': `25h` is out of range (0 to 24h)",
            None,
        ),
        bad(
            "--ca that is not PEM",
            vec![
                ("c.yaml", text(GOOD)),
                ("ca.pem", text("not a certificate\n")),
            ],
            &["run", "--ca", "ca.pem", "c.yaml"],
            2,
            "error: --ca: cannot use CA file ca.pem: no PEM certificate in it (expected -----BEGIN CERTIFICATE----- sections)",
            None,
        ),
        bad(
            "--ca /dev/zero",
            case("c.yaml", GOOD.into()),
            &["run", "--ca", "/dev/zero", "c.yaml"],
            2,
            "error: --ca: /dev/zero is a character device, not a regular file; give a CA certificate (PEM) file",
            None,
        ),
        bad(
            "--insecure with --ca",
            vec![("c.yaml", text(GOOD)), ("ca.pem", text("x"))],
            &["run", "--insecure", "--ca", "ca.pem", "c.yaml"],
            2,
            "error: --insecure and --ca contradict each other: --insecure trusts any certificate, --ca trusts only that CA; give one",
            None,
        ),
        // ---- URLs
        bad(
            "mqtt://127.0.0.1:0",
            case("c.yaml", GOOD.into()),
            &["run", "--target", "mqtt://127.0.0.1:0", "c.yaml"],
            2,
            "error: `mqtt://127.0.0.1:0`: port 0 is not a port a server listens on; give the server's port",
            None,
        ),
        bad(
            "a path on an mqtt:// URL",
            case("c.yaml", GOOD.into()),
            &["run", "--target", "mqtt://127.0.0.1:1883/mqtt", "c.yaml"],
            2,
            "error: `mqtt://127.0.0.1:1883/mqtt`: an mqtt:// URL has no path (`/mqtt` would be ignored); for MQTT over WebSocket use ws://HOST:PORT/PATH",
            None,
        ),
        bad(
            "mqtt://user:pass@host",
            case("c.yaml", GOOD.into()),
            &[
                "run",
                "--target",
                "mqtt://bob:hunter2@127.0.0.1:1883",
                "c.yaml",
            ],
            2,
            "error: `mqtt://***@127.0.0.1:1883`: credentials in a URL are not accepted (they would show in process lists, shell history and reports); use --user NAME --password-env VAR, or `username:` and `password_env:` in a profile",
            None,
        ),
        bad(
            "--domain with an mqtt:// URL",
            case("c.yaml", GOOD.into()),
            &[
                "run",
                "--target",
                "mqtt://127.0.0.1:1883",
                "--domain",
                "example.com",
                "c.yaml",
            ],
            2,
            "error: --domain is for XMPP targets; mqtt://127.0.0.1:1883 is an MQTT target",
            None,
        ),
        bad(
            "--user without --password-env",
            case("c.yaml", GOOD.into()),
            &[
                "run",
                "--target",
                "mqtt://127.0.0.1:1883",
                "--user",
                "bob",
                "c.yaml",
            ],
            2,
            "error: --user needs --password-env VAR: the environment variable that holds the password (a password is never given on the command line)",
            None,
        ),
        bad(
            "--password-env naming an unset variable",
            case("c.yaml", GOOD.into()),
            &[
                "run",
                "--target",
                "mqtt://127.0.0.1:1883",
                "--user",
                "bob",
                "--password-env",
                "WC_TEST_UNSET_PASSWORD",
                "c.yaml",
            ],
            2,
            "error: --password-env WC_TEST_UNSET_PASSWORD: environment variable WC_TEST_UNSET_PASSWORD is not set (it should hold the password of MQTT user `bob`)",
            None,
        ),
        bad(
            "an XMPP URL without accounts",
            case("x.yaml", GOOD_XMPP.into()),
            &[
                "run",
                "--target",
                "ws://127.0.0.1:1/xmpp-websocket",
                "x.yaml",
            ],
            2,
            "error: the selected XMPP cases need 2 accounts (case `bad.xmpp` has 2 actors), but the target's account pool has 0: set WIRECHECK_XMPP_ACCOUNTS=user1:pass1,user2:pass2,... with at least 2 accounts that exist on the server",
            None,
        ),
        // ---- report files, checked before the run
        bad(
            "--junit under a file",
            vec![("c.yaml", text(GOOD)), ("afile", text("x"))],
            &["run", "--junit", "afile/junit.xml", "c.yaml"],
            2,
            "error: --junit afile/junit.xml: its directory afile is a file, not a directory",
            None,
        ),
        bad(
            "--junit and --json naming one file",
            case("c.yaml", GOOD.into()),
            &["run", "--junit", "r.xml", "--json", "r.xml", "c.yaml"],
            2,
            "error: --junit and --json both name r.xml; give each report its own file",
            None,
        ),
        // ---- nothing ran
        bad(
            "a --spec typo selects nothing",
            case("c.yaml", GOOD.into()),
            &["run", "--spec", "MQTT-3.12.4-11", "c.yaml"],
            4,
            "error: no case selected: 1 case loaded, none matches the filters (--spec MQTT-3.12.4-11 is not a statement id wirecheck knows) (pass --allow-empty to accept an empty run)",
            None,
        ),
        bad(
            "an empty folder",
            vec![("empty", File::Dir)],
            &["run", "empty"],
            4,
            "error: no case selected: the given paths hold no case files (*.yaml, *.yml) (pass --allow-empty to accept an empty run)",
            None,
        ),
        bad(
            "every case skipped: the target does not speak the protocol",
            case("x.yaml", GOOD_XMPP.into()),
            &["run", "--target", "mqtt://127.0.0.1:1", "x.yaml"],
            4,
            "error: nothing ran: every selected case was skipped (pass --allow-empty to accept that)",
            None,
        ),
    ]
}

/// Runs wirecheck in `dir` with `args`, killing it if it runs for more than 30 s (a hang is a bug
/// this test exists to catch).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wirecheck"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("WIRECHECK_XMPP_ACCOUNTS")
        .env_remove("WC_TEST_UNSET_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("wirecheck starts");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("wirecheck {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn make(dir: &Path, files: &[(&str, File)]) {
    for (name, f) in files {
        let p = dir.join(name);
        match f {
            File::Text(t) => std::fs::write(&p, t).unwrap(),
            File::Bytes(b) => std::fs::write(&p, b).unwrap(),
            File::Dir => std::fs::create_dir_all(&p).unwrap(),
            #[cfg(unix)]
            File::Link(to) => std::os::unix::fs::symlink(to, &p).unwrap(),
            #[cfg(not(unix))]
            File::Link(_) => {}
            File::Fifo => {
                let ok = Command::new("mkfifo").arg(&p).status().unwrap().success();
                assert!(ok, "mkfifo {}", p.display());
            }
        }
    }
}

#[test]
fn every_bad_input_has_its_exit_code_and_a_clear_located_error() {
    let table = table();
    assert!(table.len() >= 40, "{} bad inputs", table.len());
    let mut problems = Vec::new();
    for b in &table {
        let dir = tempfile::tempdir().unwrap();
        make(dir.path(), &b.files);
        let out = run_in(dir.path(), &b.args, &b.env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let first = lines.iter().position(|l| l.starts_with("error:"));
        let got_first = first.map_or("<no error: line>", |i| lines[i]);
        let got_at = first.and_then(|i| lines.get(i + 1)).copied();
        let mut wrong = Vec::new();
        if out.status.code() != Some(b.code) {
            wrong.push(format!("exit {:?}, want {}", out.status.code(), b.code));
        }
        if got_first != b.first {
            wrong.push(format!(
                "first error line\n     got: {got_first}\n    want: {}",
                b.first
            ));
        }
        if let Some(at) = b.at
            && got_at != Some(at)
        {
            wrong.push(format!("location\n     got: {got_at:?}\n    want: {at}"));
        }
        if stderr.contains("panicked") || stderr.contains("hunter2") {
            wrong.push("stderr has a panic or a password".into());
        }
        if stderr.len() > 4000 {
            wrong.push(format!(
                "stderr is {} bytes: snippets must be cropped",
                stderr.len()
            ));
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{}:\n  {}\n  stderr:\n{stderr}",
                b.name,
                wrong.join("\n  ")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn list_into_a_closed_pipe_exits_quietly() {
    // More output than a pipe buffer holds, so the write must meet the closed pipe.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1500 {
        let body = GOOD.replace(
            "id: bad.sample",
            &format!("id: bad.sample-{i:04}-with-a-long-id-to-fill-the-pipe"),
        );
        std::fs::write(dir.path().join(format!("c{i:04}.yaml")), body).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirecheck"))
        .args(["list", "."])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: `| head -1`.
    assert!(first.starts_with("bad.sample-0000"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn allow_empty_accepts_a_run_that_selects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), GOOD).unwrap();
    let out = run_in(
        dir.path(),
        &["run", "--allow-empty", "--tag", "nosuch", "c.yaml"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("note: no case selected"), "{stderr}");
}

#[test]
fn missing_report_folders_are_created_and_announced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), GOOD).unwrap();
    let out = run_in(dir.path(), &["run", "--json", "new/r.json", "c.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("note: created directory new for --json"),
        "{stderr}"
    );
    assert!(dir.path().join("new/r.json").is_file());
}

#[test]
fn tls_flags_without_tls_are_not_silently_ignored() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.yaml"), GOOD).unwrap();
    let out = run_in(dir.path(), &["run", "--insecure", "c.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --insecure has no effect: no endpoint of the target uses TLS"),
        "{stderr}"
    );
}
