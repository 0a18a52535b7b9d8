//! Expectation patterns for test cases: an element that an actual element must match (subset or exact).

use serde_json::Value;

use super::element::Element;
use super::framing::{FramingError, parse_with};
use super::ns;
use crate::vars::{Capture, Vars, capture_name};

/// An expected element written by a case author, e.g. `<presence from='$from'/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Element);

/// Why an actual element does not match a pattern: where, and what differed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {path}: {message}")]
pub struct Mismatch {
    /// Slash-separated local names from the pattern root to the mismatching element (`iq/error`).
    pub path: String,
    /// What was expected and what arrived.
    pub message: String,
}

impl Pattern {
    /// Parses a pattern; the `stream` prefix is predeclared, and it must be exactly one element.
    pub fn parse(text: &str) -> Result<Pattern, FramingError> {
        let framed = parse_with(text.trim(), &[("stream", ns::STREAMS)])?;
        if !framed.extra.is_empty() {
            return Err(FramingError::NotSingle(format!(
                "{} top-level elements",
                framed.extra.len() + 1
            )));
        }
        if let Some(v) = framed
            .violations
            .iter()
            .find(|v| v.spec == "RFC7395-3.3.3-1")
        {
            return Err(FramingError::NotSingle(v.detail.clone()));
        }
        Ok(Pattern(framed.element))
    }

    /// A pattern made from an element as it is.
    pub fn from_element(el: Element) -> Pattern {
        Pattern(el)
    }

    /// The pattern's element.
    pub fn element(&self) -> &Element {
        &self.0
    }

    /// Subset match: listed attributes and children must match, others are free; `$name` captures.
    pub fn matches(&self, actual: &Element, vars: &mut Vars) -> Result<(), Mismatch> {
        match_element(&self.0, actual, vars, false, &self.0.name)
    }

    /// Exact match: like [`Pattern::matches`], but extra attributes, children or text are mismatches.
    pub fn matches_exact(&self, actual: &Element, vars: &mut Vars) -> Result<(), Mismatch> {
        match_element(&self.0, actual, vars, true, &self.0.name)
    }
}

impl std::str::FromStr for Pattern {
    type Err = FramingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pattern::parse(s)
    }
}

fn mismatch(path: &str, message: impl Into<String>) -> Mismatch {
    Mismatch {
        path: path.to_string(),
        message: message.into(),
    }
}

fn is_wildcard(v: &str) -> bool {
    v == "$_" || v == "*"
}

/// How a value differed from its pattern value.
enum ValueMismatch {
    /// A literal that differs.
    Literal,
    /// A `$name` bound earlier to this other value.
    Captured(String, Value),
}

/// Compares `actual` with a pattern value: literal, wildcard or `$name` capture.
fn match_value(expected: &str, actual: &str, vars: &mut Vars) -> Result<(), ValueMismatch> {
    if is_wildcard(expected) {
        return Ok(());
    }
    if let Some(name) = capture_name(expected) {
        return match vars.capture(name, &Value::String(actual.to_string())) {
            Capture::Bound | Capture::Equal => Ok(()),
            Capture::Differs(prev) => Err(ValueMismatch::Captured(name.to_string(), prev)),
        };
    }
    if expected == actual {
        Ok(())
    } else {
        Err(ValueMismatch::Literal)
    }
}

/// The message for a value mismatch: `literal` formats the expected/actual pair.
fn explain(m: ValueMismatch, what: &str, actual: &str, literal: impl FnOnce() -> String) -> String {
    match m {
        ValueMismatch::Literal => literal(),
        ValueMismatch::Captured(name, prev) => format!(
            "{what} is '{actual}', but ${name} was bound earlier to {}",
            show_value(&prev)
        ),
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn match_element(
    p: &Element,
    a: &Element,
    vars: &mut Vars,
    exact: bool,
    path: &str,
) -> Result<(), Mismatch> {
    if p.name != a.name {
        return Err(mismatch(
            path,
            format!("expected <{}>, got <{}>", p.qname(), a.qname()),
        ));
    }
    if let Some(pns) = &p.ns
        && a.ns.as_deref() != Some(pns.as_str())
    {
        return Err(mismatch(
            path,
            format!(
                "expected <{}> in namespace '{pns}', got namespace {}",
                p.name,
                a.ns.as_deref()
                    .map_or("(none)".to_string(), |n| format!("'{n}'"))
            ),
        ));
    }
    for (k, v) in &p.attrs {
        match a.attr(k) {
            None if is_wildcard(v) || capture_name(v).is_some() => {
                return Err(mismatch(path, format!("expected attribute {k}, missing")));
            }
            None => {
                return Err(mismatch(
                    path,
                    format!("expected attribute {k}='{v}', missing"),
                ));
            }
            Some(av) => {
                match_value(v, av, vars).map_err(|m| {
                    let what = format!("attribute {k}");
                    mismatch(
                        path,
                        explain(m, &what, av, || {
                            format!("expected attribute {k}='{v}', got '{av}'")
                        }),
                    )
                })?;
            }
        }
    }
    if exact && let Some((k, v)) = a.attrs.iter().find(|(k, _)| p.attr(k).is_none()) {
        return Err(mismatch(path, format!("unexpected attribute {k}='{v}'")));
    }
    let ptext = p.text();
    let ptext = ptext.trim();
    let atext = a.text();
    let atext = atext.trim();
    if !ptext.is_empty() {
        match_value(ptext, atext, vars).map_err(|m| {
            mismatch(
                path,
                explain(m, "text", atext, || {
                    format!("expected text '{ptext}', got '{atext}'")
                }),
            )
        })?;
    } else if exact && !atext.is_empty() {
        return Err(mismatch(path, format!("unexpected text '{atext}'")));
    }
    let pkids: Vec<&Element> = p.elements().collect();
    let akids: Vec<&Element> = a.elements().collect();
    if exact {
        if pkids.len() != akids.len() {
            return Err(mismatch(
                path,
                format!(
                    "expected {} child element(s) [{}], got {} [{}]",
                    pkids.len(),
                    names(&pkids),
                    akids.len(),
                    names(&akids)
                ),
            ));
        }
        for (pc, ac) in pkids.iter().zip(&akids) {
            match_element(pc, ac, vars, true, &format!("{path}/{}", pc.name))?;
        }
        return Ok(());
    }
    let mut next = 0;
    for pc in &pkids {
        let child_path = format!("{path}/{}", pc.name);
        let mut found = None;
        for (j, ac) in akids.iter().enumerate().skip(next) {
            let mut trial = vars.clone();
            if match_element(pc, ac, &mut trial, false, &child_path).is_ok() {
                *vars = trial;
                found = Some(j);
                break;
            }
        }
        match found {
            Some(j) => next = j + 1,
            None => {
                // Explain with the first same-named candidate, which is most likely the intended one.
                let candidate = akids[next.min(akids.len())..]
                    .iter()
                    .find(|ac| ac.name == pc.name);
                if let Some(ac) = candidate {
                    let mut scratch = vars.clone();
                    match_element(pc, ac, &mut scratch, false, &child_path)?;
                }
                let earlier = akids[..next.min(akids.len())]
                    .iter()
                    .any(|ac| ac.name == pc.name);
                let hint = if earlier {
                    " (one appears earlier, out of order)"
                } else {
                    ""
                };
                return Err(mismatch(
                    path,
                    format!(
                        "expected child <{}>{hint}, children are [{}]",
                        pc.qname(),
                        names(&akids)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn names(els: &[&Element]) -> String {
    els.iter()
        .map(|e| format!("<{}>", e.qname()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xmpp::framing::parse_message;
    use serde_json::json;

    fn actual(s: &str) -> Element {
        parse_message(s).unwrap().element
    }

    #[test]
    fn subset_match_with_capture() {
        let p = Pattern::parse("<presence from='$from'/>").unwrap();
        let a = actual("<presence from='bob@localhost/b1' xml:lang='en' xmlns='jabber:client'/>");
        let mut vars = Vars::new();
        p.matches(&a, &mut vars).unwrap();
        assert_eq!(vars.get("from"), Some(&json!("bob@localhost/b1")));
        p.matches(&a, &mut vars).unwrap();
        let other = actual("<presence from='alice@localhost/a1' xmlns='jabber:client'/>");
        let m = p.matches(&other, &mut vars).unwrap_err();
        assert_eq!(m.path, "presence");
        assert!(
            m.message
                .contains("$from was bound earlier to 'bob@localhost/b1'"),
            "{m}"
        );
    }

    #[test]
    fn stanza_error_pattern() {
        let p = Pattern::parse("<iq type='error' id='q1'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>").unwrap();
        let good = actual(
            "<iq xmlns='jabber:client' type='error' id='q1' from='localhost'><query xmlns='urn:x'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        );
        p.matches(&good, &mut Vars::new()).unwrap();
        let wrong_type = actual("<iq xmlns='jabber:client' type='result' id='q1'/>");
        let m = p.matches(&wrong_type, &mut Vars::new()).unwrap_err();
        assert_eq!(m.path, "iq");
        assert_eq!(m.message, "expected attribute type='error', got 'result'");
        let wrong_cond = actual(
            "<iq xmlns='jabber:client' type='error' id='q1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        );
        let m = p.matches(&wrong_cond, &mut Vars::new()).unwrap_err();
        assert_eq!(m.path, "iq/error");
        assert!(
            m.message.contains("expected child <service-unavailable>"),
            "{m}"
        );
        let wrong_ns = actual(
            "<iq type='error' id='q1'><error type='cancel'><service-unavailable xmlns='urn:other'/></error></iq>",
        );
        let m = p.matches(&wrong_ns, &mut Vars::new()).unwrap_err();
        assert_eq!(m.path, "iq/error/service-unavailable");
    }

    #[test]
    fn children_in_order_and_distinct() {
        let p = Pattern::parse("<m><a/><b/></m>").unwrap();
        p.matches(&actual("<m><a/><x/><b/></m>"), &mut Vars::new())
            .unwrap();
        let m = p
            .matches(&actual("<m><b/><a/></m>"), &mut Vars::new())
            .unwrap_err();
        assert!(m.message.contains("out of order"), "{m}");
        let twice = Pattern::parse("<m><a/><a/></m>").unwrap();
        assert!(
            twice
                .matches(&actual("<m><a/></m>"), &mut Vars::new())
                .is_err()
        );
        twice
            .matches(&actual("<m><a/><a/></m>"), &mut Vars::new())
            .unwrap();
    }

    #[test]
    fn capture_in_failed_trial_is_rolled_back() {
        let p = Pattern::parse("<m><i v='$v' k='2'/></m>").unwrap();
        let mut vars = Vars::new();
        p.matches(
            &actual("<m><i v='first' k='1'/><i v='second' k='2'/></m>"),
            &mut vars,
        )
        .unwrap();
        assert_eq!(vars.get("v"), Some(&json!("second")));
    }

    #[test]
    fn text_wildcards_and_namespaces() {
        let p = Pattern::parse("<message><body>hello bob</body></message>").unwrap();
        p.matches(
            &actual("<message xmlns='jabber:client'><body> hello bob </body></message>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = p
            .matches(
                &actual("<message xmlns='jabber:client'><body>bye</body></message>"),
                &mut Vars::new(),
            )
            .unwrap_err();
        assert_eq!(m.path, "message/body");
        assert_eq!(m.message, "expected text 'hello bob', got 'bye'");
        let any = Pattern::parse("<open id='$_' from='*'/>").unwrap();
        any.matches(
            &actual("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='x' from='y'/>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = any
            .matches(&actual("<open id='x'/>"), &mut Vars::new())
            .unwrap_err();
        assert_eq!(m.message, "expected attribute from, missing");
        let q = Pattern::parse("<iq xmlns='jabber:client'/>").unwrap();
        assert!(
            q.matches(&actual("<iq xmlns='jabber:server'/>"), &mut Vars::new())
                .is_err()
        );
        let jid = Pattern::parse(
            "<iq><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>$jid</jid></bind></iq>",
        )
        .unwrap();
        let mut vars = Vars::new();
        jid.matches(&actual("<iq xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>a@b/c</jid></bind></iq>"), &mut vars).unwrap();
        assert_eq!(vars.get("jid"), Some(&json!("a@b/c")));
        let s = Pattern::parse("<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>").unwrap();
        s.matches(&actual("<error xmlns='http://etherx.jabber.org/streams'><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></error>"), &mut Vars::new()).unwrap();
    }

    #[test]
    fn exact_match() {
        let p = Pattern::parse("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>").unwrap();
        p.matches_exact(
            &actual("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = p
            .matches_exact(
                &actual("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='x'/>"),
                &mut Vars::new(),
            )
            .unwrap_err();
        assert_eq!(m.message, "unexpected attribute see-other-uri='x'");
        let q = Pattern::parse("<iq type='result'><a/></iq>").unwrap();
        let m = q
            .matches_exact(&actual("<iq type='result'><a/><b/></iq>"), &mut Vars::new())
            .unwrap_err();
        assert!(m.message.starts_with("expected 1 child element(s)"), "{m}");
        let t = Pattern::parse("<body/>").unwrap();
        assert!(
            t.matches_exact(&actual("<body>x</body>"), &mut Vars::new())
                .is_err()
        );
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(matches!(
            Pattern::parse("<a/><b/>"),
            Err(FramingError::NotSingle(_))
        ));
        assert!(matches!(
            Pattern::parse("<a/>junk"),
            Err(FramingError::NotSingle(_))
        ));
        assert!(Pattern::parse("<a>").is_err());
        assert!(Pattern::parse("  <a/>\n").is_ok());
    }
}
