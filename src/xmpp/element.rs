//! The XML element model shared by framing, patterns, the login routine and the reference server.

use std::fmt;

use super::ns;

/// One XML element with its namespace resolved, as carried by one RFC 7395 frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Local name (`features` for `<stream:features>`).
    pub name: String,
    /// Prefix as written (`stream` for `<stream:features>`), `None` when unprefixed.
    pub prefix: Option<String>,
    /// Resolved namespace URI; `None` if the element is in no namespace (or its prefix was undeclared).
    pub ns: Option<String>,
    /// Attributes as written (qualified name, value), namespace declarations excluded.
    pub attrs: Vec<(String, String)>,
    /// Namespaces of the prefixes used by prefixed attributes (prefix, URI), as in scope where the
    /// element was parsed; the `xml` prefix is implicit and never listed.
    pub attr_ns: Vec<(String, String)>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
}

/// A child of an element: another element or character data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (entities resolved, CDATA sections merged in).
    Text(String),
}

impl Element {
    /// An element with a local name and no namespace.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// An unprefixed element qualified by namespace `ns`.
    pub fn with_ns(name: impl Into<String>, ns: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ns: Some(ns.into()),
            ..Self::default()
        }
    }

    /// Builder form of [`Element::set_attr`].
    pub fn attr_with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of [`Element::push_child`].
    pub fn child_with(mut self, child: Element) -> Self {
        self.push_child(child);
        self
    }

    /// Builder form of [`Element::push_text`].
    pub fn text_with(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// The name as written: `prefix:name` or `name`.
    pub fn qname(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{p}:{}", self.name),
            None => self.name.clone(),
        }
    }

    /// True if the element has local name `name` and namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.name == name && self.ns.as_deref() == Some(ns)
    }

    /// The value of attribute `name` (qualified name as written, e.g. `xml:lang`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Attribute name `qname` as (namespace URI, local name): a prefix resolves through
    /// [`Element::attr_ns`] (`xml` implicitly), no prefix means no namespace, and a prefix that
    /// cannot be resolved stays part of the name.
    pub fn attr_key<'a>(&'a self, qname: &'a str) -> (Option<&'a str>, &'a str) {
        if let Some((p, local)) = qname.split_once(':') {
            if p == "xml" {
                return (Some(ns::XML), local);
            }
            if let Some((_, uri)) = self.attr_ns.iter().find(|(q, _)| q == p) {
                return (Some(uri.as_str()), local);
            }
        }
        (None, qname)
    }

    /// The attribute with namespace `ns` and local name `local`, whatever its prefix: (qname, value).
    pub fn attr_by_key(&self, ns: Option<&str>, local: &str) -> Option<(&str, &str)> {
        self.attrs
            .iter()
            .find(|(k, _)| self.attr_key(k) == (ns, local))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Sets attribute `name`, replacing an existing value.
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name, value)),
        }
    }

    /// Removes attribute `name`, returning its value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let pos = self.attrs.iter().position(|(k, _)| k == name)?;
        Some(self.attrs.remove(pos).1)
    }

    /// Appends a child element.
    pub fn push_child(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends character data, merging it with a preceding text node.
    pub fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        if let Some(Node::Text(last)) = self.children.last_mut() {
            last.push_str(&text);
        } else {
            self.children.push(Node::Text(text));
        }
    }

    /// Child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with local name `name` qualified by namespace `ns`.
    pub fn child(&self, name: &str, ns: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(name, ns))
    }

    /// The first child element with local name `name`, whatever its namespace.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The concatenated character data directly inside this element (not in descendants).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// Serialises the element as one standalone XML fragment, declaring the namespaces it needs.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        let mut scope: Vec<(Option<String>, Option<String>)> =
            vec![(Some("xml".into()), Some(ns::XML.into())), (None, None)];
        self.write(&mut out, &mut scope);
        out
    }

    fn write(&self, out: &mut String, scope: &mut Vec<(Option<String>, Option<String>)>) {
        let mark = scope.len();
        out.push('<');
        out.push_str(&self.qname());
        let in_scope = lookup(scope, self.prefix.as_deref());
        if in_scope != self.ns.as_deref() && self.prefix.as_deref() != Some("xml") {
            match (&self.prefix, &self.ns) {
                (Some(p), Some(uri)) => {
                    push_attr(out, &format!("xmlns:{p}"), uri);
                    scope.push((Some(p.clone()), Some(uri.clone())));
                }
                (None, uri) => {
                    push_attr(out, "xmlns", uri.as_deref().unwrap_or(""));
                    scope.push((None, uri.clone()));
                }
                // A prefix without a namespace cannot be declared (XML 1.0 has no prefix undeclaring).
                (Some(_), None) => {}
            }
        }
        for (p, uri) in &self.attr_ns {
            if lookup(scope, Some(p)) != Some(uri.as_str()) {
                push_attr(out, &format!("xmlns:{p}"), uri);
                scope.push((Some(p.clone()), Some(uri.clone())));
            }
        }
        for (k, v) in &self.attrs {
            push_attr(out, k, v);
        }
        if self.children.is_empty() {
            out.push_str("/>");
        } else {
            out.push('>');
            for child in &self.children {
                match child {
                    Node::Element(e) => e.write(out, scope),
                    Node::Text(t) => escape_into(out, t, false),
                }
            }
            out.push_str("</");
            out.push_str(&self.qname());
            out.push('>');
        }
        scope.truncate(mark);
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_xml())
    }
}

fn lookup<'a>(
    scope: &'a [(Option<String>, Option<String>)],
    prefix: Option<&str>,
) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p.as_deref() == prefix)
        .and_then(|(_, uri)| uri.as_deref())
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("='");
    escape_into(out, value, true);
    out.push('\'');
}

/// Appends `text` to `out` with XML escaping (`attr` also escapes quotes and whitespace controls).
pub fn escape_into(out: &mut String, text: &str, attr: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\'' if attr => out.push_str("&apos;"),
            '"' if attr => out.push_str("&quot;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// `text` with XML escaping suitable for an attribute value or character data.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, true);
    out
}

impl Element {
    /// The element as data for transcripts: name, namespace, attributes (sorted), children.
    pub fn to_data(&self) -> serde_json::Value {
        let mut attrs: Vec<&(String, String)> = self.attrs.iter().collect();
        attrs.sort();
        let attrs: serde_json::Map<String, serde_json::Value> = attrs
            .into_iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let children: Vec<serde_json::Value> = self
            .children
            .iter()
            .map(|c| match c {
                Node::Element(e) => e.to_data(),
                Node::Text(t) => serde_json::Value::String(t.clone()),
            })
            .collect();
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.qname().into());
        if let Some(ns) = &self.ns {
            m.insert("ns".into(), ns.clone().into());
        }
        if !attrs.is_empty() {
            m.insert("attrs".into(), attrs.into());
        }
        if !children.is_empty() {
            m.insert("children".into(), children.into());
        }
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_namespaces_and_escaping() {
        let el = Element {
            name: "features".into(),
            prefix: Some("stream".into()),
            ns: Some(ns::STREAMS.into()),
            attrs: vec![],
            attr_ns: vec![],
            children: vec![Node::Element(
                Element::with_ns("mechanisms", ns::SASL)
                    .child_with(Element::with_ns("mechanism", ns::SASL).text_with("PLAIN")),
            )],
        };
        assert_eq!(
            el.to_xml(),
            "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
             <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
             </mechanisms></stream:features>"
        );
        let m = Element::with_ns("message", ns::CLIENT)
            .attr_with("to", "a'b\"<&>")
            .child_with(Element::with_ns("body", ns::CLIENT).text_with("1 < 2 & 'x'\r"));
        assert_eq!(
            m.to_xml(),
            "<message xmlns='jabber:client' to='a&apos;b&quot;&lt;&amp;&gt;'>\
             <body>1 &lt; 2 &amp; 'x'&#13;</body></message>"
        );
    }

    #[test]
    fn undeclares_default_namespace_for_unqualified_child() {
        let el = Element::with_ns("a", "urn:a").child_with(Element::new("b"));
        assert_eq!(el.to_xml(), "<a xmlns='urn:a'><b xmlns=''/></a>");
        assert_eq!(Element::new("b").to_xml(), "<b/>");
    }

    #[test]
    fn helpers() {
        let mut el = Element::new("iq").attr_with("type", "get");
        el.set_attr("type", "set");
        assert_eq!(el.attr("type"), Some("set"));
        el.push_text("a");
        el.push_text("b");
        el.push_child(Element::with_ns("ping", ns::PING));
        assert_eq!(el.text(), "ab");
        assert!(el.child("ping", ns::PING).is_some());
        assert!(el.find("ping").is_some());
        assert_eq!(el.remove_attr("type").as_deref(), Some("set"));
        assert_eq!(el.attr("type"), None);
    }
}
