//! Host-meta documents (RFC 6415): the `Link` relations of an XRD (XML) or JRD (JSON) body.

use quick_xml::events::Event;

/// Why a body is not a host-meta document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostMetaError {
    /// The JSON form does not parse.
    #[error("host-meta JSON: {0}")]
    Json(String),
    /// The XML form does not parse, or its root is not `<XRD/>`.
    #[error("host-meta XML: {0}")]
    Xml(String),
}

/// One `Link`: its relation and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The `rel` value.
    pub rel: String,
    /// The `href` value (empty when absent).
    pub href: String,
}

/// The links of a host-meta body: JSON when it starts with `{`, XRD otherwise.
pub fn links(body: &[u8]) -> Result<Vec<Link>, HostMetaError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| HostMetaError::Xml("the body is not UTF-8".into()))?
        .trim_start_matches('\u{feff}')
        .trim();
    if text.starts_with('{') {
        json_links(text)
    } else {
        xrd_links(text)
    }
}

fn json_links(text: &str) -> Result<Vec<Link>, HostMetaError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| HostMetaError::Json(e.to_string()))?;
    let Some(list) = v.get("links") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| HostMetaError::Json("`links` is not an array".into()))?;
    Ok(list
        .iter()
        .filter_map(|l| {
            let rel = l.get("rel")?.as_str()?;
            Some(Link {
                rel: rel.to_string(),
                href: l
                    .get("href")
                    .and_then(|h| h.as_str())
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
}

fn xrd_links(text: &str) -> Result<Vec<Link>, HostMetaError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| HostMetaError::Xml(e.to_string()))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name();
        if depth == 0 {
            if local.as_ref() != "XRD" {
                return Err(HostMetaError::Xml(format!(
                    "the root element is <{}>, not <XRD>",
                    local.as_ref()
                )));
            }
            saw_root = true;
        } else if depth == 1 && local.as_ref() == "Link" {
            let mut rel = None;
            let mut href = String::new();
            for a in e.attributes().flatten() {
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| HostMetaError::Xml(e.to_string()))?
                    .into_owned();
                match a.key.as_ref() {
                    "rel" => rel = Some(value),
                    "href" => href = value,
                    _ => {}
                }
            }
            if let Some(rel) = rel {
                out.push(Link { rel, href });
            }
        }
        if !empty {
            depth += 1;
        }
    }
    if !saw_root {
        return Err(HostMetaError::Xml("no <XRD> element".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REL: &str = "urn:xmpp:alt-connections:websocket";

    #[test]
    fn xrd_and_jrd_links() {
        let xrd = format!(
            "<?xml version='1.0'?><XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><Link rel='{REL}' href='wss://x.example/ws'/><Link rel='other'><Title>t</Title></Link></XRD>"
        );
        let got = links(xrd.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            Link {
                rel: REL.into(),
                href: "wss://x.example/ws".into()
            }
        );
        let jrd = format!(
            r#"{{"links":[{{"rel":"{REL}","href":"ws://127.0.0.1:1/ws"}},{{"href":"x"}}]}}"#
        );
        assert_eq!(
            links(jrd.as_bytes()).unwrap(),
            vec![Link {
                rel: REL.into(),
                href: "ws://127.0.0.1:1/ws".into()
            }]
        );
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(links(b"<html><body/></html>").is_err());
        assert!(links(b"{not json").is_err());
        assert!(links(b"").is_err());
        assert!(links(br#"{"links": 3}"#).is_err());
    }
}
