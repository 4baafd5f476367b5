//! The managed tree read once per run: the top-level group, its subgroups and
//! projects, every resource's direct members (each member list read once), and on
//! gitlab.com the top-level group's SAML identities. A person's grants are then the
//! tree's member lists inverted ([`TreeSnapshot::grants_of`]), never the tree
//! re-listed and re-read per account.
//!
//! The snapshot is taken again at the start of every read of accounts (the first
//! thing a plan or a drift run reads) and is used for at most [`SNAPSHOT_MAX_AGE`]
//! by the clock the adapter is given; writes and checks always read GitLab itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use provision_core::adapter::AdapterError;
use provision_core::model::{AccountRecord, GrantRecord, ResourceRecord};

use super::{GitlabAdapter, Source};
use crate::client::PER_PAGE;
use crate::descriptor::{GROUP, PROJECT};
use crate::model::{Group, Member, Project, SamlGroupLink, SamlIdentityRecord};

/// SAML group links by group full path (an empty list: a group known to have none).
pub type SamlLinks = HashMap<String, Vec<SamlGroupLink>>;

/// How long a snapshot serves per-account reads before the tree is read again.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// What one read of the managed tree found.
#[derive(Debug, Default)]
pub struct TreeSnapshot {
    /// The top-level group first, then its descendants.
    pub groups: Vec<Group>,
    /// Every project in the tree.
    pub projects: Vec<Project>,
    /// Each resource's direct members, bots included: (kind, full path, members).
    pub members: Vec<(&'static str, String, Vec<Member>)>,
    /// The groups with SAML group links: GitLab rewrites their memberships at every
    /// sign-in (the identity provider owns them).
    pub saml_links: Arc<SamlLinks>,
    /// gitlab.com: the NameID of each user with a SAML identity in the top-level group.
    pub identities: HashMap<u64, String>,
    /// Each person's (not bot's) held grants, by user id.
    by_user: HashMap<u64, Vec<GrantRecord>>,
    /// When it was read, by the adapter's clock.
    pub taken_at: DateTime<Utc>,
}

impl TreeSnapshot {
    /// The grants the user holds anywhere in the tree.
    pub fn grants_of(&self, user: u64) -> Vec<GrantRecord> {
        self.by_user.get(&user).cloned().unwrap_or_default()
    }

    /// The tree's resources of `kind`, the way [`provision_core::adapter::Adapter::list_resources`] gives them.
    pub fn resources(&self, kind: &str) -> Vec<ResourceRecord> {
        match kind {
            GROUP => self.groups.iter().map(group_record).collect(),
            PROJECT => self.projects.iter().map(project_record).collect(),
            _ => Vec::new(),
        }
    }

    /// Every person (never a bot) who is a direct member of a resource of the tree,
    /// once, in the order first met (the top-level group's members first).
    pub fn people(&self) -> Vec<&Member> {
        let mut seen = std::collections::HashSet::new();
        self.members
            .iter()
            .flat_map(|(_, _, members)| members)
            .filter(|m| !m.is_bot() && seen.insert(m.id))
            .collect()
    }
}

/// A group as a resource record (its parent named for nesting).
pub fn group_record(g: &Group) -> ResourceRecord {
    let mut r = ResourceRecord::new(GROUP, &g.full_path).with_external_id(g.id.to_string());
    if let Some((parent, _)) = g.full_path.rsplit_once('/') {
        r = r.with_parent(parent);
    }
    r
}

/// A project as a resource record, its group named as its parent (projects sit in
/// groups: a group's membership covers its projects).
pub fn project_record(p: &Project) -> ResourceRecord {
    let mut r =
        ResourceRecord::new(PROJECT, &p.path_with_namespace).with_external_id(p.id.to_string());
    if let Some((group, _)) = p.path_with_namespace.rsplit_once('/') {
        r = r.with_parent(group);
    }
    r
}

impl GitlabAdapter {
    /// The snapshot: a fresh read when `fresh`, else the one taken within
    /// [`SNAPSHOT_MAX_AGE`] if there is one.
    pub(super) async fn snapshot(&self, fresh: bool) -> Result<Arc<TreeSnapshot>, AdapterError> {
        if !fresh && let Some(s) = self.cached_snapshot() {
            return Ok(s);
        }
        let snapshot = Arc::new(self.read_tree().await?);
        if let Ok(mut cache) = self.snapshot.lock() {
            *cache = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// The snapshot taken within [`SNAPSHOT_MAX_AGE`], if any.
    pub(super) fn cached_snapshot(&self) -> Option<Arc<TreeSnapshot>> {
        let now = self.clock.now();
        let cache = self.snapshot.lock().ok()?;
        cache
            .as_ref()
            .filter(|s| {
                (now - s.taken_at)
                    .to_std()
                    .is_ok_and(|age| age <= SNAPSHOT_MAX_AGE)
            })
            .cloned()
    }

    /// Forgets the snapshot (a new run starts).
    pub(super) fn forget_snapshot(&self) {
        if let Ok(mut cache) = self.snapshot.lock() {
            *cache = None;
        }
    }

    async fn read_tree(&self) -> Result<TreeSnapshot, AdapterError> {
        let top = self.config().group.clone();
        let root: Group = self.client.get(self.client.url(&["groups", &top])).await?;
        let mut groups = vec![root];
        groups.extend(
            self.client
                .get_all::<Group>(self.client.url_with(
                    &["groups", &top, "descendant_groups"],
                    &[("per_page", PER_PAGE.to_string())],
                ))
                .await?,
        );
        let projects: Vec<Project> = self
            .client
            .get_all(self.client.url_with(
                &["groups", &top, "projects"],
                &[
                    ("include_subgroups", "true".to_owned()),
                    ("with_shared", "false".to_owned()),
                    ("per_page", PER_PAGE.to_string()),
                ],
            ))
            .await?;
        let mut saml_links = SamlLinks::new();
        for g in &groups {
            let links = self.read_saml_links(&g.full_path).await?;
            saml_links.insert(g.full_path.clone(), links);
        }
        if let Ok(mut known) = self.saml_links.lock() {
            known.clone_from(&saml_links);
        }
        let saml_links = Arc::new(saml_links);
        let mut members = Vec::with_capacity(groups.len() + projects.len());
        let sources = groups.iter().map(|g| (GROUP, g.full_path.clone())).chain(
            projects
                .iter()
                .map(|p| (PROJECT, p.path_with_namespace.clone())),
        );
        for (kind, path) in sources {
            let source = Source::of(kind, &path)?;
            let list: Vec<Member> = self
                .client
                .get_all(self.client.url_with(
                    &[source.collection, &path, "members"],
                    &[("per_page", PER_PAGE.to_string())],
                ))
                .await?;
            members.push((source.kind, path, list));
        }
        let identities = if self.gitlab_com() {
            self.saml_identities(&top).await?
        } else {
            HashMap::new()
        };
        let mut by_user: HashMap<u64, Vec<GrantRecord>> = HashMap::new();
        for (kind, path, list) in &members {
            for m in list.iter().filter(|m| !m.is_bot()) {
                if let Some(grant) = self.grant_record(kind, path, m) {
                    by_user.entry(m.id).or_default().push(grant);
                }
            }
        }
        Ok(TreeSnapshot {
            groups,
            projects,
            members,
            saml_links,
            identities,
            by_user,
            taken_at: self.clock.now(),
        })
    }

    /// One group's SAML group links. A GitLab without them (no SAML, not Premium:
    /// any 404, or 403 for a licence that lacks the feature) has none.
    async fn read_saml_links(&self, path: &str) -> Result<Vec<SamlGroupLink>, AdapterError> {
        let url = self.client.url(&["groups", path, "saml_group_links"]);
        match self.client.get::<Vec<SamlGroupLink>>(url).await {
            Ok(links) => Ok(links),
            // The feature is absent: no links. A group that does not exist (or a wrong
            // URL) is reported by the membership call that follows.
            Err(AdapterError::NotFound { .. } | AdapterError::Unauthorized { .. }) => {
                Ok(Vec::new())
            }
            Err(AdapterError::Configuration { error }) if error.status == Some(404) => {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// The SAML group links of a group about to be written: as the last tree read
    /// found them (taken again at every run's first read), else read for this group
    /// once and remembered.
    pub(super) async fn saml_links_of(
        &self,
        path: &str,
    ) -> Result<Vec<SamlGroupLink>, AdapterError> {
        if let Some(links) = self
            .saml_links
            .lock()
            .ok()
            .and_then(|k| k.get(path).cloned())
        {
            return Ok(links);
        }
        let links = self.read_saml_links(path).await?;
        if let Ok(mut known) = self.saml_links.lock() {
            known.insert(path.to_owned(), links.clone());
        }
        Ok(links)
    }

    /// The top-level group's SAML identities (gitlab.com, Premium): user id → NameID.
    /// A group without SAML (404) has none.
    async fn saml_identities(&self, top: &str) -> Result<HashMap<u64, String>, AdapterError> {
        let url = self.client.url_with(
            &["groups", top, "saml", "identities"],
            &[("per_page", PER_PAGE.to_string())],
        );
        match self.client.get_all::<SamlIdentityRecord>(url).await {
            Ok(list) => Ok(list
                .into_iter()
                .map(|i| (i.user_id, i.extern_uid))
                .collect()),
            Err(AdapterError::NotFound { .. }) => Ok(HashMap::new()),
            Err(e) => Err(e),
        }
    }

    /// gitlab.com: every person who is a direct member anywhere in the tree (not only
    /// of the top-level group), with the NameID of their SAML identity.
    pub(super) fn accounts_in(&self, snapshot: &TreeSnapshot) -> Vec<AccountRecord> {
        snapshot
            .people()
            .into_iter()
            .map(|m| {
                let mut user = m.user();
                if let Some(name_id) = snapshot.identities.get(&m.id) {
                    user.group_saml_identity = Some(crate::model::SamlIdentity {
                        extern_uid: Some(name_id.clone()),
                    });
                }
                self.account_record(&user)
            })
            .collect()
    }
}
