//! The one place the YAML parser is called, and the located tree every loader walks.
//!
//! [`parse_yaml`] wraps `serde-saphyr` (no `unsafe`, rejects duplicate keys,
//! reports locations). It turns a document into a [`Node`] tree in which every
//! value carries its line and column. The loaders (policies, deployment
//! configuration, roster) walk that tree with [`Reader`], which collects every
//! problem instead of stopping at the first, so a user sees all mistakes of a
//! file at once.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::Diagnostic;
use crate::model::SourceLocation;

/// A YAML value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A YAML value. Scalars keep the type the parser inferred.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What the value is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// A scalar as text (`Str` as is, numbers and booleans printed); `None` for
    /// null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            value: spanned.value,
            line: usize::try_from(spanned.referenced.line()).unwrap_or(usize::MAX),
            column: usize::try_from(spanned.referenced.column()).unwrap_or(usize::MAX),
        })
    }
}

impl Node {
    /// Where the node is, in `file`.
    pub fn location(&self, file: &str) -> SourceLocation {
        SourceLocation {
            file: file.to_owned(),
            line: self.line.max(1),
            column: self.column.max(1),
        }
    }
}

/// Parses one YAML document into a located tree, within serde-saphyr's default
/// budget (about 250,000 nodes): the right limits for hand-written files such as
/// policies and the deployment configuration.
///
/// Syntax errors, tabs used for indentation, duplicate keys and nesting bombs are
/// reported as one [`Diagnostic`] naming `file:line:column`; the parser never panics
/// on input. An empty document is `Value::Null` at 1:1.
pub fn parse_yaml(file: &str, text: &str) -> Result<Node, Diagnostic> {
    parse_yaml_within(file, text, None)
}

/// Parses one YAML data document that may be large (an HR roster of 100,000 people
/// is several million nodes): the node, event and scalar budgets grow with the size
/// of the text, so they can never be breached by plain content, while the limits on
/// alias replay (the alias-bomb guard) and on nesting depth stay those of
/// [`parse_yaml`].
pub fn parse_large_yaml(file: &str, text: &str) -> Result<Node, Diagnostic> {
    let defaults = serde_saphyr::Budget::default();
    // Without aliases every node, event and scalar byte is backed by at least one
    // byte of input (an event by at most two: a collection's start and end).
    let budget = serde_saphyr::budget! {
        max_nodes: defaults.max_nodes.max(text.len()),
        max_events: defaults.max_events.max(text.len().saturating_mul(2)),
        max_total_scalar_bytes: defaults.max_total_scalar_bytes.max(text.len()),
    };
    parse_yaml_within(file, text, budget)
}

/// The one call to the YAML parser. `budget`: `None` keeps the parser's default.
fn parse_yaml_within(
    file: &str,
    text: &str,
    budget: Option<serde_saphyr::Budget>,
) -> Result<Node, Diagnostic> {
    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            line: 1,
            column: 1,
        });
    }
    // YAML 1.2 booleans only: `on`, `yes`, `no` stay strings (the Norway problem;
    // `on:` is a field name here). `007` stays a string, as HR ids are written.
    // Anchors may be reused, but a hand-written file never replays 100k events:
    // refuse alias bombs early.
    let mut alias_limits = serde_saphyr::options::AliasLimits::default();
    alias_limits.max_total_replayed_events = 100_000;
    let mut options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        alias_limits: alias_limits,
    };
    if budget.is_some() {
        options.budget = budget;
    }
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| {
            (
                usize::try_from(l.line()).unwrap_or(1).max(1),
                usize::try_from(l.column()).unwrap_or(1).max(1),
            )
        });
        Diagnostic {
            location: SourceLocation {
                file: file.to_owned(),
                line,
                column,
            },
            field: String::new(),
            message: format!("invalid YAML: {}", parser_message(&e)),
        }
    })
}

/// The parser's message without its own location suffix and source snippet (the
/// diagnostic carries the location).
fn parser_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("").trim();
    // The parser appends " at line L, column C"; the diagnostic already has it.
    match first.rfind(" at line ") {
        Some(i) if first[i..].contains("column") => first[..i].to_owned(),
        _ => first.to_owned(),
    }
}

/// Walks a [`Node`] tree for one file, collecting every problem.
#[derive(Debug)]
pub struct Reader {
    file: String,
    diagnostics: Vec<Diagnostic>,
}

impl Reader {
    /// A reader for `file` (the name used in every diagnostic).
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            diagnostics: Vec::new(),
        }
    }

    /// The file name.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Records a problem at `node`.
    pub fn error(&mut self, node: &Node, field: &str, message: impl Into<String>) {
        let location = node.location(&self.file);
        self.diagnostics.push(Diagnostic {
            location,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Records a problem at an explicit location.
    pub fn error_at(&mut self, location: SourceLocation, field: &str, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            location,
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// The problems found so far.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// True when no problem was found so far.
    pub fn is_clean(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// A mapping's fields, or a problem when `node` is not a mapping.
    pub fn fields<'a>(&mut self, node: &'a Node, field: &str) -> Option<Fields<'a>> {
        match &node.value {
            Value::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    match k.value.scalar_text() {
                        Some(name) => out.push((name, k, v)),
                        None => self.error(
                            k,
                            field,
                            format!("expected a field name, found {}", k.value.describe()),
                        ),
                    }
                }
                let used = vec![false; out.len()];
                Some(Fields {
                    node,
                    path: field.to_owned(),
                    entries: out,
                    used,
                })
            }
            other => {
                self.error(
                    node,
                    field,
                    format!("expected a mapping, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A list's items, or a problem when `node` is not a list.
    pub fn items<'a>(&mut self, node: &'a Node, field: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            other => {
                self.error(
                    node,
                    field,
                    format!("expected a list, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A scalar as text (numbers and booleans are printed), or a problem.
    pub fn text(&mut self, node: &Node, field: &str) -> Option<String> {
        match node.value.scalar_text() {
            Some(s) => Some(s),
            None => {
                self.error(
                    node,
                    field,
                    format!("expected a string, found {}", node.value.describe()),
                );
                None
            }
        }
    }

    /// A non-empty scalar as text, or a problem.
    pub fn nonempty_text(&mut self, node: &Node, field: &str) -> Option<String> {
        let s = self.text(node, field)?;
        if s.trim().is_empty() {
            self.error(node, field, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// A boolean, or a problem.
    pub fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            ref other => {
                self.error(
                    node,
                    field,
                    format!("expected true or false, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A non-negative integer, or a problem.
    pub fn unsigned(&mut self, node: &Node, field: &str) -> Option<u64> {
        match node.value {
            Value::Int(i) if i >= 0 => u64::try_from(i).ok().or_else(|| {
                self.error(node, field, "number too large");
                None
            }),
            Value::Int(_) => {
                self.error(node, field, "expected a non-negative whole number");
                None
            }
            ref other => {
                self.error(
                    node,
                    field,
                    format!("expected a whole number, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// A number (integer or float), or a problem.
    pub fn number(&mut self, node: &Node, field: &str) -> Option<f64> {
        match node.value {
            #[allow(clippy::cast_precision_loss)]
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            ref other => {
                self.error(
                    node,
                    field,
                    format!("expected a number, found {}", other.describe()),
                );
                None
            }
        }
    }

    /// An RFC 3339 time, or a problem.
    pub fn time(&mut self, node: &Node, field: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let s = self.text(node, field)?;
        match chrono::DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(e) => {
                self.error(
                    node,
                    field,
                    format!(
                        "invalid date `{s}` ({e}); expected an RFC 3339 time such as 2025-01-31T09:00:00Z"
                    ),
                );
                None
            }
        }
    }
}

/// The fields of one mapping; tracks which were read so unknown ones can be reported.
#[derive(Debug)]
pub struct Fields<'a> {
    node: &'a Node,
    path: String,
    entries: Vec<(String, &'a Node, &'a Node)>,
    used: Vec<bool>,
}

impl<'a> Fields<'a> {
    /// The mapping node itself (for "missing field" locations).
    pub fn node(&self) -> &'a Node {
        self.node
    }

    /// The path of a child field (`policy.provisions[0]` + `system`).
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// True when the key is present.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _, _)| k == key)
    }

    /// The value of `key`, marking it read.
    pub fn get(&mut self, key: &str) -> Option<&'a Node> {
        let i = self.entries.iter().position(|(k, _, _)| k == key)?;
        self.used[i] = true;
        Some(self.entries[i].2)
    }

    /// The non-empty text of `key`, when present (a problem when it is not text or
    /// empty).
    pub fn nonempty_text(&mut self, r: &mut Reader, key: &str) -> Option<String> {
        let n = self.get(key)?;
        r.nonempty_text(n, &self.path_of(key))
    }

    /// The value of `key`, or a "missing field" problem naming what was expected.
    pub fn required(&mut self, r: &mut Reader, key: &str, expected: &str) -> Option<&'a Node> {
        let v = self.get(key);
        if v.is_none() {
            r.error(
                self.node,
                &self.path_of(key),
                format!("missing required field `{key}` (expected {expected})"),
            );
        }
        v
    }

    /// Fields not read so far: (name, key node, value node).
    pub fn unread(&self) -> Vec<(&str, &'a Node, &'a Node)> {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|((k, kn, v), _)| (k.as_str(), *kn, *v))
            .collect()
    }

    /// Marks `key` as read without using it.
    pub fn mark_read(&mut self, key: &str) {
        if let Some(i) = self.entries.iter().position(|(k, _, _)| k == key) {
            self.used[i] = true;
        }
    }

    /// Every (name, key node, value node), in document order, marking them read.
    pub fn all(&mut self) -> Vec<(String, &'a Node, &'a Node)> {
        self.used.iter_mut().for_each(|u| *u = true);
        self.entries
            .iter()
            .map(|(k, kn, v)| (k.clone(), *kn, *v))
            .collect()
    }

    /// Reports every field not read as unknown, listing the expected ones.
    pub fn finish(self, r: &mut Reader, expected: &[&str]) {
        for (name, key, _) in self.unread() {
            r.error(
                key,
                &self.path_of(name),
                format!(
                    "unknown field `{name}`; expected one of: {}",
                    expected.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_line_and_column() {
        let n = parse_yaml("t.yaml", "a:\n  - x\n  - {b: 2}\n").unwrap();
        let Value::Map(entries) = &n.value else {
            panic!("not a map: {n:?}")
        };
        let (k, v) = &entries[0];
        assert_eq!((k.line, k.column), (1, 1));
        let Value::Seq(items) = &v.value else {
            panic!("not a seq")
        };
        assert_eq!((items[0].line, items[0].column), (2, 5));
        assert_eq!(items[0].value, Value::Str("x".into()));
        assert_eq!((items[1].line, items[1].column), (3, 5));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_location() {
        let e = parse_yaml("d.yaml", "a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.location.file, "d.yaml");
        assert_eq!(e.location.line, 3, "{e}");
        assert!(e.message.to_lowercase().contains("duplicate"), "{e}");
    }

    #[test]
    fn tabs_and_syntax_errors_do_not_panic() {
        for text in [
            "a:\n\t- b\n",
            "a: [1, 2\n",
            "a: {b: 1\n",
            "- a\nb: c\n",
            "\"unterminated\n",
        ] {
            let e = parse_yaml("bad.yaml", text).unwrap_err();
            assert!(e.location.line >= 1, "{e}");
            assert!(e.to_string().starts_with("bad.yaml:"), "{e}");
        }
    }

    #[test]
    fn yaml_1_1_booleans_and_leading_zeros_stay_strings() {
        let n = parse_yaml("t.yaml", "[on, no, yes, true, 007, 12]").unwrap();
        let Value::Seq(items) = n.value else {
            panic!("not a seq")
        };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values,
            [
                Value::Str("on".into()),
                Value::Str("no".into()),
                Value::Str("yes".into()),
                Value::Bool(true),
                Value::Str("007".into()),
                Value::Int(12),
            ]
        );
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse_yaml("bomb.yaml", &text).unwrap_err();
        assert_eq!(e.location.file, "bomb.yaml");
    }

    fn alias_bomb() -> String {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        text
    }

    #[test]
    fn the_large_data_budget_still_refuses_an_alias_bomb() {
        let e = parse_large_yaml("bomb.yaml", &alias_bomb()).unwrap_err();
        assert_eq!(e.location.file, "bomb.yaml");
        assert!(e.message.starts_with("invalid YAML"), "{e}");
    }

    /// 300,000 plain scalars: over the default node budget (250,000), which still
    /// applies to policies and configuration; the large-data budget reads them.
    #[test]
    fn only_the_large_data_budget_reads_past_the_default_node_limit() {
        let text = "- x\n".repeat(300_000);
        let e = parse_yaml("big.yaml", &text).unwrap_err();
        assert!(e.message.contains("budget"), "{e}");
        let n = parse_large_yaml("big.yaml", &text).unwrap();
        let Value::Seq(items) = n.value else {
            panic!("not a seq")
        };
        assert_eq!(items.len(), 300_000);
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse_yaml("e.yaml", "\n").unwrap().value, Value::Null);
    }
}
