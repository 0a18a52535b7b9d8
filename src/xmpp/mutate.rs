//! XMPP for the fuzzer: stanza mutators over one WebSocket text message (attributes,
//! namespaces, nesting, huge values, entities, invalid UTF-8, unbalanced tags and oversize
//! stanzas), the XML of a sent element's transcript data, and the liveness probe (an RFC 7395
//! stream start).

use async_trait::async_trait;
use rand::{Rng, RngCore};
use serde_json::Value;
use tokio::time::Instant;

use super::session::{Io, close_probe_link, probe_link};
use crate::seam::{Framing, Fuzzing, ProbeError, Wire, connect_by};
use crate::target::Target;
use crate::transport::ConnectOptions;
use crate::xmpp::element::escape;
use crate::xmpp::login::features_before_auth;

/// The XMPP mutators, by name.
pub const MUTATORS: &[&str] = &[
    "attr-drop",
    "attr-duplicate",
    "attr-garbage",
    "namespace",
    "nesting-deep",
    "huge-value",
    "entity",
    "invalid-utf8",
    "unbalanced",
    "oversize",
];

/// Rebuilds XML text from a message's transcript data (name, ns, attrs, children); None when
/// the data is not of that form.
pub fn data_to_xml(data: &Value) -> Option<String> {
    fn write(v: &Value, parent_ns: Option<&str>, out: &mut String) -> Option<()> {
        match v {
            Value::String(t) => out.push_str(&escape(t)),
            Value::Object(m) => {
                let name = m.get("name")?.as_str()?;
                out.push('<');
                out.push_str(name);
                let ns = m.get("ns").and_then(Value::as_str);
                let attrs = m.get("attrs").and_then(Value::as_object);
                let declares = attrs.is_some_and(|a| a.contains_key("xmlns"));
                if let Some(ns) = ns
                    && Some(ns) != parent_ns
                    && !declares
                    && !name.contains(':')
                {
                    out.push_str(&format!(" xmlns='{}'", escape(ns)));
                }
                for (k, val) in attrs.into_iter().flatten() {
                    out.push_str(&format!(" {k}='{}'", escape(val.as_str()?)));
                }
                let children = m.get("children").and_then(Value::as_array);
                match children {
                    Some(c) if !c.is_empty() => {
                        out.push('>');
                        for child in c {
                            write(child, ns, out)?;
                        }
                        out.push_str(&format!("</{name}>"));
                    }
                    _ => out.push_str("/>"),
                }
            }
            _ => return None,
        }
        Some(())
    }
    if let Some(Value::String(x)) = data.get("xml") {
        return Some(x.clone());
    }
    let mut out = String::new();
    write(data, None, &mut out)?;
    Some(out)
}

/// Byte spans of the attributes (` name='value'`, leading space included) of the first start
/// tag of `xml`, and the offset of that tag's end (`>` or `/>`).
fn first_tag_attrs(xml: &str) -> Option<(Vec<(usize, usize)>, usize)> {
    let b = xml.as_bytes();
    let mut at = xml.find('<')? + 1;
    while at < b.len() && !b[at].is_ascii_whitespace() && b[at] != b'>' && b[at] != b'/' {
        at += 1;
    }
    let mut spans = Vec::new();
    loop {
        let start = at;
        while at < b.len() && b[at].is_ascii_whitespace() {
            at += 1;
        }
        if at >= b.len() || b[at] == b'>' || b[at] == b'/' {
            return Some((spans, at));
        }
        let eq = at + xml[at..].find('=')?;
        let quote = *b.get(eq + 1)?;
        if quote != b'\'' && quote != b'"' {
            return None;
        }
        let close = eq + 2 + xml[eq + 2..].find(quote as char)?;
        at = close + 1;
        spans.push((start, at));
    }
}

/// Applies mutator `name` to one message's XML text; the result is bytes (it may be invalid
/// UTF-8). None when the mutator does not apply.
pub fn apply(name: &str, xml: &str, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
    let mut x = xml.to_string();
    match name {
        "attr-drop" | "attr-duplicate" | "attr-garbage" => {
            let (spans, _) = first_tag_attrs(&x)?;
            if spans.is_empty() {
                return None;
            }
            let (a, b) = spans[rng.random_range(0..spans.len())];
            match name {
                "attr-drop" => {
                    x.replace_range(a..b, "");
                }
                "attr-duplicate" => {
                    let copy = x[a..b].to_string();
                    x.insert_str(b, &copy);
                }
                _ => {
                    let attr = &x[a..b];
                    let eq = attr.find('=')?;
                    let garbage =
                        ["", "\u{1}", "&amp;&lt;", "..@@//", "💥", "-1"][rng.random_range(0..6)];
                    let new = format!("{}='{garbage}'", &attr[..eq]);
                    x.replace_range(a..b, &new);
                }
            }
        }
        "namespace" => {
            let (_, end) = first_tag_attrs(&x)?;
            let ns = [
                "",
                "urn:wirecheck:fuzz",
                "jabber:server",
                "http://etherx.jabber.org/streams",
            ][rng.random_range(0..4)];
            if let Some(p) = x.find(" xmlns='").or_else(|| x.find(" xmlns=\"")) {
                let q = x.as_bytes()[p + 7] as char;
                let close = p + 8 + x[p + 8..].find(q)?;
                x.replace_range(p..close + 1, &format!(" xmlns='{ns}'"));
            } else {
                x.insert_str(end, &format!(" xmlns='{ns}'"));
            }
        }
        "nesting-deep" => {
            let depth = [64, 1000, 10_000][rng.random_range(0..3)];
            let close = x.rfind("</")?;
            let inner = format!("{}{}", "<x>".repeat(depth), "</x>".repeat(depth));
            x.insert_str(close, &inner);
        }
        "huge-value" => {
            let (spans, end) = first_tag_attrs(&x)?;
            let big = "A".repeat([4096, 65_536, 300_000][rng.random_range(0..3)]);
            match spans.first() {
                Some(&(a, b)) => {
                    let eq = x[a..b].find('=')? + a;
                    x.replace_range(eq..b, &format!("='{big}'"));
                }
                None => x.insert_str(end, &format!(" a='{big}'")),
            }
        }
        "entity" => {
            let e = ["&undefined;", "&#0;", "&#xD800;", "&#1114112;", "&"][rng.random_range(0..5)];
            match x.rfind("</") {
                Some(p) => x.insert_str(p, e),
                None => {
                    let (_, end) = first_tag_attrs(&x)?;
                    x.insert_str(end, &format!(" a='{e}'"));
                }
            }
        }
        "invalid-utf8" => {
            let mut b = x.into_bytes();
            let at = rng.random_range(1..b.len().max(2)).min(b.len());
            let bad: &[u8] =
                [&[0xff][..], &[0xc0, 0x80], &[0xed, 0xa0, 0x80]][rng.random_range(0..3)];
            b.splice(at..at, bad.iter().copied());
            return Some(b);
        }
        "unbalanced" => match x.rfind("</") {
            Some(p) if rng.random_bool(0.5) => x.truncate(p),
            _ => x.push_str("</unopened>"),
        },
        "oversize" => {
            let close = x.rfind("</").unwrap_or(x.len());
            x.insert_str(close, &"<x/>".repeat(300_000));
        }
        _ => return None,
    }
    Some(x.into_bytes())
}

/// The XMPP side of the fuzzer.
pub struct XmppFuzzing;

#[async_trait]
impl Fuzzing for XmppFuzzing {
    fn mutators(&self) -> &'static [&'static str] {
        MUTATORS
    }

    /// One element per text WebSocket message (RFC 7395 Section 3.3.1).
    fn framing(&self) -> Framing {
        Framing::TextMessages
    }

    fn encode(&self, data: &Value) -> Option<(Wire, String)> {
        let x = data_to_xml(data)?;
        let kind = data
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("xml")
            .to_string();
        Some((Wire::Text(x), kind))
    }

    fn kind_of(&self, data: &Value, _wire: &Wire) -> String {
        data.get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("xml")
            .to_string()
    }

    fn mutate(&self, name: &str, wire: &Wire, rng: &mut dyn RngCore) -> Option<Vec<u8>> {
        match wire {
            Wire::Text(t) => apply(name, t, rng),
            Wire::Bytes(_) => None,
        }
    }

    /// A stream start over RFC 7395: the WebSocket handshake with subprotocol `xmpp`, `<open/>`,
    /// the server's `<open/>` and `<stream:features/>`, then the `<close/>` handshake.
    async fn probe(
        &self,
        target: &Target,
        connect: &ConnectOptions,
        deadline: Instant,
    ) -> Result<(), ProbeError> {
        let x = target.xmpp.as_ref().ok_or(ProbeError::NoEndpoint("XMPP"))?;
        let mut link = probe_link(x, &connect_by(connect, deadline))
            .await
            .map_err(|f| ProbeError::Connect(f.message))?;
        let started = {
            let mut io = Io {
                link: &mut link,
                deadline,
            };
            features_before_auth(&mut io, &x.domain).await
        };
        match started {
            Ok(_) => {
                close_probe_link(link, deadline).await;
                Ok(())
            }
            Err(e) => {
                link.abort();
                Err(ProbeError::Session(format!("stream start: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    async fn probe(target: &Target, deadline: std::time::Duration) -> Result<(), ProbeError> {
        let until = Instant::now() + deadline;
        XmppFuzzing
            .probe(target, &ConnectOptions::default(), until)
            .await
    }

    #[tokio::test]
    async fn the_probe_starts_a_stream_on_the_reference_target() {
        let mut target = Target::resolve(None, &Default::default()).await.unwrap();
        assert_eq!(
            probe(&target, std::time::Duration::from_secs(2)).await,
            Ok(())
        );
        // A stream to a domain the server does not serve gets no features: not a session.
        if let Some(x) = target.xmpp.as_mut() {
            x.domain = "elsewhere.example".into();
        }
        let r = probe(&target, std::time::Duration::from_secs(2)).await;
        assert!(matches!(r, Err(ProbeError::Session(_))), "{r:?}");
    }

    #[tokio::test]
    async fn the_probe_fails_against_a_server_that_says_nothing() {
        let (port, task) = crate::seam::mutate::silent_listener().await;
        let opts = crate::target::TargetOptions {
            domain: Some("localhost".into()),
            ..Default::default()
        };
        let url = format!("ws://127.0.0.1:{port}/xmpp-websocket");
        let target = Target::resolve(Some(&url), &opts).await.unwrap();
        let r = probe(&target, std::time::Duration::from_millis(300)).await;
        assert!(matches!(r, Err(ProbeError::Connect(_))), "{r:?}");
        task.abort();
    }

    #[test]
    fn rebuilds_xml_from_transcript_data() {
        let data = json!({"name": "iq", "ns": "jabber:client", "attrs": {"id": "a1", "type": "get"},
            "children": [{"name": "ping", "ns": "urn:xmpp:ping"}]});
        assert_eq!(
            data_to_xml(&data).unwrap(),
            "<iq xmlns='jabber:client' id='a1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
        );
    }

    #[test]
    fn duplicates_and_drops_an_attribute_of_the_first_tag() {
        let xml = "<iq id='a1'><ping/></iq>";
        let mut rng = StdRng::seed_from_u64(0);
        let dup = apply("attr-duplicate", xml, &mut rng).unwrap();
        assert_eq!(dup, b"<iq id='a1' id='a1'><ping/></iq>");
        let dropped = apply("attr-drop", xml, &mut rng).unwrap();
        assert_eq!(dropped, b"<iq><ping/></iq>");
    }
}
