//! Large YAML lists of records (an HR roster of 100,000 people) read item by item,
//! most items without the general parser.
//!
//! [`parse_large_list`] gives exactly the located tree [`parse_large_yaml`]
//! gives, faster: it splits a block list into its items by indentation and reads each
//! item that uses only plain `key: text` lines (one nested mapping level allowed)
//! directly, with the same lines and columns the parser reports. An item that uses
//! anything else (quotes, flow `{...}`, comments, numbers, dates, booleans, nulls,
//! block scalars, anchors, empty values, deeper nesting) is handed to the parser on
//! its own, its lines shifted back to the file's. A document that is not one list of
//! items by indentation, any item the parser refuses, and a document where more than
//! a quarter of the items need the parser (one call for the whole text is cheaper
//! then) send the whole text to [`parse_large_yaml`], so syntax errors and
//! their positions are the parser's, as before.
//!
//! Anything the direct reader accepts must be text to the parser too: a value that
//! could be a number, boolean, null, date or special float (it starts with a digit,
//! a sign or a dot, or is one of the words YAML gives a type) goes to the parser.

use provision_core::yaml::{Diagnostic, Node, Value, parse_large_yaml};

/// Parses one large YAML document that is a list of records — a block list at the
/// top, or under a single top-level key (`people:`) — into the tree
/// [`parse_large_yaml`] would build, reading plain items directly. Any other
/// document is parsed by [`parse_large_yaml`].
pub fn parse_large_list(file: &str, text: &str) -> Result<Node, Diagnostic> {
    match split(text).and_then(|doc| doc.read(file)) {
        Some(node) => Ok(node),
        None => parse_large_yaml(file, text),
    }
}

/// A document split into its list's items.
struct Split<'a> {
    /// The top-level key (`people`) and its line, or `None` for a top-level list.
    key: Option<(&'a str, usize)>,
    /// The indentation of the list's dashes.
    indent: usize,
    /// Each item: its first line (1-based) and its text (from its dash's line to the
    /// next item's).
    items: Vec<(usize, &'a str)>,
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start_matches(' ');
    t.is_empty() || t.starts_with('#')
}

/// The line starts an item of a list indented `indent`: `- ` or a lone `-`.
fn is_item_start(line: &str, indent: usize) -> bool {
    indentation(line) == indent && {
        let rest = &line[indent..];
        rest == "-" || rest.starts_with("- ")
    }
}

/// The next line that is neither blank nor a comment: (line number, offset, line).
fn next_significant<'a>(
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
    line_no: &mut usize,
) -> Option<(usize, usize, &'a str)> {
    for (start, line) in lines {
        *line_no += 1;
        if !is_blank_or_comment(line) {
            return Some((*line_no, start, line));
        }
    }
    None
}

fn split(text: &str) -> Option<Split<'_>> {
    // Tabs, carriage returns and byte-order marks: the parser's business.
    if text.contains('\t') || text.contains('\r') || text.contains('\u{feff}') {
        return None;
    }
    // (byte offset, line) of each line, lazily.
    let mut lines = text.split('\n').scan(0usize, |offset, line| {
        let start = *offset;
        *offset += line.len() + 1;
        Some((start, line))
    });
    let mut line_no = 0;
    let (mut n, mut start, mut line) = next_significant(&mut lines, &mut line_no)?;
    let key = if line.starts_with('-') {
        None
    } else {
        let name = line.strip_suffix(':')?;
        if !is_plain_key(name) {
            return None;
        }
        let key_line = n;
        (n, start, line) = next_significant(&mut lines, &mut line_no)?;
        Some((name, key_line))
    };
    let indent = indentation(line);
    if !is_item_start(line, indent) {
        return None;
    }
    let mut items: Vec<(usize, usize)> = vec![(n, start)];
    for (start, line) in lines {
        n += 1;
        if is_item_start(line, indent) {
            items.push((n, start));
        } else if !is_blank_or_comment(line) && indentation(line) <= indent {
            return None;
        }
    }
    let mut texts = Vec::with_capacity(items.len());
    for (k, &(line, start)) in items.iter().enumerate() {
        let end = items.get(k + 1).map_or(text.len(), |&(_, next)| next);
        texts.push((line, text.get(start..end)?));
    }
    Some(Split {
        key,
        indent,
        items: texts,
    })
}

impl Split<'_> {
    /// The tree, or `None` when an item is refused by the parser (the caller then
    /// parses the whole text, for the parser's own error and position).
    fn read(self, file: &str) -> Option<Node> {
        let mut nodes = Vec::with_capacity(self.items.len());
        let mut lines: Vec<&str> = Vec::new();
        // Each call to the parser has a cost of its own: when many items need it, one
        // call for the whole text is cheaper.
        let mut parser_budget = (self.items.len() / 4).max(64);
        for &(line, text) in &self.items {
            lines.clear();
            lines.extend(text.strip_suffix('\n').unwrap_or(text).split('\n'));
            let node = match read_plain_item(&lines, line, self.indent) {
                Some(node) => node,
                None => {
                    parser_budget = parser_budget.checked_sub(1)?;
                    parse_item(file, text, line)?
                }
            };
            nodes.push(node);
        }
        // The parser places a list at its first dash, except a list indented no more
        // than its key (`people:\n- id: ...`), which it places at its first item.
        let (line, column) = match (&self.key, nodes.first()) {
            (Some(_), Some(first)) if self.indent == 0 => (first.line, first.column),
            _ => (
                self.items.first().map_or(1, |&(line, _)| line),
                self.indent + 1,
            ),
        };
        let list = Node {
            value: Value::Seq(nodes),
            line,
            column,
        };
        Some(match self.key {
            None => list,
            Some((name, line)) => Node {
                value: Value::Map(vec![(
                    Node {
                        value: Value::Str(name.to_owned()),
                        line,
                        column: 1,
                    },
                    list,
                )]),
                line,
                column: 1,
            },
        })
    }
}

/// One item through the parser, on its own: its node, lines shifted to the file's.
fn parse_item(file: &str, text: &str, first_line: usize) -> Option<Node> {
    let Node {
        value: Value::Seq(mut items),
        ..
    } = parse_large_yaml(file, text).ok()?
    else {
        return None;
    };
    if items.len() != 1 {
        return None;
    }
    let mut item = items.pop()?;
    shift(&mut item, first_line - 1);
    Some(item)
}

fn shift(node: &mut Node, lines: usize) {
    node.line += lines;
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|n| shift(n, lines)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            shift(k, lines);
            shift(v, lines);
        }),
        _ => {}
    }
}

/// Words YAML may give a type (or that a YAML 1.1 reader would): never read directly.
const TYPED_WORDS: &[&str] = &[
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "inf", "infinity", "nan",
];

fn is_typed_word(s: &str) -> bool {
    s.len() <= 8 && TYPED_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// A field name the direct reader accepts: letters, digits, `_` and `-`, starting
/// with a letter or `_`, not a typed word.
fn is_plain_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !is_typed_word(s)
}

/// `2025-03-31`, `2025-03-31T17:00:00Z`, `2025-03-31 17:00:00+02:00`: text to the
/// parser (it has no date type), and what rosters' `effective` holds.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b[10..]
            .iter()
            .all(|c| c.is_ascii_digit() || b"T:.Z+- ".contains(c))
}

/// A value the direct reader accepts as text: starts with a letter (any script) or
/// `_`, `/`, `(`, `$`, or is a timestamp; has no `#`, no `: `, no control character;
/// does not end in `:`; is not a typed word. Trailing spaces are not part of it (as
/// for the parser).
fn plain_text(s: &str) -> Option<&str> {
    let s = s.trim_end_matches(' ');
    let first = s.chars().next()?;
    let plain =
        (first.is_alphabetic() || matches!(first, '_' | '/' | '(' | '$') || is_timestamp(s))
            && !s.contains('#')
            && !s.contains(": ")
            && !s.ends_with(':')
            && !s.chars().any(char::is_control)
            && !is_typed_word(s);
    plain.then_some(s)
}

/// `key: value` (value plain text) or `key:` alone; the key's column is `indent + 1`.
enum Entry<'a> {
    Text(&'a str, &'a str, usize),
    Parent(&'a str),
}

fn entry(line: &str, indent: usize) -> Option<Entry<'_>> {
    let rest = line.get(indent..)?;
    if let Some(key) = rest.strip_suffix(':') {
        return is_plain_key(key).then_some(Entry::Parent(key));
    }
    let (key, value) = rest.split_once(": ")?;
    if !is_plain_key(key) {
        return None;
    }
    let spaces = value.len() - value.trim_start_matches(' ').len();
    let column = indent + key.len() + 2 + spaces + 1;
    Some(Entry::Text(key, plain_text(&value[spaces..])?, column))
}

fn text_node(s: &str, line: usize, column: usize) -> Node {
    Node {
        value: Value::Str(s.to_owned()),
        line,
        column,
    }
}

/// An item of only `key: text` lines and `key:` lines followed by one level of
/// `key: text` lines, read directly; `None` for anything else.
fn read_plain_item(lines: &[&str], first_line: usize, indent: usize) -> Option<Node> {
    // `- key...`: the item's mapping is indented where its first key starts.
    let head = lines.first()?;
    let map_indent = indent + 1 + indentation(head.get(indent + 1..)?);
    if map_indent == indent + 1 {
        return None; // `-` alone, or `-key`
    }
    let mut entries: Vec<(Node, Node)> = Vec::with_capacity(lines.len());
    let mut k = 0;
    while k < lines.len() {
        let line = lines[k];
        if k > 0 {
            if line.trim_start_matches(' ').is_empty() {
                k += 1;
                continue;
            }
            if indentation(line) != map_indent {
                return None;
            }
        }
        let line_no = first_line + k;
        let key_node = |key: &str| text_node(key, line_no, map_indent + 1);
        match entry(line, map_indent)? {
            Entry::Text(key, value, column) => {
                entries.push((key_node(key), text_node(value, line_no, column)));
                k += 1;
            }
            Entry::Parent(key) => {
                let (nested, next) = read_nested(lines, k + 1, first_line, map_indent)?;
                entries.push((key_node(key), nested));
                k = next;
            }
        }
    }
    if has_duplicate_keys(&entries) {
        return None; // the parser's to refuse
    }
    Some(Node {
        value: Value::Map(entries),
        line: first_line,
        column: map_indent + 1,
    })
}

/// The mapping nested under a `key:` line: the lines from `from` indented deeper than
/// `parent_indent`, all `key: text` at one indentation. Returns it and the next line.
fn read_nested(
    lines: &[&str],
    from: usize,
    first_line: usize,
    parent_indent: usize,
) -> Option<(Node, usize)> {
    let nested_indent = indentation(lines.get(from)?);
    if nested_indent <= parent_indent || lines[from].trim_start_matches(' ').is_empty() {
        return None; // an empty value
    }
    let mut nested: Vec<(Node, Node)> = Vec::with_capacity(lines.len() - from);
    let mut j = from;
    while j < lines.len() {
        let line = lines[j];
        if line.trim_start_matches(' ').is_empty() {
            j += 1;
            continue;
        }
        let ind = indentation(line);
        if ind <= parent_indent {
            break;
        }
        if ind != nested_indent {
            return None;
        }
        let Entry::Text(key, value, column) = entry(line, nested_indent)? else {
            return None;
        };
        nested.push((
            text_node(key, first_line + j, nested_indent + 1),
            text_node(value, first_line + j, column),
        ));
        j += 1;
    }
    if has_duplicate_keys(&nested) {
        return None;
    }
    let node = Node {
        value: Value::Map(nested),
        line: first_line + from,
        column: nested_indent + 1,
    };
    Some((node, j))
}

fn has_duplicate_keys(entries: &[(Node, Node)]) -> bool {
    entries
        .iter()
        .enumerate()
        .any(|(i, (key, _))| entries[..i].iter().any(|(k, _)| k.value == key.value))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The direct reading gives the parser's tree, lines and columns included.
    fn same_as_parser(text: &str) {
        let direct = parse_large_list("r.yaml", text);
        let parser = parse_large_yaml("r.yaml", text);
        assert_eq!(direct, parser, "for:\n{text}");
    }

    fn read_directly(text: &str) -> bool {
        split(text).is_some_and(|d| {
            d.items.iter().all(|&(line, text)| {
                let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
                read_plain_item(&lines, line, d.indent).is_some()
            })
        })
    }

    const PLAIN: &str = "people:\n  - id: e000001\n    email: person.1@company.com\n    display_name: Person 1\n    attributes:\n      department: R&D\n      title: Title 1\n  - id: e000002\n    email: b@x.com\n    display_name: Zoë O'Brien\n\n    status: on_leave\n";

    #[test]
    fn plain_items_are_read_directly_with_the_parsers_positions() {
        assert!(read_directly(PLAIN));
        let dated =
            "people:\n  - id: e1\n    status: terminated\n    effective: 2025-03-31T17:00:00Z\n";
        assert!(read_directly(dated));
        same_as_parser(dated);
        same_as_parser(PLAIN);
        let top = "- id: e1\n  email: a@x.com\n- id: e2\n  attributes:\n    team: core\n";
        assert!(read_directly(top));
        same_as_parser(top);
        let wide = "people:\n-   id: e1\n    email:   a@x.com   \n";
        same_as_parser(wide);
    }

    #[test]
    fn other_items_go_to_the_parser_and_keep_their_positions() {
        for text in [
            "people:\n  - {id: e1, email: a@x.com}\n  - id: e2\n    level: 3\n",
            "people:\n  - id: e1\n    effective: 2025-03-31T17:00:00Z\n    ok: true\n    x: null\n",
            "people:\n  - id: '007'\n    note: \"quoted # not a comment\"\n  - id: e2 # comment\n",
            "people:\n  - id: e1\n    manager:\n    team: core\n",
            "people:\n  - id: e1\n    bio: |\n      line one\n      line two\n",
            "people:\n  # a comment\n  - id: e1\n    attributes:\n      nested:\n        deep: x\n",
            "people:\n  - id: e1\n    name: Sarah\n      Chen\n  - id: &a e2\n  - id: *a\n",
            "people:\n  - id: y\n    on: yes\n    inf: .inf\n",
        ] {
            same_as_parser(text);
        }
    }

    #[test]
    fn a_list_of_mostly_parser_items_is_parsed_whole_and_reads_the_same() {
        let mut text = String::from("people:\n");
        for i in 0..300 {
            if i % 10 == 0 {
                text.push_str(&format!("  - id: e{i}\n    team: core\n"));
            } else {
                text.push_str(&format!("  - {{id: e{i}, level: {i}}}\n"));
            }
        }
        let split = split(&text).unwrap();
        assert!(
            split.read("r.yaml").is_none(),
            "270 of 300 items need the parser"
        );
        same_as_parser(&text);
    }

    #[test]
    fn syntax_errors_and_other_shapes_are_the_parsers() {
        for text in [
            "people:\n  - id: e1\n  - id: [\n",
            "people:\n  - id: e1\n    id: e2\n",
            "people:\n  - id: e1\nother: 1\n",
            "people: []\n",
            "a: 1\nb: 2\n",
            "",
            "people:\n\t- id: e1\n",
        ] {
            same_as_parser(text);
        }
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("Sales".to_owned()),
            Just("R&D".to_owned()),
            Just("true".to_owned()),
            Just("Null".to_owned()),
            Just("on".to_owned()),
            Just("nan".to_owned()),
            Just("007".to_owned()),
            Just("12".to_owned()),
            Just("1.5e3".to_owned()),
            Just("-x".to_owned()),
            Just("a: b".to_owned()),
            Just("a #b".to_owned()),
            Just("C#".to_owned()),
            Just("ends:".to_owned()),
            Just("'q'".to_owned()),
            Just("\"q\"".to_owned()),
            Just("[a]".to_owned()),
            Just("{a: 1}".to_owned()),
            Just("Zoë".to_owned()),
            Just("2025-03-31T17:00:00Z".to_owned()),
            Just("2025-03-31".to_owned()),
            Just("2025-03-31 17:00:00+02:00".to_owned()),
            Just("2025-03-31-".to_owned()),
            Just("x  y".to_owned()),
            Just("".to_owned()),
            "[a-z]{1,6}( [A-Za-z0-9.@-]{1,8})?",
        ]
    }

    /// An entry's fields, and its `attributes` when it has them.
    type Item = (Vec<(String, String)>, Option<Vec<(String, String)>>);

    fn item() -> impl Strategy<Value = Item> {
        let key = prop_oneof![
            Just("id".to_owned()),
            Just("email".to_owned()),
            Just("y".to_owned()),
            "[a-z_]{1,8}",
        ];
        let fields = prop::collection::vec((key.clone(), word()), 1..5);
        let nested = prop::option::of(prop::collection::vec((key, word()), 0..4));
        (fields, nested)
    }

    proptest! {
        /// Whatever the values, the tree (lines and columns included) is the parser's.
        #[test]
        fn any_roster_reads_as_the_parser_reads_it(
            items in prop::collection::vec(item(), 1..6),
            indent in 0usize..3,
            top_key in any::<bool>(),
        ) {
            let pad = " ".repeat(indent);
            let mut text = String::new();
            if top_key {
                text.push_str("people:\n");
            }
            let pad = if top_key { pad } else { String::new() };
            for (fields, nested) in &items {
                for (i, (k, v)) in fields.iter().enumerate() {
                    let lead = if i == 0 { format!("{pad}- ") } else { format!("{pad}  ") };
                    text.push_str(&format!("{lead}{k}: {v}\n"));
                }
                if let Some(nested) = nested {
                    text.push_str(&format!("{pad}  attributes:\n"));
                    for (k, v) in nested {
                        text.push_str(&format!("{pad}    {k}: {v}\n"));
                    }
                }
            }
            let direct = parse_large_list("r.yaml", &text);
            let parser = parse_large_yaml("r.yaml", &text);
            prop_assert_eq!(direct, parser, "for:\n{}", text);
        }
    }
}
