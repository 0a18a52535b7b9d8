//! Expectation patterns for test cases: an element that an actual element must match (subset or exact).
//!
//! Children match as a set: each child of the pattern must match a distinct child of the actual
//! element, in any order unless [`MatchMode::ordered`] asks for the pattern's order. Elements and
//! attributes compare by namespace and local name, never by prefix. `$name` captures can make one
//! choice of children fail where another succeeds, so the search backtracks, each attempt on its
//! own copy of the bindings, within a fixed budget of comparisons.

use std::cell::Cell;

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

/// Why a match did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// The element does not match.
    #[error(transparent)]
    Differs(#[from] Mismatch),
    /// The search gave up: the pattern allows too many ways to pair children (a case problem).
    #[error(
        "the pattern is too ambiguous: no decision after {limit} element comparisons; make its children more specific"
    )]
    TooAmbiguous {
        /// The comparison budget that was used up.
        limit: usize,
    },
}

/// How strictly a pattern is compared; the default is a subset match in any child order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchMode {
    /// Extra attributes, children or text are mismatches, at every level.
    pub exact: bool,
    /// Children must appear in the pattern's relative order, at every level.
    pub ordered: bool,
}

/// Element comparisons one match may make before it gives up (far above any real stanza's need).
pub const MAX_COMPARISONS: usize = 100_000;

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
    pub fn matches(&self, actual: &Element, vars: &mut Vars) -> Result<(), MatchError> {
        self.matches_with(actual, vars, MatchMode::default())
    }

    /// Exact match: like [`Pattern::matches`], but extra attributes, children or text are mismatches.
    pub fn matches_exact(&self, actual: &Element, vars: &mut Vars) -> Result<(), MatchError> {
        let mode = MatchMode {
            exact: true,
            ordered: false,
        };
        self.matches_with(actual, vars, mode)
    }

    /// Match in `mode`; on success the captures are added to `vars`, on failure `vars` is unchanged.
    pub fn matches_with(
        &self,
        actual: &Element,
        vars: &mut Vars,
        mode: MatchMode,
    ) -> Result<(), MatchError> {
        let search = Search::new(mode);
        let mut found = None;
        let ok = search.each(&self.0, actual, vars.clone(), &mut |v| {
            found = Some(v);
            true
        });
        if let (true, Some(v)) = (ok, found) {
            *vars = v;
            return Ok(());
        }
        if search.exhausted() {
            return Err(MatchError::TooAmbiguous {
                limit: MAX_COMPARISONS,
            });
        }
        let explainer = Search::new(mode);
        Err(explainer
            .explain(&self.0, actual, vars.clone(), &self.0.name)
            .into())
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

/// True if `v` binds or compares a `$name` variable (a wildcard does neither).
fn is_capture(v: &str) -> bool {
    !is_wildcard(v) && capture_name(v).is_some()
}

/// True if matching `p` can depend on or change bindings: a capture somewhere in its subtree.
fn binds(p: &Element) -> bool {
    p.attrs.iter().any(|(_, v)| is_capture(v))
        || is_capture(p.text().trim())
        || p.elements().any(binds)
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
fn explain_value(
    m: ValueMismatch,
    what: &str,
    actual: &str,
    literal: impl FnOnce() -> String,
) -> String {
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

/// Compares one element without its children: name, namespace, attributes and text.
fn match_local(
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
        let (kns, local) = p.attr_key(k);
        match a.attr_by_key(kns, local) {
            None if is_wildcard(v) || capture_name(v).is_some() => {
                return Err(mismatch(path, format!("expected attribute {k}, missing")));
            }
            None => {
                return Err(mismatch(
                    path,
                    format!("expected attribute {k}='{v}', missing"),
                ));
            }
            Some((_, av)) => {
                match_value(v, av, vars).map_err(|m| {
                    let what = format!("attribute {k}");
                    mismatch(
                        path,
                        explain_value(m, &what, av, || {
                            format!("expected attribute {k}='{v}', got '{av}'")
                        }),
                    )
                })?;
            }
        }
    }
    if exact
        && let Some((k, v)) = a.attrs.iter().find(|(k, _)| {
            let (kns, local) = a.attr_key(k);
            p.attr_by_key(kns, local).is_none()
        })
    {
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
                explain_value(m, "text", atext, || {
                    format!("expected text '{ptext}', got '{atext}'")
                }),
            )
        })?;
    } else if exact && !atext.is_empty() {
        return Err(mismatch(path, format!("unexpected text '{atext}'")));
    }
    Ok(())
}

/// A backtracking matcher with a shared budget of element comparisons.
struct Search {
    mode: MatchMode,
    steps: Cell<usize>,
}

/// What to do with one way of matching: return true to accept it and stop the search.
type Accept<'k> = dyn FnMut(Vars) -> bool + 'k;

impl Search {
    fn new(mode: MatchMode) -> Self {
        Self {
            mode,
            steps: Cell::new(0),
        }
    }

    /// Counts one comparison; false once the budget is spent.
    fn tick(&self) -> bool {
        let n = self.steps.get();
        if n >= MAX_COMPARISONS {
            return false;
        }
        self.steps.set(n + 1);
        true
    }

    fn exhausted(&self) -> bool {
        self.steps.get() >= MAX_COMPARISONS
    }

    /// Offers `accept` each extension of `vars` under which `a` matches `p`, until it takes one.
    fn each(&self, p: &Element, a: &Element, mut vars: Vars, accept: &mut Accept<'_>) -> bool {
        if !self.tick() || match_local(p, a, &mut vars, self.mode.exact, "").is_err() {
            return false;
        }
        let pk: Vec<&Element> = p.elements().collect();
        let ak: Vec<&Element> = a.elements().collect();
        if self.mode.exact && pk.len() != ak.len() {
            return false;
        }
        let mut order: Vec<usize> = (0..pk.len()).collect();
        if pk.iter().any(|c| binds(c)) {
            // Bindings only grow, so a pair that fails now fails on every path: if even these
            // pairs admit no assignment, there is nothing to search.
            let free = vec![false; ak.len()];
            if !self.assignable(&pk, &order, &ak, 0, &free, &vars) {
                return false;
            }
            if !self.mode.ordered {
                // Children that capture go first; the rest are then a plain assignment problem.
                order.sort_by_key(|&i| !binds(pk[i]));
            }
        }
        let mut used = vec![false; ak.len()];
        self.children(&pk, &order, &ak, 0, 0, &mut used, vars, accept)
    }

    /// True if `a` matches `p` under `vars` in some way (bindings discarded).
    fn fits(&self, p: &Element, a: &Element, vars: &Vars) -> bool {
        self.each(p, a, vars.clone(), &mut |_| true)
    }

    /// Matches pattern children `order[i..]` to unused actual children (from `from` on when ordered).
    #[allow(clippy::too_many_arguments)]
    fn children(
        &self,
        pk: &[&Element],
        order: &[usize],
        ak: &[&Element],
        i: usize,
        from: usize,
        used: &mut [bool],
        vars: Vars,
        accept: &mut Accept<'_>,
    ) -> bool {
        if i == order.len() {
            return accept(vars);
        }
        if order[i..].iter().all(|&x| !binds(pk[x])) {
            // Without captures the rest neither depends on nor changes the bindings.
            return self.assignable(pk, &order[i..], ak, from, used, &vars) && accept(vars);
        }
        let pc = pk[order[i]];
        let start = if self.mode.ordered { from } else { 0 };
        for j in start..ak.len() {
            if used[j] {
                continue;
            }
            used[j] = true;
            let mut hit = false;
            let found = self.each(pc, ak[j], vars.clone(), &mut |v| {
                hit = true;
                self.children(pk, order, ak, i + 1, j + 1, used, v, accept)
            });
            used[j] = false;
            if found {
                return true;
            }
            // In order, a child without captures is best placed at its first fit: later places
            // leave less room and bind nothing more.
            if self.exhausted() || (hit && !binds(pc)) {
                return false;
            }
        }
        false
    }

    /// True if pattern children `rest` can each take a distinct actual child that is not `used`
    /// (in order and from `from` on when ordered), each judged under `vars` alone.
    fn assignable(
        &self,
        pk: &[&Element],
        rest: &[usize],
        ak: &[&Element],
        from: usize,
        used: &[bool],
        vars: &Vars,
    ) -> bool {
        if self.mode.ordered {
            let mut next = from;
            for &x in rest {
                match (next..ak.len()).find(|&j| !used[j] && self.fits(pk[x], ak[j], vars)) {
                    Some(j) => next = j + 1,
                    None => return false,
                }
            }
            return true;
        }
        let fit: Vec<Vec<usize>> = rest
            .iter()
            .map(|&x| {
                (0..ak.len())
                    .filter(|&j| !used[j] && self.fits(pk[x], ak[j], vars))
                    .collect()
            })
            .collect();
        // Kuhn's augmenting paths: owner[j] is the pattern child holding actual child j.
        let mut owner: Vec<Option<usize>> = vec![None; ak.len()];
        (0..rest.len()).all(|x| {
            let mut seen = vec![false; ak.len()];
            augment(x, &fit, &mut owner, &mut seen)
        })
    }

    /// Why `a` does not match `p`: pairs children the first way that fits and names the first
    /// pattern child left without a partner (only called once the search has failed).
    fn explain(&self, p: &Element, a: &Element, mut vars: Vars, path: &str) -> Mismatch {
        if let Err(m) = match_local(p, a, &mut vars, self.mode.exact, path) {
            return m;
        }
        let pk: Vec<&Element> = p.elements().collect();
        let ak: Vec<&Element> = a.elements().collect();
        if self.mode.exact && pk.len() != ak.len() {
            return mismatch(
                path,
                format!(
                    "expected {} child element(s) [{}], got {} [{}]",
                    pk.len(),
                    names(&pk),
                    ak.len(),
                    names(&ak)
                ),
            );
        }
        let mut used = vec![false; ak.len()];
        let mut next = 0;
        for pc in &pk {
            let child_path = format!("{path}/{}", pc.name);
            let allowed = |j: usize, used: &[bool]| !used[j] && (!self.mode.ordered || j >= next);
            let mut taken = None;
            for j in (0..ak.len()).filter(|&j| allowed(j, &used)) {
                let mut got = None;
                if self.each(pc, ak[j], vars.clone(), &mut |v| {
                    got = Some(v);
                    true
                }) {
                    taken = got.map(|v| (j, v));
                    break;
                }
            }
            if let Some((j, v)) = taken {
                used[j] = true;
                next = j + 1;
                vars = v;
                continue;
            }
            // The first free child of the same name is most likely the intended one.
            if let Some(j) = (0..ak.len()).find(|&j| allowed(j, &used) && ak[j].name == pc.name) {
                return self.explain(pc, ak[j], vars, &child_path);
            }
            let same_name = ak.iter().any(|ac| ac.name == pc.name);
            let hint = if !same_name {
                ""
            } else if self.mode.ordered {
                " (one appears earlier, out of order)"
            } else {
                " (each one present already matches another child of the pattern)"
            };
            return mismatch(
                path,
                format!(
                    "expected child <{}>{hint}, children are [{}]",
                    pc.qname(),
                    names(&ak)
                ),
            );
        }
        mismatch(
            path,
            format!(
                "no pairing of the pattern's children [{}] with distinct children [{}] matches",
                names(&pk),
                names(&ak)
            ),
        )
    }
}

/// One augmenting-path step of bipartite matching for pattern child `x`.
fn augment(x: usize, fit: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &fit[x] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if owner[j].is_none_or(|y| augment(y, fit, owner, seen)) {
            owner[j] = Some(x);
            return true;
        }
    }
    false
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

    /// The mismatch of a match that must fail because the element differs.
    fn differs(r: Result<(), MatchError>) -> Mismatch {
        match r {
            Err(MatchError::Differs(m)) => m,
            other => panic!("expected a mismatch, got {other:?}"),
        }
    }

    const ORDERED: MatchMode = MatchMode {
        exact: false,
        ordered: true,
    };

    #[test]
    fn subset_match_with_capture() {
        let p = Pattern::parse("<presence from='$from'/>").unwrap();
        let a = actual("<presence from='bob@localhost/b1' xml:lang='en' xmlns='jabber:client'/>");
        let mut vars = Vars::new();
        p.matches(&a, &mut vars).unwrap();
        assert_eq!(vars.get("from"), Some(&json!("bob@localhost/b1")));
        p.matches(&a, &mut vars).unwrap();
        let other = actual("<presence from='alice@localhost/a1' xmlns='jabber:client'/>");
        let m = differs(p.matches(&other, &mut vars));
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
        let m = differs(p.matches(&wrong_type, &mut Vars::new()));
        assert_eq!(m.path, "iq");
        assert_eq!(m.message, "expected attribute type='error', got 'result'");
        let wrong_cond = actual(
            "<iq xmlns='jabber:client' type='error' id='q1'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        );
        let m = differs(p.matches(&wrong_cond, &mut Vars::new()));
        assert_eq!(m.path, "iq/error");
        assert!(
            m.message.contains("expected child <service-unavailable>"),
            "{m}"
        );
        let wrong_ns = actual(
            "<iq type='error' id='q1'><error type='cancel'><service-unavailable xmlns='urn:other'/></error></iq>",
        );
        let m = differs(p.matches(&wrong_ns, &mut Vars::new()));
        assert_eq!(m.path, "iq/error/service-unavailable");
    }

    #[test]
    fn reordered_children_match() {
        // What ejabberd reflects for <show/><status/><priority/>.
        let p = Pattern::parse(
            "<presence><show>away</show><status>wirecheck update</status><priority>3</priority></presence>",
        )
        .unwrap();
        let a = actual(
            "<presence xmlns='jabber:client'><priority>3</priority><show>away</show><status>wirecheck update</status></presence>",
        );
        p.matches(&a, &mut Vars::new()).unwrap();
        p.matches_exact(&a, &mut Vars::new()).unwrap();
        // An unknown extension placed before <body/>, and free extra children around it.
        let m = Pattern::parse(
            "<message><body>x</body><data xmlns='urn:e'><i n='1'/></data></message>",
        )
        .unwrap();
        let a = actual(
            "<message xmlns='jabber:client'><data xmlns='urn:e'><i n='1'/></data><x xmlns='urn:y'/><body>x</body></message>",
        );
        m.matches(&a, &mut Vars::new()).unwrap();
        let m = differs(m.matches_exact(&a, &mut Vars::new()));
        assert!(m.message.starts_with("expected 2 child element(s)"), "{m}");
    }

    #[test]
    fn missing_child_is_named() {
        let p =
            Pattern::parse("<presence><show>away</show><status/><priority>3</priority></presence>")
                .unwrap();
        let a = actual("<presence><priority>3</priority><show>away</show></presence>");
        let m = differs(p.matches(&a, &mut Vars::new()));
        assert_eq!(m.path, "presence");
        assert_eq!(
            m.message,
            "expected child <status>, children are [<priority>, <show>]"
        );
        // A child that is there but differs is explained inside it.
        let a = actual("<presence><status/><priority>3</priority><show>chat</show></presence>");
        let m = differs(p.matches(&a, &mut Vars::new()));
        assert_eq!(m.path, "presence/show");
        assert_eq!(m.message, "expected text 'away', got 'chat'");
    }

    #[test]
    fn duplicate_pattern_children_need_distinct_matches() {
        let twice = Pattern::parse("<m><a/><a/></m>").unwrap();
        let m = differs(twice.matches(&actual("<m><a/><b/></m>"), &mut Vars::new()));
        assert_eq!(m.path, "m");
        assert!(
            m.message.starts_with(
                "expected child <a> (each one present already matches another child of the pattern)"
            ),
            "{m}"
        );
        twice
            .matches(&actual("<m><b/><a/><a/></m>"), &mut Vars::new())
            .unwrap();
        // The general child must not take the only child the specific one fits.
        let p = Pattern::parse("<m><a/><a k='1'/></m>").unwrap();
        p.matches(&actual("<m><a k='1'/><a/></m>"), &mut Vars::new())
            .unwrap();
        differs(p.matches(&actual("<m><a k='1'/><b/></m>"), &mut Vars::new()));
    }

    #[test]
    fn ordered_rejects_reordered_children() {
        let p = Pattern::parse("<m><a/><b/></m>").unwrap();
        let reordered = actual("<m><b/><a/></m>");
        p.matches(&reordered, &mut Vars::new()).unwrap();
        let m = differs(p.matches_with(&reordered, &mut Vars::new(), ORDERED));
        assert_eq!(m.path, "m");
        assert!(m.message.contains("out of order"), "{m}");
        p.matches_with(&actual("<m><a/><x/><b/></m>"), &mut Vars::new(), ORDERED)
            .unwrap();
        // Ordered and exact: the same children in the same order.
        let both = MatchMode {
            exact: true,
            ordered: true,
        };
        p.matches_with(&actual("<m><a/><b/></m>"), &mut Vars::new(), both)
            .unwrap();
        differs(p.matches_with(&reordered, &mut Vars::new(), both));
        // Order applies at every level.
        let deep = Pattern::parse("<r><m><a/><b/></m></r>").unwrap();
        let m = differs(deep.matches_with(
            &actual("<r><m><b/><a/></m></r>"),
            &mut Vars::new(),
            ORDERED,
        ));
        assert_eq!(m.path, "r/m");
    }

    #[test]
    fn backtracks_over_captures_without_leaking_bindings() {
        // The first <i> fits alone, but binds $v to a value no <j> has: the search must undo it.
        let p = Pattern::parse("<m><i v='$v'/><j v='$v'/></m>").unwrap();
        let a = actual("<m><i v='1'/><i v='2'/><j v='2'/></m>");
        let mut vars = Vars::new();
        p.matches(&a, &mut vars).unwrap();
        assert_eq!(vars.get("v"), Some(&json!("2")));
        let mut vars = Vars::new();
        p.matches_with(&a, &mut vars, ORDERED).unwrap();
        assert_eq!(vars.get("v"), Some(&json!("2")));
        // A capture inside a child's own children is undone too.
        let nested = Pattern::parse("<m><x><i v='$v'/></x><j v='$v'/></m>").unwrap();
        let a = actual("<m><j v='2'/><x><i v='1'/><i v='2'/></x></m>");
        let mut vars = Vars::new();
        nested.matches(&a, &mut vars).unwrap();
        assert_eq!(vars.get("v"), Some(&json!("2")));
        // On failure nothing is bound, not even by attempts that got far.
        let a = actual("<m><i v='1'/><j v='2'/></m>");
        let mut vars = Vars::new();
        let m = differs(p.matches(&a, &mut vars));
        assert_eq!(m.path, "m/j");
        assert_eq!(
            m.message,
            "attribute v is '2', but $v was bound earlier to '1'"
        );
        assert_eq!(vars.get("v"), None);
        // A binding made before the match constrains it.
        let mut vars = Vars::new();
        vars.set("v", "1");
        differs(p.matches(&actual("<m><i v='2'/><j v='2'/></m>"), &mut vars));
        assert_eq!(vars.get("v"), Some(&json!("1")));
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
    fn ambiguity_is_bounded() {
        // 12 capturing children against 11 candidates: no assignment exists, and the search must
        // say so (or give up as a case problem) instead of trying 11! pairings.
        let p = format!("<m>{}</m>", "<a v='$v'/>".repeat(12));
        let p = Pattern::parse(&p).unwrap();
        let a = actual(&format!("<m>{}</m>", "<a v='1'/>".repeat(11)));
        let started = std::time::Instant::now();
        let r = p.matches(&a, &mut Vars::new());
        assert!(r.is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Distinct values make only one pairing work, found without giving up.
        let p = Pattern::parse(&format!(
            "<m>{}</m>",
            (0..8)
                .map(|i| format!("<a v='$v{i}' k='{i}'/>"))
                .collect::<String>()
        ))
        .unwrap();
        let a = actual(&format!(
            "<m>{}</m>",
            (0..8)
                .rev()
                .map(|i| format!("<a v='{i}' k='{i}'/>"))
                .collect::<String>()
        ));
        let mut vars = Vars::new();
        p.matches(&a, &mut vars).unwrap();
        assert_eq!(vars.get("v3"), Some(&json!("3")));
    }

    #[test]
    fn prefixes_never_matter() {
        let p = Pattern::parse("<stream:features><m:mechanisms xmlns:m='urn:ietf:params:xml:ns:xmpp-sasl'><m:mechanism>PLAIN</m:mechanism></m:mechanisms></stream:features>").unwrap();
        p.matches(
            &actual("<features xmlns='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></features>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = differs(p.matches(
            &actual("<s:features xmlns:s='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:other'/></s:features>"),
            &mut Vars::new(),
        ));
        assert_eq!(m.path, "features/mechanisms");
        // Attributes compare by namespace and local name too; exact matching does the same.
        let p = Pattern::parse("<x xmlns:a='urn:attr' a:k='1' xml:lang='en'/>").unwrap();
        let same = actual("<x xmlns:b='urn:attr' b:k='1' xml:lang='en'/>");
        p.matches(&same, &mut Vars::new()).unwrap();
        p.matches_exact(&same, &mut Vars::new()).unwrap();
        let other_ns = actual("<x xmlns:a='urn:else' a:k='1' xml:lang='en'/>");
        let m = differs(p.matches(&other_ns, &mut Vars::new()));
        assert_eq!(m.message, "expected attribute a:k='1', missing");
        let m = differs(p.matches(&actual("<x k='1' xml:lang='en'/>"), &mut Vars::new()));
        assert_eq!(m.message, "expected attribute a:k='1', missing");
    }

    #[test]
    fn text_wildcards_and_namespaces() {
        let p = Pattern::parse("<message><body>hello bob</body></message>").unwrap();
        p.matches(
            &actual("<message xmlns='jabber:client'><body> hello bob </body></message>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = differs(p.matches(
            &actual("<message xmlns='jabber:client'><body>bye</body></message>"),
            &mut Vars::new(),
        ));
        assert_eq!(m.path, "message/body");
        assert_eq!(m.message, "expected text 'hello bob', got 'bye'");
        let any = Pattern::parse("<open id='$_' from='*'/>").unwrap();
        any.matches(
            &actual("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='x' from='y'/>"),
            &mut Vars::new(),
        )
        .unwrap();
        let m = differs(any.matches(&actual("<open id='x'/>"), &mut Vars::new()));
        assert_eq!(m.message, "expected attribute from, missing");
        let q = Pattern::parse("<iq xmlns='jabber:client'/>").unwrap();
        differs(q.matches(&actual("<iq xmlns='jabber:server'/>"), &mut Vars::new()));
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
        let m = differs(p.matches_exact(
            &actual("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='x'/>"),
            &mut Vars::new(),
        ));
        assert_eq!(m.message, "unexpected attribute see-other-uri='x'");
        let q = Pattern::parse("<iq type='result'><a/></iq>").unwrap();
        let m =
            differs(q.matches_exact(&actual("<iq type='result'><a/><b/></iq>"), &mut Vars::new()));
        assert!(m.message.starts_with("expected 1 child element(s)"), "{m}");
        let t = Pattern::parse("<body/>").unwrap();
        differs(t.matches_exact(&actual("<body>x</body>"), &mut Vars::new()));
        // Exact: the same set of children, in any order unless ordered.
        let set = Pattern::parse("<m><a/><b/></m>").unwrap();
        set.matches_exact(&actual("<m><b/><a/></m>"), &mut Vars::new())
            .unwrap();
        let m = differs(set.matches_exact(&actual("<m><b/><c/></m>"), &mut Vars::new()));
        assert_eq!(m.message, "expected child <a>, children are [<b>, <c>]");
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
