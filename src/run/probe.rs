//! Probe steps that need no actor: a WebSocket upgrade offering chosen subprotocols
//! (`ws_handshake`) and an HTTP GET on the target's origin (`http_get`, host-meta discovery).
//! Each runs on a connection of its own, deadlined and bounded, and notes what it saw in the
//! `[probe]` section of the transcript.

use std::time::Duration;

use crate::case::model::{HttpGetStep, WsHandshakeStep};
use crate::seam::Recorder;
use crate::transport::http::{self, HttpError, HttpResponse};
use crate::transport::{ConnectOptions, Endpoint, TransportError, hostmeta};

use super::Failure;

fn request_failure(e: HttpError, what: &str) -> Failure {
    match e {
        // no connection at all is the target being unreachable, not an answer
        HttpError::Transport(t @ (TransportError::Connect { .. } | TransportError::Tls { .. })) => {
            Failure::infra(format!("{what}: {t}"))
        }
        other => Failure::check(Vec::new(), format!("{what}: {other}")),
    }
}

/// The subprotocols selected in an upgrade answer, as one string (None: no header).
fn selected(r: &HttpResponse) -> Option<String> {
    let all = r.header_all("Sec-WebSocket-Protocol");
    (!all.is_empty()).then(|| all.join(", "))
}

/// Runs a `ws_handshake` step: Ok(1) when the answer is the expected one.
pub async fn ws_handshake(
    (endpoint, opts): (&Endpoint, &ConnectOptions),
    step: &WsHandshakeStep,
    rec: &Recorder,
    wait: Duration,
) -> Result<usize, Failure> {
    if !endpoint.kind.is_websocket() {
        return Err(Failure::infra(
            "`ws_handshake` needs a WebSocket (ws:// or wss://) target",
        ));
    }
    rec.note(format!(
        "ws upgrade offering subprotocols [{}]",
        step.subprotocols.join(", ")
    ));
    let r = http::ws_offer(endpoint, &step.subprotocols, opts, wait)
        .await
        .map_err(|e| request_failure(e, "WebSocket upgrade"))?;
    let sel = selected(&r);
    rec.note(format!(
        "answer HTTP {} subprotocol={}",
        r.status,
        sel.as_deref().unwrap_or("none")
    ));
    let shown = format!(
        "HTTP {}, Sec-WebSocket-Protocol: {}",
        r.status,
        sel.as_deref().unwrap_or("(none)")
    );
    match &step.expect.subprotocol {
        Some(want) => {
            if r.status != 101 {
                return Err(Failure::check(
                    Vec::new(),
                    format!("the server refused an upgrade offering `{want}`"),
                )
                .with_diff(format!("HTTP 101, Sec-WebSocket-Protocol: {want}"), shown));
            }
            if sel.as_deref() != Some(want.as_str()) {
                return Err(Failure::check(
                    Vec::new(),
                    format!("the upgrade answer does not select subprotocol `{want}`"),
                )
                .with_diff(format!("HTTP 101, Sec-WebSocket-Protocol: {want}"), shown));
            }
        }
        None => {
            if r.status == 101
                && let Some(s) = sel
            {
                return Err(Failure::check(
                    Vec::new(),
                    format!(
                        "the server accepted an upgrade that offered [{}] and selected `{s}`: no XMPP connection may be established without `xmpp`, and a server must not select what it does not speak",
                        step.subprotocols.join(", ")
                    ),
                )
                .with_diff("a refusal, or HTTP 101 without a subprotocol", shown));
            }
        }
    }
    Ok(1)
}

/// Runs an `http_get` step: Ok(1) when the response is the expected one; a non-2xx answer with
/// `skip_unless` makes the case not applicable.
pub async fn http_get(
    (endpoint, opts): (&Endpoint, &ConnectOptions),
    step: &HttpGetStep,
    rec: &Recorder,
    wait: Duration,
) -> Result<usize, Failure> {
    let r = http::get(endpoint, &step.path, opts, wait)
        .await
        .map_err(|e| request_failure(e, &format!("GET {}", step.path)))?;
    rec.note(format!("GET {} -> HTTP {}", step.path, r.status));
    if !(200..300).contains(&r.status)
        && let Some(why) = &step.skip_unless
    {
        return Err(Failure::not_applicable(format!(
            "{why} (GET {} answered HTTP {})",
            step.path, r.status
        )));
    }
    let want = step.expect.status.unwrap_or(200);
    if r.status != want {
        return Err(Failure::check(
            Vec::new(),
            format!("GET {} answered HTTP {}", step.path, r.status),
        )
        .with_diff(format!("HTTP {want}"), format!("HTTP {}", r.status)));
    }
    if let Some(link) = &step.expect.link {
        let links = hostmeta::links(&r.body).map_err(|e| {
            Failure::check(
                Vec::new(),
                format!("GET {}: not a host-meta document: {e}", step.path),
            )
        })?;
        let scheme_ok = |href: &str| {
            link.schemes.is_empty()
                || href.split_once("://").is_some_and(|(s, rest)| {
                    !rest.is_empty() && link.schemes.iter().any(|w| w.eq_ignore_ascii_case(s))
                })
        };
        let found: Vec<&hostmeta::Link> = links
            .iter()
            .filter(|l| l.rel == link.rel && scheme_ok(&l.href))
            .collect();
        if found.is_empty() {
            let all: Vec<String> = links
                .iter()
                .map(|l| format!("{} -> {}", l.rel, l.href))
                .collect();
            return Err(Failure::check(
                Vec::new(),
                format!(
                    "GET {}: no Link rel='{}' with a {} URL",
                    step.path,
                    link.rel,
                    link.schemes.join("/")
                ),
            )
            .with_diff(
                format!("Link rel='{}'", link.rel),
                format!("links: [{}]", all.join(", ")),
            ));
        }
        for l in found {
            rec.note(format!("link rel={} href={}", l.rel, l.href));
        }
    }
    Ok(1)
}
