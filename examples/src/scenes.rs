//! The scenes: a joiner, a mover and a leaver, each read back from the systems,
//! planned, guarded and applied (the drift scene is in [`crate::drift_scene`]); and
//! the audit trail read back from the SQLite store.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use provision_core::audit::{AuditLog, VerifiedChain, verify};
use provision_core::config::load_config;
use provision_core::engine::Engine;
use provision_core::executor::{ExecutionReport, PendingConfig, RetryConfig};
use provision_core::journal::RunId;
use provision_core::model::{
    EmploymentStatus, Entitlement, Identity, IdentityId, OperationId, OperationKind, Plan,
};
use provision_governance::{GovernanceHook, GovernanceStore};
use provision_roster::load_roster;
use provision_store::SqliteStore;

use crate::console::Console;
use crate::progress::Progress;
use crate::systems::Systems;
use crate::{QuickstartError, show};

/// The joiner of scene 1: Sarah Chen, Sales Engineer.
pub const SARAH: &str = "e1001";
/// The mover of scene 2: Priya Natarajan, Engineering to Sales.
pub const PRIYA: &str = "e1003";
/// The leaver of scene 3: Tom Keller.
pub const TOM: &str = "e1004";

/// What one scene did.
#[derive(Debug, Clone)]
pub struct SceneOutcome {
    /// The plan that was applied (in execution order).
    pub plan: Plan,
    /// The executor's report.
    pub report: ExecutionReport,
    /// The operations in the order their first attempt was sent.
    pub started: Vec<OperationId>,
    /// Operations a second plan over the state read back afterwards still wants
    /// (zero when the systems converged).
    pub remaining: usize,
}

/// The loaded example and the systems it drives.
pub struct Quickstart {
    /// The engine: the deployment (`examples/provision.yaml`), the policies
    /// (`examples/policies/`), an adapter per system and the executor.
    pub engine: Engine,
    /// The HR roster (`examples/roster.yaml`), as changed by the scenes.
    pub roster: Vec<Identity>,
    /// The systems.
    pub systems: Systems,
    pub(crate) console: Arc<Console>,
    pub(crate) progress: Arc<Progress>,
    /// The journal and the audit log: one SQLite file in the run directory.
    pub store: Arc<SqliteStore>,
    run_dir: PathBuf,
}

impl Quickstart {
    /// Loads `examples_dir/{provision.yaml, policies/, roster.yaml}` into an engine whose
    /// systems are the sandboxes `provision.yaml` names (real Okta / Google / AWS when
    /// `env` has their variables), journaling and auditing to the SQLite file
    /// `run_dir/provision.db`.
    pub async fn load(
        examples_dir: &Path,
        run_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        console: Arc<Console>,
    ) -> Result<Self, QuickstartError> {
        let deployment = examples_dir.join("provision.yaml");
        let roster = load_roster(&examples_dir.join("roster.yaml"))?;
        std::fs::create_dir_all(run_dir).map_err(|source| QuickstartError::RunDir {
            path: run_dir.display().to_string(),
            source,
        })?;
        let store = Arc::new(SqliteStore::open(run_dir.join("provision.db")).await?);
        let progress = Arc::new(Progress::new(Arc::clone(&console)));

        let builder = Engine::builder()
            .deployment(&deployment)
            .policies(examples_dir.join("policies"))
            .store(Arc::clone(&store))
            .hook_with(GovernanceHook::with_policy_rules(
                Arc::clone(&store) as Arc<dyn GovernanceStore>
            ))
            .subscriber(Arc::clone(&progress) as _)
            .actor("quickstart")
            .retry(RetryConfig {
                initial_delay: Duration::from_millis(100),
                ..RetryConfig::default()
            })
            .pending(PendingConfig {
                interval: Duration::from_millis(250),
                deadline: Duration::from_secs(20),
            });
        // Which systems are real depends on the environment and the deployment's names.
        let (systems, builder) = Systems::wire(&load_config(&deployment)?, env, builder)?;
        let engine = builder.build().await?;

        console.say(format!(
            "loaded {} systems, {} policies, {} people; journal and audit log: SQLite {}",
            engine.config().systems.len(),
            engine.policies().policies.len(),
            roster.len(),
            store.path().display()
        ));
        let real = systems.real();
        let sandboxed: Vec<&str> = engine
            .systems()
            .filter(|n| !real.iter().any(|(r, _)| r == *n))
            .map(|n| n.as_str())
            .collect();
        if real.is_empty() {
            console.say(format!(
                "systems: all sandboxes ({}) — set {} variables to use real ones",
                sandboxed.join(", "),
                crate::systems::REAL_SYSTEM_VARIABLES
                    .iter()
                    .map(|(_, vars)| *vars)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            for (name, at) in &real {
                console.say(format!("systems: {name} is REAL ({at})"));
            }
            console.say(format!("systems: sandboxes: {}", sandboxed.join(", ")));
        }
        Ok(Self {
            engine,
            roster,
            systems,
            console,
            progress,
            store,
            run_dir: run_dir.to_owned(),
        })
    }

    /// The directory with the journal and the audit log.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub(crate) fn person(&self, id: &str) -> Result<Identity, QuickstartError> {
        self.roster
            .iter()
            .find(|p| p.id.as_str() == id)
            .cloned()
            .ok_or_else(|| QuickstartError::NoSuchPerson(id.to_owned()))
    }

    pub(crate) fn name_of(&self, id: &IdentityId) -> String {
        self.roster
            .iter()
            .find(|p| &p.id == id)
            .map_or_else(|| id.to_string(), |p| p.display_name.clone())
    }

    /// The company as it is before the quickstart: everyone but Sarah already has
    /// what policies give them, in every sandbox system.
    pub fn seed_company(&self) {
        let people: Vec<Identity> = self
            .roster
            .iter()
            .filter(|p| p.id.as_str() != SARAH)
            .cloned()
            .collect();
        let desired = self.engine.desired(&people);
        let (accounts, grants) = self.systems.seed(&desired);
        self.console.say(format!(
            "today: {} people already provisioned in the sandboxes ({accounts} accounts, {grants} grants)",
            people.len()
        ));
    }

    /// Plans `people` against what the systems hold now, prints the plan and the
    /// blast-radius check, runs `prepare`, applies, prints the report, and plans again
    /// to show what is left.
    async fn scene(
        &mut self,
        run: &str,
        event: &str,
        people: Vec<Identity>,
        prepare: impl FnOnce(&Self, &Plan),
    ) -> Result<SceneOutcome, QuickstartError> {
        for person in &people {
            if let Some(slot) = self.roster.iter_mut().find(|p| p.id == person.id) {
                *slot = person.clone();
            }
        }
        let guarded = self.engine.plan_for(&self.roster, &people, event).await?;

        let preview = guarded.preview();
        self.console.say(format!(
            "plan ({} operations, {} dependency edges; event {event}):",
            preview.operations.len(),
            preview.dependencies.len()
        ));
        for line in show::plan(preview) {
            self.console.say(line);
        }
        for op in guarded.report_only() {
            self.console.say(format!(
                "   report only (enforcement: report): {} {}",
                op.system,
                show::what(&op.kind)
            ));
        }
        self.say_blast_radius(preview);
        let plan = guarded.approve()?;

        prepare(self, &plan);
        self.progress.follow(&plan, |op| self.name_of(&op.identity));
        self.console.say("applying:");
        let report = self.engine.apply_as(&RunId(run.to_owned()), &plan).await?;
        for line in show::report(&report) {
            self.console.say(line);
        }

        let again = self
            .engine
            .plan_for(&self.roster, &people, event)
            .await?
            .preview()
            .operations
            .len();
        self.console.say(if again == 0 {
            "  read back: every system now matches the policies (a second plan is empty)".to_owned()
        } else {
            format!("  read back: {again} operations still to do on the next run")
        });
        Ok(SceneOutcome {
            plan: plan.plan().clone(),
            report,
            started: self.progress.first_started(),
            remaining: again,
        })
    }

    pub(crate) fn say_blast_radius(&self, plan: &Plan) {
        let removals: Vec<_> = plan
            .operations
            .iter()
            .filter(|o| o.kind.is_removal())
            .collect();
        let people: BTreeSet<&IdentityId> = removals.iter().map(|o| &o.identity).collect();
        let limits = &self.engine.config().blast_radius;
        let verdict =
            match provision_core::planner::check_blast_radius(plan, self.roster.len(), limits) {
                Ok(()) => "within the limits".to_owned(),
                Err(e) => format!("REFUSED: {e}"),
            };
        self.console.say(format!(
            "blast radius: {} removals taking access from {} of {} people — {verdict}",
            removals.len(),
            people.len(),
            self.roster.len()
        ));
    }

    /// Scene 1: Sarah joins as a Sales Engineer. GitLab creates her account on her
    /// first SSO login (she signs in while the run waits); one Jira write times out
    /// after it took effect.
    pub async fn onboard_sarah(&mut self) -> Result<SceneOutcome, QuickstartError> {
        let sarah = self.person(SARAH)?;
        self.console.say("");
        self.console.say(format!(
            "== 1. joiner: {} starts as {} ==",
            sarah.display_name,
            sarah.attribute("title").unwrap_or("?")
        ));
        let outcome = self
            .scene(
                "quickstart-1-joiner",
                "hr:hire:e1001",
                vec![sarah.clone()],
                |qs, plan| {
                    qs.why(
                        &sarah,
                        &Entitlement::new("okta", "group", "engineering-team"),
                    );
                    qs.arm_jira_timeout(plan);
                    qs.sign_in_when_gitlab_waits(&sarah, plan);
                },
            )
            .await?;
        Ok(outcome)
    }

    /// Prints the answer to "why does this person have this?".
    fn why(&self, person: &Identity, entitlement: &Entitlement) {
        let because = self.engine.why(person, entitlement);
        if because.is_empty() {
            return;
        }
        self.console.say(format!(
            "why does {} get {}/{}?",
            person.display_name,
            entitlement.system,
            show::entitlement(entitlement)
        ));
        for reason in &because {
            let source = reason.source.as_ref().map(|s| {
                let file = s
                    .file
                    .find("examples/")
                    .map_or(&s.file[..], |i| &s.file[i..]);
                format!("{file}:{}", s.line)
            });
            self.console
                .say(format!("  {}", show::provenance(reason, source)));
        }
    }

    fn arm_jira_timeout(&self, plan: &Plan) {
        let grant = plan
            .operations
            .iter()
            .find(|o| o.system.as_str() == "jira" && matches!(o.kind, OperationKind::Grant { .. }));
        if let (Some(op), Some(faults)) = (grant, self.systems.faults("jira")) {
            faults.arm(op.id.clone());
            self.console.say(format!(
                "(injected: jira answers {} with a timeout after making the change)",
                show::what(&op.kind)
            ));
        }
    }

    fn sign_in_when_gitlab_waits(&self, person: &Identity, plan: &Plan) {
        let create = plan.operations.iter().find(|o| {
            o.system.as_str() == "gitlab" && matches!(o.kind, OperationKind::CreateAccount { .. })
        });
        let (Some(op), Some(gitlab)) = (create, self.systems.sandbox("gitlab")) else {
            return;
        };
        let console = Arc::clone(&self.console);
        let login = person.login.clone();
        let name = person.display_name.clone();
        self.progress.when_pending(op.id.clone(), move || {
            let sign_in = async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                console.say(format!(
                    "         {name} signs in to GitLab through Okta for the first time"
                ));
                gitlab.sso_login(&login);
            };
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(sign_in);
                }
                Err(_) => {
                    // Outside a runtime nobody waits for the login: it never happens.
                }
            }
        });
    }

    /// Scene 2: Priya moves from Engineering to Sales as an Account Executive.
    pub async fn move_priya_to_sales(&mut self) -> Result<SceneOutcome, QuickstartError> {
        let mut priya = self.person(PRIYA)?;
        self.console.say("");
        self.console.say(format!(
            "== 2. mover: {} moves from {} to Sales as Account Executive ==",
            priya.display_name,
            priya.attribute("department").unwrap_or("?")
        ));
        priya.attributes.insert("department".into(), "Sales".into());
        priya
            .attributes
            .insert("title".into(), "Account Executive".into());
        self.scene(
            "quickstart-2-mover",
            "hr:transfer:e1003",
            vec![priya],
            |_, _| {},
        )
        .await
    }

    /// Scene 3: Tom leaves. A wrong export that makes everyone a leaver is refused first.
    pub async fn offboard_tom(&mut self) -> Result<SceneOutcome, QuickstartError> {
        let mut tom = self.person(TOM)?;
        self.console.say("");
        self.console.say(format!(
            "== 3. leaver: {} leaves the company, effective now ==",
            tom.display_name
        ));
        self.guard_everyone_leaving().await?;
        // Effective now, not backdated: the leaver KPI of scene 6 then shows the real
        // time from the termination to the last revocation.
        tom.status = EmploymentStatus::Terminated {
            effective: Utc::now(),
        };
        let outcome = self
            .scene(
                "quickstart-3-leaver",
                "hr:termination:e1004",
                vec![tom],
                |_, _| {},
            )
            .await?;
        // Per system, in the order sent: sessions end before the account is suspended.
        let mut per_system: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for op in outcome.started.iter().filter_map(|id| outcome.plan.get(id)) {
            per_system
                .entry(op.system.as_str())
                .or_default()
                .push(op.kind.verb());
        }
        let order: Vec<String> = per_system
            .iter()
            .map(|(system, verbs)| format!("{system}: {}", verbs.join(" → ")))
            .collect();
        self.console
            .say(format!("  order per system: {}", order.join("; ")));
        Ok(outcome)
    }

    /// A wrong HR export marks everyone terminated: the plan is refused, nothing runs.
    async fn guard_everyone_leaving(&self) -> Result<(), QuickstartError> {
        let now = Utc::now();
        let everyone: Vec<Identity> = self
            .roster
            .iter()
            .cloned()
            .map(|mut p| {
                p.status = EmploymentStatus::Terminated { effective: now };
                p
            })
            .collect();
        let guarded = self.engine.plan(&everyone, "hr:export:broken").await?;
        if let Some(e) = guarded.exceeded() {
            self.console.say(format!(
                "(first, a broken HR export marking all {} people terminated: {} removals — refused: limit {}; nothing applied)",
                e.population, e.operations, e.limit
            ));
        }
        Ok(())
    }

    /// Reads the audit trail back from the SQLite file: verifies the hash chain on the
    /// database, prints the leaver's history (a query of the store) with the reason
    /// of each change, and shows that an edited record is caught.
    pub async fn audit_trail(&self) -> Result<VerifiedChain, QuickstartError> {
        let verified = self.store.verify_audit().await?;
        self.console.say("");
        self.console.say(format!(
            "== audit trail: {} records in {} (SQLite) ==",
            verified.records,
            self.store.path().display()
        ));
        let tom = self.person(TOM)?;
        let history = self.store.identity_history(&tom.id).await?;
        self.console.say(format!(
            "  history of {} ({}), from the store:",
            tom.display_name, tom.id
        ));
        for r in &history {
            self.console.say(show::audit_record(r));
        }
        if let Some(head) = verified.anchor() {
            self.console.say(format!(
                "  hash chain verified on the database from #0 to #{} (head {}…)",
                head.seq,
                head.hash.get(..16).unwrap_or(&head.hash)
            ));
        }
        let mut edited = self.store.records().await?;
        if let Some(r) = edited.get_mut(1) {
            r.event.actor = "someone-else".into();
            if let Err(e) = verify(&edited) {
                self.console
                    .say(format!("  an edited record is caught: {e}"));
            }
        }
        Ok(verified)
    }
}
