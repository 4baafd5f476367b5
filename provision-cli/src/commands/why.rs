//! `provision why <person> <entitlement>`: the policies that give it, where they are
//! written and the attributes that matched; or, when none does, why not. Reads no
//! system and needs no credential.

use chrono::Utc;
use provision_core::engine::Engine;
use provision_core::model::{EmploymentStatus, Entitlement, Identity, Selector};
use provision_core::planner::Planner;
use serde::Serialize;

use crate::cli::{TextOrJson, WhyArgs};
use crate::commands::{Ctx, find_person, out};
use crate::context::{factories, load_roster};
use crate::exit::{CliError, CliResult, Outcome};
use crate::plan_doc::{PolicyRef, entitlement_path, provenance_refs};

/// The answer.
#[derive(Debug, Serialize)]
struct Answer {
    person: String,
    entitlement: String,
    granted: bool,
    /// The policies that give it.
    because: Vec<PolicyRef>,
    /// Policies that would give it, and what the person lacks for each.
    not_matching: Vec<NotMatching>,
}

#[derive(Debug, Serialize)]
struct NotMatching {
    policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    unmet: Vec<String>,
}

/// What an entitlement argument names.
struct Wanted {
    system: String,
    kind: String,
    resource: String,
    role: Option<String>,
    scope: Option<String>,
}

fn parse(text: &str) -> Result<Wanted, CliError> {
    let (rest, scope) = match text.rsplit_once('@') {
        Some((r, s)) if !s.contains('/') => (r, Some(s.to_owned())),
        _ => (text, None),
    };
    let (rest, role) = match rest.rsplit_once('#') {
        Some((r, role)) if !role.contains('/') && !r.ends_with('/') => (r, Some(role.to_owned())),
        _ => (rest, None),
    };
    let mut parts = rest.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(k), Some(r)) if !s.is_empty() && !k.is_empty() && !r.is_empty() => {
            Ok(Wanted {
                system: s.to_owned(),
                kind: k.to_owned(),
                resource: r.to_owned(),
                role,
                scope,
            })
        }
        _ => Err(CliError::Other(format!(
            "`{text}` is not an entitlement; write system/kind/resource, optionally #role and \
             @scope (gitlab/group/engineering#developer)"
        ))),
    }
}

impl Wanted {
    fn matches(&self, e: &Entitlement, system: &str) -> bool {
        e.system.as_str() == system
            && e.kind == self.kind
            && e.resource == self.resource
            && self
                .role
                .as_ref()
                .is_none_or(|r| e.role.as_ref() == Some(r))
            && self
                .scope
                .as_ref()
                .is_none_or(|s| e.scope.as_ref() == Some(s))
    }
}

/// What a person lacks for `selector` to match (empty when it matches).
fn unmet(selector: &Selector, person: &Identity) -> Vec<String> {
    if selector.matches(person).is_some() {
        return Vec::new();
    }
    match selector {
        Selector::Everyone => Vec::new(),
        Selector::All(items) => items.iter().flat_map(|s| unmet(s, person)).collect(),
        Selector::Any(items) => {
            let each: Vec<String> = items
                .iter()
                .map(|s| unmet(s, person).join(" and "))
                .collect();
            vec![format!("none of: {}", each.join("; or "))]
        }
        Selector::Not(inner) => vec![format!(
            "must not match {}",
            serde_json::to_string(inner).unwrap_or_default()
        )],
        Selector::OneOf {
            attribute, values, ..
        } => {
            let actual = person
                .attribute(attribute)
                .map(|v| format!("is `{v}`"))
                .unwrap_or_else(|| "is missing".to_owned());
            vec![format!(
                "{attribute} {actual}; the policy wants {}",
                values
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )]
        }
        Selector::Present { attribute, present } => vec![if *present {
            format!("{attribute} is missing; the policy wants it set")
        } else {
            format!("{attribute} is set; the policy wants it empty")
        }],
    }
}

/// Runs `why`: exit 0 when a policy gives it, 2 when none does.
pub fn run(ctx: &Ctx, args: &WhyArgs) -> CliResult {
    let validated = Engine::validate(&ctx.paths.config, &ctx.paths.policies, &factories())?;
    let roster = load_roster(&ctx.paths, &validated.config)?;
    let person = find_person(&roster, &args.person)?;
    let wanted = parse(&args.entitlement)?;
    let system = validated
        .config
        .resolve_system(&wanted.system)
        .ok_or_else(|| CliError::Other(format!("no system `{}` in the deployment", wanted.system)))?
        .as_str()
        .to_owned();
    let desired = Planner::new(&validated.config, &validated.descriptors).desired(
        std::slice::from_ref(person),
        &validated.policies,
        Utc::now(),
    );
    let mut because = Vec::new();
    let mut shown = String::new();
    if let Some(d) = desired.identities.get(&person.id) {
        for (e, grant) in d.grants.iter().filter(|(e, _)| wanted.matches(e, &system)) {
            shown = entitlement_path(e);
            because.extend(provenance_refs(
                &validated.policies,
                &grant.provenance,
                Some(e),
            ));
        }
    }
    let mut not_matching = Vec::new();
    if because.is_empty() {
        for policy in &validated.policies.policies {
            if let Some(grant) = policy
                .grants
                .iter()
                .find(|g| wanted.matches(&g.entitlement, &system))
            {
                let mut lacks = unmet(&policy.selector, person);
                if !matches!(person.status, EmploymentStatus::Active) && lacks.is_empty() {
                    lacks.push(format!("{} is not active ({:?})", person.id, person.status));
                }
                not_matching.push(NotMatching {
                    policy: policy.name.clone(),
                    source: grant
                        .source
                        .as_ref()
                        .or(policy.source.as_ref())
                        .map(|l| format!("{}:{}", l.file, l.line)),
                    unmet: lacks,
                });
            }
        }
    }
    let answer = Answer {
        person: person.id.as_str().to_owned(),
        entitlement: if shown.is_empty() {
            args.entitlement.clone()
        } else {
            shown
        },
        granted: !because.is_empty(),
        because,
        not_matching,
    };
    match args.format {
        TextOrJson::Json => out(&(serde_json::to_string_pretty(&answer)
            .map_err(|e| CliError::Other(format!("cannot write JSON: {e}")))?
            + "\n")),
        TextOrJson::Text => out(&text(&answer, person)),
    }
    Ok(if answer.granted {
        Outcome::Success
    } else {
        Outcome::Pending
    })
}

/// The answer in words about policy, not about the systems: `why` reads none, so it
/// says what the policies give, never what a person holds.
fn text(answer: &Answer, person: &Identity) -> String {
    let who = format!("{} ({})", person.display_name, person.id);
    let mut out = String::new();
    if answer.granted {
        out.push_str(&format!("{} is given to {who} by:\n", answer.entitlement));
        for b in &answer.because {
            out.push_str(&format!("  {b}\n"));
        }
    } else if answer.not_matching.is_empty() {
        out.push_str(&format!(
            "no policy gives {} to {who}, nor to anyone\n",
            answer.entitlement
        ));
    } else {
        out.push_str(&format!(
            "no policy gives {} to {who}:\n",
            answer.entitlement
        ));
        for n in &answer.not_matching {
            let source = n
                .source
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  policy \"{}\"{source} gives it, but {}\n",
                n.policy,
                n.unmet.join("; ")
            ));
        }
    }
    out.push_str("(no system was read; `provision plan` and `provision drift` read them)\n");
    out
}
