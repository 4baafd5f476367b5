//! `provision simulate`: the what-if of a policy change. The desired state of the
//! whole roster under the current policies against the desired state under the
//! proposed ones; no system is read, no credential is needed. Policies can come
//! from a directory or from git refs (`--base main --head HEAD`).
//!
//! It also shows the separation-of-duties conflicts the change would put people
//! into: someone the proposed policies (and SoD rules) give a toxic combination the
//! current ones do not. The planner would refuse such a plan, so simulate exits 4.
//! Only what policies give is compared; grants held outside policy are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use provision_core::engine::{Engine, EngineError, Validated};
use provision_core::model::{DesiredIdentity, DesiredState, Identity, Policy, PolicySet};
use provision_core::planner::Planner;
use provision_governance::{SodRule, SodRules, load_sod_rules, sod};
use serde::Serialize;

use crate::cli::{Format, SimulateArgs};
use crate::commands::{Ctx, out, plural};
use crate::context::{factories, load_config, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::plan_doc::{PolicyRef, entitlement_path, policy_source};

/// The schema name and version of `simulate --format json`.
pub const SIMULATION_SCHEMA: &str = "provision.simulation/v1";

/// Who gains and who loses what.
#[derive(Debug, Serialize)]
pub struct Simulation {
    /// Always [`SIMULATION_SCHEMA`].
    pub schema: &'static str,
    /// Where the current policies came from.
    pub base: String,
    /// Where the proposed policies came from.
    pub head: String,
    /// Counts.
    pub summary: SimulationSummary,
    /// Per entitlement (or account), how many people gain and lose it.
    pub entitlements: Vec<EntitlementCount>,
    /// Per person, in roster order, only people with a difference.
    pub people: Vec<PersonDiff>,
    /// The separation-of-duties conflicts the proposed policies give people that the
    /// current ones do not, in roster order (the planner would refuse them).
    pub new_conflicts: Vec<ConflictLine>,
}

/// Someone the proposed policies would put into a separation-of-duties conflict.
#[derive(Debug, Serialize)]
pub struct ConflictLine {
    /// HR id.
    pub id: String,
    /// Login.
    pub login: String,
    /// Name.
    pub display_name: String,
    /// The rule's name.
    pub rule: String,
    /// The rule's severity.
    pub severity: String,
    /// Where the rule is written (`file:line`), in the proposed policies.
    pub rule_source: Option<String>,
    /// The grants that fire it, one per side of the rule.
    pub grants: Vec<String>,
}

/// Counts of a simulation.
#[derive(Debug, Serialize, Default)]
pub struct SimulationSummary {
    /// People in the roster.
    pub population: usize,
    /// People who gain something.
    pub people_gaining: usize,
    /// People who lose something.
    pub people_losing: usize,
    /// Entitlements and accounts gained, in all.
    pub gained: usize,
    /// Entitlements and accounts lost, in all.
    pub lost: usize,
}

/// How many people gain and lose one entitlement.
#[derive(Debug, Serialize)]
pub struct EntitlementCount {
    /// `system/kind/resource[#role][@scope]`, or `account in <system>`.
    pub entitlement: String,
    /// People gaining it.
    pub gained: usize,
    /// People losing it.
    pub lost: usize,
}

/// One person's difference.
#[derive(Debug, Serialize)]
pub struct PersonDiff {
    /// HR id.
    pub id: String,
    /// Login.
    pub login: String,
    /// Name.
    pub display_name: String,
    /// What they gain, with the proposed policies that give it.
    pub gains: Vec<Access>,
    /// What they lose, with the current policies that gave it.
    pub losses: Vec<Access>,
}

/// One entitlement or account gained or lost.
#[derive(Debug, Serialize)]
pub struct Access {
    /// `system/kind/resource[#role][@scope]`, or `account in <system>`.
    pub entitlement: String,
    /// The policies (file:line, matched attributes).
    pub policies: Vec<PolicyRef>,
}

/// Policies read from a directory or from a git ref.
struct PolicySource {
    /// What to call it in output (`HEAD`, the directory).
    label: String,
    /// The directory to load.
    dir: PathBuf,
    /// A temporary checkout to rename in file:line (`<tmp>/` → `<ref>:`).
    checkout: Option<PathBuf>,
    _tmp: Option<tempfile::TempDir>,
}

impl PolicySource {
    fn directory(dir: PathBuf) -> Self {
        Self {
            label: dir.display().to_string(),
            dir,
            checkout: None,
            _tmp: None,
        }
    }

    /// The policy directory `dir` as it is at `git_ref`, in a temporary directory.
    fn git(dir: &Path, git_ref: &str) -> Result<Self, CliError> {
        let git = |dir: &Path, args: &[&str]| -> Result<Vec<u8>, CliError> {
            let output = Command::new("git")
                .arg("-C")
                .arg(dir)
                .args(args)
                .output()
                .map_err(|e| CliError::io("git", e))?;
            if output.status.success() {
                Ok(output.stdout)
            } else {
                Err(CliError::Other(format!(
                    "git {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                )))
            }
        };
        let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).trim().to_owned();
        let root = PathBuf::from(text(git(dir, &["rev-parse", "--show-toplevel"])?));
        let prefix = text(git(dir, &["rev-parse", "--show-prefix"])?);
        git(
            &root,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{git_ref}^{{commit}}"),
            ],
        )
        .map_err(|_| {
            CliError::Other(format!(
                "`{git_ref}` is not a git ref of {}",
                root.display()
            ))
        })?;
        let listing = git(
            &root,
            &["ls-tree", "-r", "-z", "--name-only", git_ref, "--", &prefix],
        )?;
        let tmp = tempfile::tempdir().map_err(|e| CliError::io("temporary directory", e))?;
        let mut files = 0;
        for name in listing.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            let name = String::from_utf8_lossy(name).into_owned();
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                continue;
            }
            let content = git(&root, &["show", &format!("{git_ref}:{name}")])?;
            let target = tmp.path().join(&name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent.display(), e))?;
            }
            std::fs::write(&target, content).map_err(|e| CliError::io(target.display(), e))?;
            files += 1;
        }
        if files == 0 {
            return Err(CliError::Invalid(format!(
                "no policy files (*.yaml) in {prefix} at {git_ref}"
            )));
        }
        Ok(Self {
            label: git_ref.to_owned(),
            dir: tmp.path().join(&prefix),
            checkout: Some(tmp.path().to_path_buf()),
            _tmp: Some(tmp),
        })
    }

    /// A directory when `spec` is one, else a git ref of `dir`.
    fn dir_or_ref(spec: &Path, dir: &Path) -> Result<Self, CliError> {
        if spec.exists() {
            Ok(Self::directory(spec.to_path_buf()))
        } else {
            Self::git(dir, &spec.display().to_string())
        }
    }

    /// `file:line` as a reader finds it: `<ref>:<path in the repository>:line`.
    fn relabel(&self, source: String) -> String {
        match &self.checkout {
            Some(tmp) => {
                let tmp = format!("{}/", tmp.display());
                match source.strip_prefix(&tmp) {
                    Some(rest) => format!("{}:{rest}", self.label),
                    None => source,
                }
            }
            None => source,
        }
    }

    /// The policies validated against the deployment, with their separation-of-duties
    /// rules.
    fn validate(&self, config: &Path) -> Result<(Validated, SodRules), CliError> {
        let validated = self.validate_policies(config)?;
        let rules =
            load_sod_rules(&self.dir, &validated.config, &validated.descriptors).map_err(|e| {
                let lines: Vec<String> = if e.diagnostics().is_empty() {
                    vec![self.relabel(e.to_string())]
                } else {
                    e.diagnostics()
                        .iter()
                        .map(|d| self.relabel(d.to_string()))
                        .collect()
                };
                CliError::Invalid(format!(
                    "policies at {}:\n  {}",
                    self.label,
                    lines.join("\n  ")
                ))
            })?;
        Ok((validated, rules))
    }

    fn validate_policies(&self, config: &Path) -> Result<Validated, CliError> {
        Engine::validate(config, &self.dir, &factories()).map_err(|e| {
            let lines: Vec<String> = match &e {
                EngineError::Policy(p) if !p.diagnostics().is_empty() => p
                    .diagnostics()
                    .iter()
                    .map(|d| self.relabel(d.to_string()))
                    .collect(),
                other => vec![self.relabel(other.to_string())],
            };
            CliError::Invalid(format!(
                "policies at {}:\n  {}",
                self.label,
                lines.join("\n  ")
            ))
        })
    }
}

fn access_of(
    person: &DesiredIdentity,
    policies: &PolicySet,
    source: &PolicySource,
) -> BTreeMap<String, Vec<PolicyRef>> {
    let mut out: BTreeMap<String, Vec<PolicyRef>> = person
        .grants
        .iter()
        .map(|(e, grant)| {
            let refs = grant
                .provenance
                .iter()
                .map(|p| PolicyRef {
                    name: p.name().into_owned(),
                    source: policy_source(policies, &p.name(), Some(e))
                        .map(|l| source.relabel(format!("{}:{}", l.file, l.line))),
                    matched: p.matched().clone(),
                })
                .collect();
            (entitlement_path(e), refs)
        })
        .collect();
    for system in &person.accounts {
        out.entry(format!("account in {system}")).or_default();
    }
    out
}

fn diff(
    roster: &[Identity],
    base: (&DesiredState, &PolicySet, &PolicySource),
    head: (&DesiredState, &PolicySet, &PolicySource),
) -> Simulation {
    let mut summary = SimulationSummary {
        population: roster.len(),
        ..SimulationSummary::default()
    };
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut people = Vec::new();
    for person in roster {
        let (Some(b), Some(h)) = (
            base.0.identities.get(&person.id),
            head.0.identities.get(&person.id),
        ) else {
            continue;
        };
        // Cheap test first: most people are untouched by a policy change.
        if b.grants.len() == h.grants.len()
            && b.accounts == h.accounts
            && b.grants.keys().eq(h.grants.keys())
        {
            continue;
        }
        let before = access_of(b, base.1, base.2);
        let mut after = access_of(h, head.1, head.2);
        let before_keys: BTreeSet<&String> = before.keys().collect();
        let gains: Vec<Access> = after
            .iter_mut()
            .filter(|(k, _)| !before_keys.contains(k))
            .map(|(k, v)| Access {
                entitlement: k.clone(),
                policies: std::mem::take(v),
            })
            .collect();
        let losses: Vec<Access> = before
            .into_iter()
            .filter(|(k, _)| !after.contains_key(k))
            .map(|(k, v)| Access {
                entitlement: k,
                policies: v,
            })
            .collect();
        if gains.is_empty() && losses.is_empty() {
            continue;
        }
        for g in &gains {
            counts.entry(g.entitlement.clone()).or_default().0 += 1;
        }
        for l in &losses {
            counts.entry(l.entitlement.clone()).or_default().1 += 1;
        }
        summary.gained += gains.len();
        summary.lost += losses.len();
        summary.people_gaining += usize::from(!gains.is_empty());
        summary.people_losing += usize::from(!losses.is_empty());
        people.push(PersonDiff {
            id: person.id.as_str().to_owned(),
            login: person.login.clone(),
            display_name: person.display_name.clone(),
            gains,
            losses,
        });
    }
    Simulation {
        schema: SIMULATION_SCHEMA,
        base: base.2.label.clone(),
        head: head.2.label.clone(),
        summary,
        entitlements: counts
            .into_iter()
            .map(|(entitlement, (gained, lost))| EntitlementCount {
                entitlement,
                gained,
                lost,
            })
            .collect(),
        people,
        new_conflicts: Vec::new(),
    }
}

fn refs(policies: &[PolicyRef]) -> String {
    policies
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn conflicts_text(sim: &Simulation, ctx: &Ctx, out: &mut String) {
    if sim.new_conflicts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n{}",
        ctx.style.bold(&format!(
            "Separation of duties: {} new conflict(s); a plan would be refused",
            sim.new_conflicts.len()
        ))
    );
    for c in &sim.new_conflicts {
        let _ = writeln!(
            out,
            "  {} {} <{}>: rule \"{}\" ({}{})\n      {}",
            c.id,
            c.display_name,
            c.login,
            c.rule,
            c.severity,
            c.rule_source
                .as_ref()
                .map(|s| format!(", {s}"))
                .unwrap_or_default(),
            c.grants.join(" and ")
        );
    }
}

fn text(sim: &Simulation, ctx: &Ctx) -> String {
    let s = &sim.summary;
    let mut out = format!(
        "Simulation: policies {} -> {}, over {} (no system was read)\n",
        sim.base,
        sim.head,
        plural(s.population, "person", "people")
    );
    if sim.people.is_empty() {
        out.push_str("No one gains or loses anything.\n");
        conflicts_text(sim, ctx, &mut out);
        return out;
    }
    let _ = writeln!(out, "{}", gains_and_losses(s));
    for p in &sim.people {
        let _ = writeln!(
            out,
            "\n{}",
            ctx.style
                .bold(&format!("{} {} <{}>", p.id, p.display_name, p.login))
        );
        for g in &p.gains {
            let _ = writeln!(out, "  {} {}", ctx.style.sign("+"), g.entitlement);
            if !g.policies.is_empty() {
                let _ = writeln!(out, "      because {}", refs(&g.policies));
            }
        }
        for l in &p.losses {
            let _ = writeln!(out, "  {} {}", ctx.style.sign("-"), l.entitlement);
            if !l.policies.is_empty() {
                let _ = writeln!(out, "      was given by {}", refs(&l.policies));
            }
        }
    }
    out.push_str("\nBy entitlement:\n");
    for c in &sim.entitlements {
        let _ = writeln!(out, "  {:<50} +{} -{}", c.entitlement, c.gained, c.lost);
    }
    conflicts_text(sim, ctx, &mut out);
    out
}

/// `2 people gain 2 entitlements; 1 person loses 4`.
fn gains_and_losses(s: &SimulationSummary) -> String {
    format!(
        "{} {} {}; {} {} {}",
        plural(s.people_gaining, "person", "people"),
        if s.people_gaining == 1 {
            "gains"
        } else {
            "gain"
        },
        plural(s.gained, "entitlement", "entitlements"),
        plural(s.people_losing, "person", "people"),
        if s.people_losing == 1 {
            "loses"
        } else {
            "lose"
        },
        s.lost
    )
}

fn markdown(sim: &Simulation) -> String {
    let s = &sim.summary;
    let mut out = format!(
        "### provision simulate: `{}` → `{}`\n\n{} (of {}; no system was read)\n\n",
        sim.base,
        sim.head,
        gains_and_losses(s),
        plural(s.population, "person", "people")
    );
    if !sim.new_conflicts.is_empty() {
        let _ = writeln!(
            out,
            "**Separation of duties: {} new conflict(s); a plan would be refused.**\n\n| person | rule | severity | grants |\n| --- | --- | --- | --- |",
            sim.new_conflicts.len()
        );
        for c in &sim.new_conflicts {
            let grants: Vec<String> = c.grants.iter().map(|g| format!("`{g}`")).collect();
            let _ = writeln!(
                out,
                "| {} {} | {} | {} | {} |",
                c.id,
                c.display_name,
                c.rule,
                c.severity,
                grants.join(" and ")
            );
        }
        out.push('\n');
    }
    if !sim.entitlements.is_empty() {
        out.push_str("| entitlement | gain | lose |\n| --- | ---: | ---: |\n");
        for c in &sim.entitlements {
            let _ = writeln!(out, "| `{}` | {} | {} |", c.entitlement, c.gained, c.lost);
        }
        out.push('\n');
    }
    let expanded = crate::render::MARKDOWN_EXPANDED_PEOPLE;
    let person = |out: &mut String, p: &PersonDiff| {
        let _ = writeln!(
            out,
            "**{}** {} `{}`\n\n```diff",
            p.id, p.display_name, p.login
        );
        // The provenance, as in the text form: the policy (ref:file:line, the
        // matching attributes) behind each gain, and the one that gave each loss.
        for g in &p.gains {
            let _ = writeln!(out, "+ {}", g.entitlement);
            if !g.policies.is_empty() {
                let _ = writeln!(out, "    because {}", refs(&g.policies));
            }
        }
        for l in &p.losses {
            let _ = writeln!(out, "- {}", l.entitlement);
            if !l.policies.is_empty() {
                let _ = writeln!(out, "    was given by {}", refs(&l.policies));
            }
        }
        out.push_str("```\n\n");
    };
    for p in sim.people.iter().take(expanded) {
        person(&mut out, p);
    }
    let rest = sim.people.len().saturating_sub(expanded);
    if rest > 0 {
        let _ = writeln!(out, "<details><summary>{rest} more people</summary>\n");
        for p in sim.people.iter().skip(expanded) {
            person(&mut out, p);
        }
        out.push_str("</details>\n");
    }
    out
}

/// A policy without where it is written: moving a policy within a file changes no
/// one's access.
fn content(policy: &Policy) -> Policy {
    let mut policy = policy.clone();
    policy.source = None;
    for grant in &mut policy.grants {
        grant.source = None;
    }
    policy
}

/// The policies that differ between the two sets, by name: added, removed or changed
/// (both versions of a changed one).
fn changed_policies<'a>(base: &'a PolicySet, head: &'a PolicySet) -> Vec<&'a Policy> {
    let by_name = |set: &'a PolicySet| -> BTreeMap<&'a str, &'a Policy> {
        set.policies.iter().map(|p| (p.name.as_str(), p)).collect()
    };
    let (b, h) = (by_name(base), by_name(head));
    let names: BTreeSet<&str> = b.keys().chain(h.keys()).copied().collect();
    let mut changed = Vec::new();
    for name in names {
        match (b.get(name), h.get(name)) {
            (Some(x), Some(y)) if content(x) == content(y) => {}
            (x, y) => changed.extend(x.into_iter().chain(y).copied()),
        }
    }
    changed
}

/// The people whose desired state can differ: those a changed policy (in either
/// version) selects. Everyone else is selected by the same policies with the same
/// grants under both sets, so their desired state is the same.
fn affected(roster: &[Identity], changed: &[&Policy]) -> Vec<Identity> {
    roster
        .iter()
        .filter(|person| changed.iter().any(|p| p.selector.matches(person).is_some()))
        .cloned()
        .collect()
}

/// A rule without where it is written.
fn rule_content(rule: &SodRule) -> SodRule {
    let mut rule = rule.clone();
    rule.source = None;
    rule
}

/// True when both sets hold the same rules (wherever they are written).
fn same_rules(base: &SodRules, head: &SodRules) -> bool {
    base.rules.len() == head.rules.len()
        && base
            .rules
            .iter()
            .zip(&head.rules)
            .all(|(b, h)| rule_content(b) == rule_content(h))
}

/// The conflicts the head's rules find in the head's desired state that the base's
/// rules do not find in the base's (same person, same rule), in roster order.
fn new_conflicts(
    people: &[Identity],
    base: (&SodRules, &DesiredState),
    head: (&SodRules, &DesiredState),
    source: &PolicySource,
) -> Vec<ConflictLine> {
    let mut found: BTreeMap<String, Vec<sod::SodConflict>> = BTreeMap::new();
    for c in sod::simulate(base, head) {
        found
            .entry(c.identity.as_str().to_owned())
            .or_default()
            .push(c);
    }
    let mut out = Vec::new();
    for person in people {
        for c in found.remove(person.id.as_str()).unwrap_or_default() {
            let rule_source = head
                .0
                .get(&c.rule)
                .and_then(|r| r.source.as_ref())
                .map(|l| source.relabel(format!("{}:{}", l.file, l.line)));
            out.push(ConflictLine {
                id: person.id.as_str().to_owned(),
                login: person.login.clone(),
                display_name: person.display_name.clone(),
                rule: c.rule,
                severity: c.severity.as_str().to_owned(),
                rule_source,
                grants: c.grants.iter().map(entitlement_path).collect(),
            });
        }
    }
    out
}

/// Runs `simulate`; `proposed` is `--policies` (a directory or a git ref).
pub fn run(ctx: &Ctx, args: &SimulateArgs, proposed: Option<&Path>) -> CliResult {
    let paths = &ctx.paths;
    let current = args
        .current
        .clone()
        .unwrap_or_else(|| paths.default_policies());
    let base = match &args.base {
        Some(r) => PolicySource::git(&current, r)?,
        None => PolicySource::directory(current.clone()),
    };
    let head = match (&args.head, proposed) {
        (Some(r), _) => PolicySource::git(&current, r)?,
        (None, Some(spec)) => PolicySource::dir_or_ref(spec, &current)?,
        (None, None) => {
            return Err(CliError::Other(
                "say what to compare: --policies <dir-or-ref>, or --head <ref> (with --base <ref>)"
                    .to_owned(),
            ));
        }
    };
    let config = load_config(&paths.config)?;
    let roster = load_roster(paths, &config)?;
    let (base_v, base_rules) = base.validate(&paths.config)?;
    let (head_v, head_rules) = head.validate(&paths.config)?;
    let now = Utc::now();
    let changed = changed_policies(&base_v.policies, &head_v.policies);
    // A changed SoD rule can fire for anyone: then everyone is compared.
    let people = if same_rules(&base_rules, &head_rules) {
        affected(&roster, &changed)
    } else {
        roster.clone()
    };
    tracing::info!(
        changed_policies = changed.len(),
        people = people.len(),
        "people a changed policy selects"
    );
    let base_desired =
        Planner::new(&base_v.config, &base_v.descriptors).desired(&people, &base_v.policies, now);
    let head_desired =
        Planner::new(&head_v.config, &head_v.descriptors).desired(&people, &head_v.policies, now);
    let mut sim = diff(
        &people,
        (&base_desired, &base_v.policies, &base),
        (&head_desired, &head_v.policies, &head),
    );
    sim.summary.population = roster.len();
    sim.new_conflicts = new_conflicts(
        &people,
        (&base_rules, &base_desired),
        (&head_rules, &head_desired),
        &head,
    );
    match args.format {
        Format::Text => out(&text(&sim, ctx)),
        Format::Markdown => out(&markdown(&sim)),
        Format::Json => out(&(serde_json::to_string_pretty(&sim)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
            + "\n")),
    }
    Ok(if !sim.new_conflicts.is_empty() {
        Outcome::Refused
    } else if sim.people.is_empty() {
        Outcome::Success
    } else {
        Outcome::Pending
    })
}
