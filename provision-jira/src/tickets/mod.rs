//! `adapter: jira-tickets`: a system without an API (payroll, an on-prem tool),
//! fulfilled by people through Jira issues.
//!
//! * **An operation opens an issue** in the configured project and type, naming the
//!   person, the system, the entitlement, the reason (policies and event) and the
//!   operation's id. The operation stays **pending** until the issue reaches a done
//!   status ([`TicketConfig::done_statuses`], or Jira's `done` status category).
//! * **One issue per person per event**: a person's other operations from the same
//!   event (a leaver's revocations) are added to the open issue (one `PUT` rewriting
//!   its description, record and labels), never an issue per grant.
//! * **Never a second issue for one operation**: each issue carries a label per
//!   operation and its record in the issue property `provision`; before opening one,
//!   the adapter searches the person's issues (one `GET /search/jql`). The key is also
//!   kept in the journal ([`Adapter::pending_resume_token`]), so a restarted run checks
//!   the same issue.
//! * **Later runs**: [`Adapter::check`] reads the issue. Done is done; a rejected
//!   resolution ([`TicketConfig::rejected_resolutions`]) fails the operation with the
//!   resolver's last comment; an issue open longer than
//!   [`TicketConfig::deadline_business_days`] fails it as overdue (code
//!   `ticket_overdue`), which the run report shows as a finding. The issue stays; the
//!   next run finds it again.
//! * **Reads**: what the system holds is what its done tickets did, applied in the
//!   order they were resolved ([`ledger::Ledger`]); a `listing` export of the system,
//!   where there is one, is the truer read.
//!
//! The issue key is in the operation's error (pending, failed) and note (done), and so
//! in the run report and the audit record.

pub mod config;
pub mod factory;
pub mod issue;
pub mod ledger;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use provision_core::adapter::{
    Adapter, AdapterError, Applied, CheckStatus, Page, PendingDeadline, RateBudget,
    ResourceKindDescriptor, SystemDescriptor, SystemError,
};
use provision_core::clock::{Clock, SystemClock};
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, GrantRecord, IdentityId, Operation, OperationId,
    OperationKind, ResourceRef,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::JiraClient;
use crate::descriptor::BUDGET_SITE;
use config::TicketConfig;
use issue::{
    AskedOperation, CommentPage, Issue, LABEL, PROPERTY, SearchPage, TicketRecord, adf, adf_text,
    event_of, operation_label, person_label, sentence,
};
use ledger::{Ledger, Verdict, overdue, verdict};

/// The adapter type in `provision.yaml`.
pub const ADAPTER_TYPE: &str = "jira-tickets";

/// How long reads reuse the ledger the last account read folded (by the adapter's
/// clock): one plan's reads cost one search.
pub const LEDGER_TTL: Duration = Duration::from_secs(300);

/// The fields every search and issue read asks for.
const FIELDS: &str = "status,resolution,resolutiondate,created,labels";

/// The descriptor of a `jira-tickets` system with `config`'s kinds.
pub fn ticket_descriptor(config: &TicketConfig) -> SystemDescriptor {
    ticket_descriptor_of_kinds(&config.kinds, config.accounts)
}

/// The descriptor of a `jira-tickets` system with these kinds, and with accounts of
/// its own to create and disable when `accounts`.
pub fn ticket_descriptor_of_kinds(
    kinds: &[config::ManualKind],
    accounts: bool,
) -> SystemDescriptor {
    let mut descriptor = SystemDescriptor::new(ADAPTER_TYPE);
    if accounts {
        descriptor = descriptor.with_accounts().can_suspend(true);
    }
    descriptor = descriptor
        // A person does the work, however long it takes: the run does not wait, a later
        // run (or a resume) checks the issue.
        .with_pending_deadline(PendingDeadline::FirstLogin)
        .with_rate_budget(RateBudget::new(BUDGET_SITE, None));
    for kind in kinds {
        descriptor = descriptor.with_kind(ResourceKindDescriptor::new(
            kind.kind.clone(),
            &[kind.action.as_str()],
        ));
    }
    descriptor
}

/// The ticket adapter. See the [module documentation](self).
pub struct TicketAdapter {
    client: JiraClient,
    config: TicketConfig,
    descriptor: SystemDescriptor,
    system_name: String,
    clock: Arc<dyn Clock>,
    /// Operation → the issue that asks for it (from this process or the journal).
    keys: Mutex<BTreeMap<OperationId, String>>,
    /// One lock per person: their operations search, open and append one at a time.
    people: Mutex<BTreeMap<IdentityId, Arc<tokio::sync::Mutex<()>>>>,
    /// The last folded ledger and when it was read.
    ledger: Mutex<Option<(DateTime<Utc>, Arc<Ledger>)>>,
}

impl std::fmt::Debug for TicketAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketAdapter")
            .field("client", &self.client)
            .field("project", &self.config.project)
            .field("system", &self.system_name)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A JQL string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl TicketAdapter {
    /// An adapter for `config`, on the system clock.
    pub fn new(config: TicketConfig) -> Result<Self, provision_core::adapter::ConfigError> {
        let client = JiraClient::new(&config.jira)?;
        Ok(Self {
            client,
            descriptor: ticket_descriptor(&config),
            system_name: config.jira.system_name().to_owned(),
            config,
            clock: Arc::new(SystemClock),
            keys: Mutex::new(BTreeMap::new()),
            people: Mutex::new(BTreeMap::new()),
            ledger: Mutex::new(None),
        })
    }

    /// Builder-style: the clock deadlines and the ledger's age are judged by.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builder-style: the system's name in the deployment (it names the system in the
    /// tickets it opens).
    pub fn with_system_name(mut self, name: impl Into<String>) -> Self {
        self.system_name = name.into();
        self
    }

    /// The issue that asks for `op`, when known.
    pub fn issue_key(&self, op: &OperationId) -> Option<String> {
        lock(&self.keys).get(op).cloned()
    }

    fn remember(&self, op: &OperationId, key: &str) {
        lock(&self.keys).insert(op.clone(), key.to_owned());
    }

    fn person_lock(&self, identity: &IdentityId) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.people)
            .entry(identity.clone())
            .or_default()
            .clone()
    }

    /// Every issue `jql` finds, page by page (100 a page).
    async fn search(&self, jql: &str) -> Result<Vec<Issue>, AdapterError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let mut query = vec![
                ("jql", jql),
                ("fields", FIELDS),
                ("properties", PROPERTY),
                ("maxResults", "100"),
            ];
            if let Some(t) = &token {
                query.push(("nextPageToken", t.as_str()));
            }
            let url = self.client.site_url(&["search", "jql"], &query);
            let (page, _): (SearchPage, _) = self.client.site_get(url).await?;
            out.extend(page.issues);
            match page.next_page_token {
                Some(next) if page.is_last != Some(true) => {
                    if !seen.insert(next.clone()) {
                        return Err(AdapterError::Permanent {
                            error: SystemError::message(format!(
                                "Jira gave the search page token {next:?} twice"
                            )),
                        });
                    }
                    token = Some(next);
                }
                _ => return Ok(out),
            }
        }
    }

    /// The person's tickets, oldest first.
    async fn person_issues(&self, identity: &IdentityId) -> Result<Vec<Issue>, AdapterError> {
        let jql = format!(
            "project = {} AND labels = {} ORDER BY created ASC",
            quoted(&self.config.project),
            quoted(&person_label(identity.as_str()))
        );
        self.search(&jql).await
    }

    /// Every ticket of the adapter folded into the system's state.
    async fn read_ledger(&self) -> Result<Arc<Ledger>, AdapterError> {
        let jql = format!(
            "project = {} AND labels = {} ORDER BY created ASC",
            quoted(&self.config.project),
            quoted(LABEL)
        );
        let issues = self.search(&jql).await?;
        let ledger = Arc::new(Ledger::fold(&self.config, &issues));
        *lock(&self.ledger) = Some((self.clock.now(), ledger.clone()));
        Ok(ledger)
    }

    /// The ledger of the last account read when younger than [`LEDGER_TTL`].
    async fn ledger(&self) -> Result<Arc<Ledger>, AdapterError> {
        let cached = lock(&self.ledger).clone();
        if let Some((at, ledger)) = cached {
            let age = (self.clock.now() - at).to_std().unwrap_or(Duration::ZERO);
            if age < LEDGER_TTL {
                return Ok(ledger);
            }
        }
        self.read_ledger().await
    }

    fn forget_ledger(&self) {
        *lock(&self.ledger) = None;
    }

    async fn get_issue(&self, key: &str) -> Result<Issue, AdapterError> {
        let url = self.client.site_url(
            &["issue", key],
            &[("fields", FIELDS), ("properties", PROPERTY)],
        );
        Ok(self.client.site_get(url).await?.0)
    }

    /// The resolver's last comment on a rejected issue, as the operation's error.
    async fn rejection(&self, issue: &Issue, resolution: &str) -> AdapterError {
        let url = self.client.site_url(
            &["issue", issue.key.as_str(), "comment"],
            &[("orderBy", "-created"), ("maxResults", "1")],
        );
        let said = match self.client.site_get::<CommentPage>(url).await {
            Ok((page, _)) => page.comments.first().map(|c| {
                let who = c
                    .author
                    .as_ref()
                    .map(|a| a.display_name.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| "someone".to_owned());
                format!("{who}: {}", adf_text(&c.body))
            }),
            Err(e) => Some(format!("(the comments could not be read: {e})")),
        };
        AdapterError::Permanent {
            error: SystemError::new(
                None,
                Some(resolution.to_owned()),
                format!(
                    "{} resolved as {resolution} — {}",
                    issue.key,
                    said.unwrap_or_else(|| "no comment".to_owned())
                ),
            ),
        }
    }

    /// What an open issue means for its operation now: pending, or overdue.
    fn open(&self, issue: &Issue) -> AdapterError {
        let status = issue
            .fields
            .status
            .as_ref()
            .map_or("open", |s| s.name.as_str());
        if let Some(created) = issue.created()
            && overdue(
                created,
                self.clock.now(),
                self.config.deadline_business_days,
            )
        {
            return AdapterError::Permanent {
                error: SystemError::new(
                    None,
                    Some("ticket_overdue".to_owned()),
                    format!(
                        "{} still {status} since {} (deadline {} business days)",
                        issue.key,
                        created.format("%Y-%m-%d %H:%M UTC"),
                        self.config.deadline_business_days
                    ),
                ),
            };
        }
        AdapterError::Pending {
            recheck_after: self.config.recheck_after,
            error: SystemError::new(
                None,
                Some(issue.key.clone()),
                format!("{} {status}: waiting for a person", issue.key),
            ),
        }
    }

    /// Whether the ledger already shows `op`'s effect.
    fn in_place(ledger: &Ledger, op: &Operation) -> bool {
        let account = ledger.accounts.get(&op.login);
        match &op.kind {
            OperationKind::CreateAccount { .. } | OperationKind::ReactivateAccount => {
                account.is_some_and(|a| a.state.is_enabled())
            }
            OperationKind::SuspendAccount => {
                account.is_none_or(|a| a.state == AccountState::Suspended)
            }
            OperationKind::DeleteAccount => account.is_none(),
            OperationKind::Grant { entitlement } => ledger.holds(&op.login, entitlement),
            OperationKind::Revoke { entitlement } => !ledger.holds(&op.login, entitlement),
            _ => false,
        }
    }

    /// Opens an issue for `op`, or adds `op` to the person's open issue of the same
    /// event. Returns the key.
    async fn ask(&self, op: &Operation, issues: &[Issue]) -> Result<String, AdapterError> {
        let event = event_of(op);
        let mut asked = AskedOperation::of(op);
        asked.text = sentence(op, &self.system_name);
        let op_label = operation_label(&op.id.0);
        let open_same_event = issues.iter().rev().find(|i| {
            verdict(&self.config, i) == Verdict::Open
                && i.record().is_some_and(|r| r.event == event)
        });
        if let Some(issue) = open_same_event
            && let Some(mut record) = issue.record()
        {
            record.operations.push(asked);
            let body = json!({
                "fields": {"description": self.description(&record)},
                "update": {"labels": [{"add": op_label}]},
                "properties": [{"key": PROPERTY, "value": record}],
            });
            let url = self.client.site_url(&["issue", issue.key.as_str()], &[]);
            self.client.site(Method::PUT, url, Some(&body)).await?;
            return Ok(issue.key.clone());
        }
        let record = TicketRecord {
            identity: op.identity.as_str().to_owned(),
            login: op.login.clone(),
            event: event.clone(),
            operations: vec![asked],
        };
        let mut fields = self.config.fields.clone();
        fields.insert("project".into(), json!({"key": self.config.project}));
        fields.insert("issuetype".into(), json!({"name": self.config.issue_type}));
        let mut summary = format!("{}: access for {}", self.system_name, op.login);
        if !event.is_empty() {
            summary.push_str(&format!(" ({event})"));
        }
        fields.insert("summary".into(), Value::String(summary));
        fields.insert("description".into(), self.description(&record));
        fields.insert(
            "labels".into(),
            json!([LABEL, person_label(op.identity.as_str()), op_label]),
        );
        let body = json!({
            "fields": fields,
            "properties": [{"key": PROPERTY, "value": record}],
        });
        let url = self.client.site_url(&["issue"], &[]);
        let reply = self.client.site(Method::POST, url, Some(&body)).await?;
        let created: Value = reply.json(crate::client::SYSTEM)?;
        created
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| AdapterError::Permanent {
                error: SystemError::new(
                    Some(reply.status),
                    None,
                    "Jira created the issue but its answer has no key",
                ),
            })
    }

    fn description(&self, record: &TicketRecord) -> Value {
        let mut lines = vec![format!(
            "provision asks for these changes in {} for {}. Do them, then move this issue to done; \
             resolve it as Won't Do (with a comment saying why) to refuse.",
            self.system_name, record.login
        )];
        lines.extend(record.operations.iter().map(|o| format!("• {}", o.text)));
        adf(&lines)
    }
}

#[async_trait]
impl Adapter for TicketAdapter {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    /// The accounts the done tickets made (external id = login: the system has no ids
    /// the adapter can see). One search, whatever the cursor.
    async fn read_accounts(
        &self,
        _cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let ledger = self.read_ledger().await?;
        if !self.config.accounts {
            return Ok(Page::last(Vec::new()));
        }
        Ok(Page::last(
            ledger
                .accounts
                .iter()
                .map(|(login, a)| AccountRecord::new(login.clone(), login.clone(), a.state))
                .collect(),
        ))
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let ledger = self.ledger().await?;
        let mut out = Vec::new();
        for (login, account) in &ledger.accounts {
            for e in &account.grants {
                if e.kind == resource.kind
                    && e.resource == resource.resource
                    && e.scope == resource.scope
                {
                    let mut e = e.clone();
                    e.system = resource.system.clone();
                    out.push(GrantRecord {
                        entitlement: e,
                        account_external_id: login.clone(),
                        login: Some(login.clone()),
                    });
                }
            }
        }
        Ok(Page::last(out))
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        _cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let ledger = self.ledger().await?;
        let login = account.external_id.as_deref().unwrap_or(&account.login);
        let grants = ledger
            .accounts
            .get(login)
            .map(|a| {
                a.grants
                    .iter()
                    .map(|e| GrantRecord {
                        entitlement: e.clone(),
                        account_external_id: login.to_owned(),
                        login: Some(login.to_owned()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Page::last(grants))
    }

    async fn execute(
        &self,
        op: &Operation,
        _account: &AccountRef,
    ) -> Result<Applied, AdapterError> {
        if matches!(
            op.kind,
            OperationKind::RevokeSessions | OperationKind::UpdateAccount { .. }
        ) {
            return Err(AdapterError::Unsupported {
                what: format!("{} through tickets", op.kind.verb()),
            });
        }
        let person = self.person_lock(&op.identity);
        let _one_at_a_time = person.lock().await;
        self.forget_ledger();
        let issues = self.person_issues(&op.identity).await?;
        let op_label = operation_label(&op.id.0);
        let asking: Vec<&Issue> = issues.iter().filter(|i| i.has_label(&op_label)).collect();
        // An open issue already asks for it: never a second one.
        if let Some(open) = asking
            .iter()
            .rev()
            .find(|i| verdict(&self.config, i) == Verdict::Open)
        {
            self.remember(&op.id, &open.key);
            return Err(self.open(open));
        }
        let ledger = Ledger::fold(&self.config, &issues);
        if Self::in_place(&ledger, op) {
            let mut applied = Applied::already_in_place().with_external_id(op.login.clone());
            if let Some(last) = asking.last() {
                applied = applied.with_note(format!("done in {}", last.key));
            }
            return Ok(applied);
        }
        // The last issue that asked was refused: the answer stands until someone
        // reopens it.
        if let Some(last) = asking.last()
            && let Verdict::Rejected(resolution) = verdict(&self.config, last)
        {
            self.remember(&op.id, &last.key);
            return Err(self.rejection(last, &resolution).await);
        }
        let key = self.ask(op, &issues).await?;
        tracing::info!(operation = %op.id, issue = %key, "ticket asks for the change");
        self.remember(&op.id, &key);
        Err(AdapterError::Pending {
            recheck_after: self.config.recheck_after,
            error: SystemError::new(
                None,
                Some(key.clone()),
                format!("{key} opened: waiting for a person"),
            ),
        })
    }

    async fn check(
        &self,
        op: &Operation,
        _account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        self.forget_ledger();
        let issue = match self.issue_key(&op.id) {
            Some(key) => self.get_issue(&key).await?,
            None => {
                let label = operation_label(&op.id.0);
                let issues = self.person_issues(&op.identity).await?;
                match issues.into_iter().rev().find(|i| i.has_label(&label)) {
                    Some(issue) => issue,
                    None => return Ok(CheckStatus::NotDone),
                }
            }
        };
        self.remember(&op.id, &issue.key);
        match verdict(&self.config, &issue) {
            Verdict::Done => Ok(CheckStatus::Done {
                external_id: Some(op.login.clone()),
            }),
            Verdict::Rejected(resolution) => Err(self.rejection(&issue, &resolution).await),
            Verdict::Open => match self.open(&issue) {
                AdapterError::Pending { recheck_after, .. } => {
                    Ok(CheckStatus::Pending { recheck_after })
                }
                overdue => Err(overdue),
            },
        }
    }

    fn pending_resume_token(&self, op: &OperationId) -> Option<String> {
        self.issue_key(op)
    }

    fn resume_pending(&self, op: &OperationId, token: &str) {
        self.remember(op, token);
    }

    /// The issue that asks for `op`: in the run report and the audit record.
    fn operation_note(&self, op: &OperationId) -> Option<String> {
        self.issue_key(op).map(|key| format!("Jira issue {key}"))
    }
}
