//! Plans for people: a diff grouped by person (text, summarised by system past 50
//! people unless asked for all), and a pull-request comment (markdown) that collapses
//! past 50 people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::plan_doc::{BlastVerdict, Change, PersonChanges, PlanDocument};

/// People shown expanded in a markdown comment; the rest are collapsed.
pub const MARKDOWN_EXPANDED_PEOPLE: usize = 50;

/// People shown expanded in text (unless every person is asked for); the rest are
/// summarised by system.
pub const TEXT_EXPANDED_PEOPLE: usize = 50;

/// ANSI colour, on or off.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colour is on.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }

    /// A sign in its colour: `+` green, `-` red, `~` yellow.
    pub fn sign(self, sign: &str) -> String {
        match sign {
            "+" => self.paint("32", sign),
            "-" => self.paint("31", sign),
            _ => self.paint("33", sign),
        }
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// What a change does, in a few words: `grant okta/group/sales-team`.
pub fn what(change: &Change) -> String {
    match &change.entitlement {
        Some(e) => format!("{} {e}", change.action),
        None => format!("{} in {}", change.action, change.system),
    }
}

/// Why, in one line: the policies with file:line and matched attributes, or the
/// reason's sentence.
pub fn why(change: &Change) -> String {
    if change.reason.policies.is_empty() || change.sign != "+" {
        let mut s = change.reason.detail.clone();
        let sources: Vec<String> = change
            .reason
            .policies
            .iter()
            .filter_map(|p| {
                p.source
                    .as_ref()
                    .map(|s| format!("policy \"{}\" ({s})", p.name))
            })
            .collect();
        if !sources.is_empty() && change.sign != "+" {
            let _ = write!(s, "; still given to others by {}", sources.join("; "));
        }
        s
    } else {
        change
            .reason
            .policies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// `1 person`, `2 people`: a count with the word that reads right.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The blast-radius verdict in one sentence.
pub fn verdict_line(v: &BlastVerdict) -> String {
    let removes = format!(
        "removes access from {} of {}",
        v.identities,
        plural(v.population, "person", "people")
    );
    let operations = plural(
        v.removal_operations,
        "removal operation",
        "removal operations",
    );
    if v.exceeded() {
        format!(
            "REFUSED: {removes} with {operations}, over {}; review it, then apply with {}",
            v.limit.as_deref().unwrap_or("the limit"),
            v.confirm_with
                .as_deref()
                .unwrap_or("--confirm-blast-radius")
        )
    } else {
        format!("within limits ({removes}, {operations})")
    }
}

/// The plan as text: every person's changes when `all`, else the first
/// [`TEXT_EXPANDED_PEOPLE`] people and, for the rest, their counts by system.
pub fn text(doc: &PlanDocument, style: Style, all: bool) -> String {
    let mut out = String::new();
    let s = &doc.summary;
    if doc.plan.operations.is_empty() {
        out.push_str("No changes: the systems match the policies.\n");
    } else {
        let _ = writeln!(
            out,
            "Plan: {} for {} ({} {}, {} {}, {} {})",
            plural(s.operations, "operation", "operations"),
            plural(s.people, "person", "people"),
            style.sign("+"),
            s.additions,
            style.sign("-"),
            s.removals,
            style.sign("~"),
            s.changes
        );
    }
    let shown = if all {
        doc.people.len()
    } else {
        TEXT_EXPANDED_PEOPLE
    };
    for person in doc.people.iter().take(shown) {
        out.push('\n');
        let name = person
            .display_name
            .as_deref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{}",
            style.bold(&format!("{}{name} <{}>", person.id, person.login))
        );
        for change in &person.changes {
            let _ = writeln!(
                out,
                "  {} {:<8} {}",
                style.sign(&change.sign),
                change.system,
                what(change)
            );
            let _ = writeln!(out, "      because {}", why(change));
        }
    }
    summarise_rest(&mut out, &doc.people[doc.people.len().min(shown)..], style);
    if !doc.report_only.is_empty() {
        let _ = writeln!(
            out,
            "\nReport only (enforcement `report`, never applied): {} operations",
            doc.report_only.len()
        );
        for change in &doc.report_only {
            let _ = writeln!(
                out,
                "  {} {:<8} {} for {}",
                change.sign,
                change.system,
                what(change),
                change.person
            );
        }
    }
    let _ = writeln!(out, "\nBlast radius: {}", verdict_line(&doc.blast_radius));
    out
}

/// The people past the threshold in a few lines: how many, and per system the
/// count of each sign.
fn summarise_rest(out: &mut String, rest: &[PersonChanges], style: Style) {
    if rest.is_empty() {
        return;
    }
    // system -> [+, -, ~]
    let mut by_system: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut operations = 0;
    for change in rest.iter().flat_map(|p| &p.changes) {
        operations += 1;
        let slot = match change.sign.as_str() {
            "+" => 0,
            "-" => 1,
            _ => 2,
        };
        by_system.entry(change.system.as_str()).or_default()[slot] += 1;
    }
    let _ = writeln!(
        out,
        "\n... and {} more {} with {} (`--all` shows every person):",
        rest.len(),
        if rest.len() == 1 { "person" } else { "people" },
        plural(operations, "operation", "operations")
    );
    for (system, [add, remove, change]) in by_system {
        let _ = writeln!(
            out,
            "  {system:<8} {} {add}, {} {remove}, {} {change}",
            style.sign("+"),
            style.sign("-"),
            style.sign("~")
        );
    }
}

fn markdown_person(out: &mut String, person: &PersonChanges) {
    let name = person
        .display_name
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let _ = writeln!(out, "**{}**{name} `{}`\n", person.id, person.login);
    out.push_str("```diff\n");
    for change in &person.changes {
        let _ = writeln!(out, "{} {:<8} {}", change.sign, change.system, what(change));
        let _ = writeln!(out, "#   because {}", why(change));
    }
    out.push_str("```\n\n");
}

/// The plan as a pull-request comment.
pub fn markdown(doc: &PlanDocument) -> String {
    let mut out = String::new();
    let s = &doc.summary;
    out.push_str("### provision plan\n\n");
    if doc.plan.operations.is_empty() {
        out.push_str("No changes: the systems match the policies.\n\n");
    } else {
        let _ = writeln!(
            out,
            "**{}** {} for **{}** {}: `+{}` `-{}` `~{}`\n",
            s.operations,
            if s.operations == 1 {
                "operation"
            } else {
                "operations"
            },
            s.people,
            if s.people == 1 { "person" } else { "people" },
            s.additions,
            s.removals,
            s.changes
        );
    }
    let mark = if doc.blast_radius.exceeded() {
        ":no_entry:"
    } else {
        ":white_check_mark:"
    };
    let _ = writeln!(
        out,
        "{mark} Blast radius: {}\n",
        verdict_line(&doc.blast_radius)
    );
    for person in doc.people.iter().take(MARKDOWN_EXPANDED_PEOPLE) {
        markdown_person(&mut out, person);
    }
    let rest = doc.people.len().saturating_sub(MARKDOWN_EXPANDED_PEOPLE);
    if rest > 0 {
        let _ = writeln!(out, "<details><summary>{rest} more people</summary>\n");
        for person in doc.people.iter().skip(MARKDOWN_EXPANDED_PEOPLE) {
            markdown_person(&mut out, person);
        }
        out.push_str("</details>\n");
    }
    out
}
