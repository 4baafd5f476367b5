//! The `Adapter` trait every system implements, and the types it speaks.
//!
//! # Why this shape
//!
//! An adapter is thin: it maps entitlements onto one system and speaks that
//! system's API. The trait therefore has exactly four things to do:
//!
//! * [`Adapter::descriptor`] — say what the system understands (checked when
//!   policies load);
//! * [`Adapter::read_accounts`] and [`Adapter::read_grants`] — read actual state one
//!   page at a time, so a 100k-user org is never one call and the caller can pace
//!   reads by the system's rate limit (use [`read_all_accounts`] / [`read_all_grants`]
//!   to drain them);
//! * [`Adapter::execute`] — make one change. Operations are idempotent by contract:
//!   an adapter turns "already a member" / "already deactivated" into
//!   [`Effect::AlreadyInPlace`] (or [`AdapterError::AlreadyDone`]), so the executor
//!   may safely re-send a change whose first attempt timed out;
//! * [`Adapter::check`] (optional) — tell whether an operation has taken effect,
//!   used for pending work and for confirming a conflict or an interrupted attempt.
//!
//! Adapters never sleep and never retry: they report rate-limit headroom
//! ([`RateLimitInfo`]) and classified errors ([`AdapterError`]); the executor owns
//! waiting and retrying, across all systems at once.
//!
//! An adapter never needs to know the name its system has in `provision.yaml` (the
//! same adapter may serve `wiki` and `wiki-eu`, and a system may be renamed): the
//! operations and resources it is given carry that name, and whatever it writes in
//! the [`Entitlement::system`](crate::model::Entitlement::system) of the grants it
//! reads, the engine replaces with the name of the system it read
//! ([`crate::planner::in_system`]). The factory gets the name in
//! [`SystemSpec::name`] for error messages.
//!
//! A revoke or delete answered "not found" ([`AdapterError::NotFound`]) is done: the
//! executor records it as already in place, and so does the shared conformance suite.
//!
//! The sketch below shows the shape; `examples/wiki_adapter.rs` in the repository is
//! a complete adapter (state, paged reads, `read_account_grants`, a factory, an
//! engine over it, the conformance suite passing), run in CI.
//!
//! # A custom adapter in an afternoon
//!
//! ```
//! use async_trait::async_trait;
//! use provision_core::adapter::*;
//! use provision_core::model::*;
//!
//! /// An internal wiki whose only entitlement is "space membership".
//! struct Wiki {
//!     descriptor: SystemDescriptor,
//! }
//!
//! impl Wiki {
//!     fn new() -> Self {
//!         let mut descriptor = SystemDescriptor::new("wiki");
//!         descriptor.kinds.push(ResourceKindDescriptor::new("space", &["add_to_space"]));
//!         Wiki { descriptor }
//!     }
//! }
//!
//! #[async_trait]
//! impl Adapter for Wiki {
//!     fn descriptor(&self) -> &SystemDescriptor {
//!         &self.descriptor
//!     }
//!
//!     async fn read_accounts(&self, _cursor: Option<&str>) -> Result<Page<AccountRecord>, AdapterError> {
//!         Ok(Page::last(Vec::new())) // the wiki has no accounts of its own
//!     }
//!
//!     async fn read_grants(&self, _resource: &ResourceRef, _cursor: Option<&str>)
//!         -> Result<Page<GrantRecord>, AdapterError> {
//!         Ok(Page::last(Vec::new())) // call the wiki's member listing here
//!     }
//!
//!     async fn execute(&self, op: &Operation, _account: &AccountRef) -> Result<Applied, AdapterError> {
//!         match &op.kind {
//!             OperationKind::Grant { .. } | OperationKind::Revoke { .. } => {
//!                 // call the wiki's API here; map "already a member" to AlreadyInPlace
//!                 Ok(Applied::changed())
//!             }
//!             other => Err(AdapterError::Unsupported { what: other.verb().to_owned() }),
//!         }
//!     }
//! }
//! ```

mod descriptor;
mod error;
mod evidence;
mod factory;
mod rate_limit;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use descriptor::{
    Descriptors, PendingDeadline, RateBudget, ResourceKindDescriptor, RoleModel, SystemDescriptor,
};
pub use error::{AdapterError, SystemError};
pub use evidence::{CollectedEvidence, EvidenceSource};
pub use factory::{AdapterFactory, ConfigError, FactoryRegistry, IntoAdapterFactory, SystemSpec};
pub use rate_limit::RateLimitInfo;

use crate::model::{
    AccountRecord, AccountRef, GrantRecord, Operation, OperationId, ResourceRecord, ResourceRef,
    SystemName,
};

/// One page of a paginated read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// The opaque cursor for the next page; `None` on the last page.
    pub next: Option<String>,
    /// What the server said about its rate limit on this response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitInfo>,
}

impl<T> Page<T> {
    /// The last (or only) page.
    pub fn last(items: Vec<T>) -> Self {
        Self {
            items,
            next: None,
            rate_limit: None,
        }
    }

    /// A page, followed by the page at `next` when it is `Some`.
    pub fn new(items: Vec<T>, next: Option<String>) -> Self {
        Self {
            items,
            next,
            rate_limit: None,
        }
    }

    /// Builder-style: rate-limit headroom announced on the response.
    pub fn with_rate_limit(mut self, info: Option<RateLimitInfo>) -> Self {
        self.rate_limit = info;
        self
    }
}

/// What an executed operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// The system changed.
    Changed,
    /// Nothing to do: it was already so (member already, already deactivated, adopted
    /// an existing account of the same person).
    AlreadyInPlace,
}

/// A successful operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Applied {
    /// Changed, or already in place.
    pub effect: Effect,
    /// The account's id in the system, when the operation created or found it; the
    /// executor passes it to the operations that depend on this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Rate-limit headroom the server announced on the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitInfo>,
    /// What a person reading the run's report should know about how the change was
    /// made, when it differs from what was asked (GitLab blocked a leaver it refused to
    /// deactivate). The executor puts it in the operation's report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Applied {
    /// The system changed.
    pub fn changed() -> Self {
        Self {
            effect: Effect::Changed,
            external_id: None,
            rate_limit: None,
            note: None,
        }
    }

    /// Already so.
    pub fn already_in_place() -> Self {
        Self {
            effect: Effect::AlreadyInPlace,
            external_id: None,
            rate_limit: None,
            note: None,
        }
    }

    /// Builder-style: the account id.
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }

    /// Builder-style: rate-limit headroom.
    pub fn with_rate_limit(mut self, info: Option<RateLimitInfo>) -> Self {
        self.rate_limit = info;
        self
    }

    /// Builder-style: a note for the run's report.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The answer of [`Adapter::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckStatus {
    /// The operation's effect is in place.
    Done {
        /// The account id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
    /// Not yet; look again later.
    Pending {
        /// When to look again.
        #[serde(with = "crate::serde_util::duration_ms")]
        recheck_after: Duration,
    },
    /// Not in place and nothing is under way: sending it again is right.
    NotDone,
}

/// One system, as the SDK drives it.
///
/// See the [module documentation](self) for the design and an example.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// What the system understands and can do.
    fn descriptor(&self) -> &SystemDescriptor;

    /// One page of the system's accounts. `cursor` is `None` for the first page and
    /// then the previous page's [`Page::next`].
    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError>;

    /// One page of the grants held on one resource that policies mention (members of
    /// a group, assignees of an app or permission set on an account).
    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError>;

    /// One page of everything one account holds in this system, on every resource of
    /// every [enumerable](ResourceKindDescriptor::enumerable) kind, whether or not a
    /// policy names it (a user's groups and app links in Okta, a user's groups in
    /// Google, a user's group memberships and account assignments in AWS).
    ///
    /// This is what lets a leaver in a system that cannot suspend end with no grants
    /// at all, an authoritative kind lose a hand-made grant, and drift see grants on
    /// resources no policy names. An unknown account is an empty page, not an error.
    /// The default says [`AdapterError::Unsupported`].
    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let _ = (account, cursor);
        Err(AdapterError::Unsupported {
            what: "read_account_grants".to_owned(),
        })
    }

    /// One page of the resources of one [enumerable](ResourceKindDescriptor::enumerable)
    /// kind (every group, every app). The default says [`AdapterError::Unsupported`].
    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        let _ = (kind, cursor);
        Err(AdapterError::Unsupported {
            what: "list_resources".to_owned(),
        })
    }

    /// The system's own id for a resource, for systems where one resource has several
    /// spellings (Slack: `#eng`, `eng` and `C0123` are one channel, and a renamed
    /// channel keeps its id). The planner asks it for each resource policies name and
    /// each resource a read returned, and gives a grant read under another spelling
    /// the policy's own ([`crate::planner::read_system_with`]), so a read never looks
    /// like a missing grant plus a hand-made one. The default, `None`: resources are
    /// matched by name as written.
    async fn resource_id(&self, resource: &ResourceRef) -> Result<Option<String>, AdapterError> {
        let _ = resource;
        Ok(None)
    }

    /// Makes one change. `account` names the identity's account in this system, with
    /// its external id when known.
    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError>;

    /// Makes several changes on one resource whose membership is written as a whole
    /// list ([`ResourceKindDescriptor::whole_list_membership`]): one read and one write
    /// for the batch where the API allows it. Returns one result per operation, in
    /// order. The default runs them one by one with [`Adapter::execute`].
    async fn execute_batch(
        &self,
        batch: &[(Operation, AccountRef)],
    ) -> Vec<Result<Applied, AdapterError>> {
        let mut out = Vec::with_capacity(batch.len());
        for (op, account) in batch {
            out.push(self.execute(op, account).await);
        }
        out
    }

    /// Whether `op` has taken effect. Used for pending operations and to confirm a
    /// conflict or an attempt interrupted mid-flight. The default says "not done",
    /// which makes the executor send the (idempotent) operation again.
    async fn check(
        &self,
        op: &Operation,
        account: &AccountRef,
    ) -> Result<CheckStatus, AdapterError> {
        let _ = (op, account);
        Ok(CheckStatus::NotDone)
    }

    /// What this adapter needs, after a restart, to find a pending operation's
    /// progress again (an asynchronous request's id): the executor keeps it in the
    /// journal with the pending state and hands it back with
    /// [`Adapter::resume_pending`]. The default keeps nothing.
    fn pending_resume_token(&self, op: &OperationId) -> Option<String> {
        let _ = op;
        None
    }

    /// Hands back, when a run is resumed, the token [`Adapter::pending_resume_token`]
    /// gave for `op`, before `op` is checked again. The default ignores it.
    fn resume_pending(&self, op: &OperationId, token: &str) {
        let _ = (op, token);
    }

    /// What the run report and the audit record should say about how `op` is carried
    /// out, beyond its outcome: the ticket that asks a person for it ("Jira issue
    /// PAY-7"). Asked when the operation goes pending, succeeds or fails, unless the
    /// adapter's answer already carried a note ([`Applied::note`]). The default says
    /// nothing.
    fn operation_note(&self, op: &OperationId) -> Option<String> {
        let _ = op;
        None
    }

    /// The adapter's read-only evidence reads, when it has any (see
    /// [`EvidenceSource`]). The default has none.
    fn evidence_source(&self) -> Option<&dyn EvidenceSource> {
        None
    }
}

/// Why draining a paginated read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The adapter (or the system) failed.
    #[error("{system}: {error}")]
    Adapter {
        /// Which system.
        system: SystemName,
        /// What it said.
        error: Box<AdapterError>,
    },
    /// The system gave a cursor it had already given: following it would never end.
    #[error(
        "{system}: the page cursor {cursor:?} came back a second time (the read would never end)"
    )]
    CursorLoop {
        /// Which system.
        system: SystemName,
        /// The repeated cursor.
        cursor: String,
    },
    /// The system returned the same account twice in one read.
    #[error("{system}: the read returned account {external_id} twice")]
    DuplicateAccount {
        /// Which system.
        system: SystemName,
        /// The account's id.
        external_id: String,
    },
}

impl ReadError {
    /// The adapter's error, when that is what failed.
    pub fn adapter_error(&self) -> Option<&AdapterError> {
        match self {
            ReadError::Adapter { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

/// Follows a paginated read to its last page: `fetch(cursor)` gives one page. A
/// cursor that comes back a second time is [`ReadError::CursorLoop`].
pub async fn drain_pages<T, F, Fut>(system: &SystemName, mut fetch: F) -> Result<Vec<T>, ReadError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, AdapterError>>,
{
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = fetch(cursor.clone())
            .await
            .map_err(|error| ReadError::Adapter {
                system: system.clone(),
                error: Box::new(error),
            })?;
        out.extend(page.items);
        match page.next {
            None => return Ok(out),
            Some(next) => {
                if !seen.insert(next.clone()) {
                    return Err(ReadError::CursorLoop {
                        system: system.clone(),
                        cursor: next,
                    });
                }
                cursor = Some(next);
            }
        }
    }
}

/// Checks that a read of accounts named each account once.
pub fn check_unique_accounts(
    system: &SystemName,
    accounts: &[AccountRecord],
) -> Result<(), ReadError> {
    let mut seen = std::collections::HashSet::with_capacity(accounts.len());
    for account in accounts {
        if !seen.insert(account.external_id.as_str()) {
            return Err(ReadError::DuplicateAccount {
                system: system.clone(),
                external_id: account.external_id.clone(),
            });
        }
    }
    Ok(())
}

/// Reads every account, page by page, until the last page. A cursor that loops or an
/// account returned twice is an error naming the system.
pub async fn read_all_accounts(adapter: &dyn Adapter) -> Result<Vec<AccountRecord>, ReadError> {
    let system = SystemName::new(adapter.descriptor().adapter_type.clone());
    let accounts = drain_pages(&system, |cursor| async move {
        adapter.read_accounts(cursor.as_deref()).await
    })
    .await?;
    check_unique_accounts(&system, &accounts)?;
    Ok(accounts)
}

/// Reads every grant on one resource, page by page, until the last page.
pub async fn read_all_grants(
    adapter: &dyn Adapter,
    resource: &ResourceRef,
) -> Result<Vec<GrantRecord>, ReadError> {
    drain_pages(&resource.system, |cursor| async move {
        adapter.read_grants(resource, cursor.as_deref()).await
    })
    .await
}

/// Reads everything one account holds, page by page, until the last page.
pub async fn read_all_account_grants(
    adapter: &dyn Adapter,
    system: &SystemName,
    account: &AccountRef,
) -> Result<Vec<GrantRecord>, ReadError> {
    drain_pages(system, |cursor| async move {
        adapter
            .read_account_grants(account, cursor.as_deref())
            .await
    })
    .await
}

/// Lists every resource of one kind, page by page, until the last page.
pub async fn list_all_resources(
    adapter: &dyn Adapter,
    system: &SystemName,
    kind: &str,
) -> Result<Vec<ResourceRecord>, ReadError> {
    drain_pages(system, |cursor| async move {
        adapter.list_resources(kind, cursor.as_deref()).await
    })
    .await
}
