//! A complete custom adapter for an internal wiki, end to end:
//!
//! * the wiki itself (`WikiServer`): users and spaces with members, listed a few at a
//!   time with a cursor, as an internal HTTP API would (here in memory, so the example
//!   runs anywhere; a real adapter calls the API where this one locks the mutex);
//! * the adapter (`Wiki`): a descriptor, paged reads of accounts, of a space's members
//!   and of one account's spaces (`read_account_grants`, which lets a leaver end with
//!   nothing and drift see hand-made memberships), the list of spaces, and `execute`
//!   with "already a member" and "no such user" mapped to what the executor expects;
//! * its factory (`WikiFactory`): `adapter: wiki` in `provision.yaml`, the descriptor
//!   from the settings alone (a plain `http://` URL to another host is refused before
//!   any credential is read), the API token resolved only when the adapter is built;
//! * an engine over it: plan, apply, plan again (empty), then the same wiki renamed in
//!   `provision.yaml` (still empty: the engine names the system on what the adapter
//!   reads, the adapter never needs its name);
//! * the shared conformance suite (`provision_testkit::conformance::Suite`), passing.
//!
//! ```sh
//! cargo run -p provision-examples --example wiki_adapter
//! ```

// `AdapterError` keeps the vendor's whole reply; adapters return it as it is, as the
// other adapter crates do.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use provision_core::adapter::{
    Adapter, AdapterError, AdapterFactory, Applied, ConfigError, Page, ResourceKindDescriptor,
    SystemDescriptor, SystemError, SystemSpec,
};
use provision_core::engine::Engine;
use provision_core::error_report::Report;
use provision_core::model::{
    AccountRecord, AccountRef, AccountState, Entitlement, GrantRecord, Identity, Operation,
    OperationKind, ResourceRecord, ResourceRef,
};
use provision_core::secret::SecretString;
use provision_testkit::conformance::{Suite, profile};

/// How many items the wiki's API returns per page (small, so paging is exercised).
const PAGE_SIZE: usize = 2;

/// The internal wiki's data, as its API serves it.
#[derive(Debug, Default)]
struct WikiData {
    /// User id -> login.
    users: BTreeMap<String, String>,
    /// Space key -> member user ids.
    spaces: BTreeMap<String, BTreeSet<String>>,
    next_id: u64,
}

/// The wiki (in memory here; a real adapter sends HTTP requests instead).
#[derive(Debug, Default)]
pub struct WikiServer {
    data: Mutex<WikiData>,
}

impl WikiServer {
    /// A wiki with these spaces and no users.
    pub fn with_spaces(spaces: &[&str]) -> Self {
        let server = Self::default();
        if let Ok(mut data) = server.data.lock() {
            for space in spaces {
                data.spaces.insert((*space).to_owned(), BTreeSet::new());
            }
        }
        server
    }

    fn data(&self) -> Result<MutexGuard<'_, WikiData>, AdapterError> {
        self.data.lock().map_err(|_| AdapterError::Permanent {
            error: SystemError::message("the wiki's state is poisoned"),
        })
    }
}

/// One page of `items` from `cursor` (an offset, as the wiki's API gives it).
fn page<T: Clone>(items: &[T], cursor: Option<&str>) -> Result<Page<T>, AdapterError> {
    let start = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| AdapterError::Invalid {
            error: SystemError::new(Some(400), None, format!("bad cursor {c:?}")),
        })?,
    };
    let end = (start + PAGE_SIZE).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok(Page::new(
        items.get(start..end).unwrap_or(&[]).to_vec(),
        next,
    ))
}

/// The adapter for one wiki.
pub struct Wiki {
    server: Arc<WikiServer>,
    descriptor: SystemDescriptor,
    /// The API token, sent with every request (never logged: `SecretString`).
    _token: SecretString,
}

/// What the wiki understands: accounts, and spaces with members (listable, so a
/// person's spaces are read in one call per account page).
pub fn descriptor() -> SystemDescriptor {
    SystemDescriptor::new("wiki")
        .with_accounts()
        .with_kind(ResourceKindDescriptor::new("space", &["add_to_space"]).enumerable())
}

impl Wiki {
    /// The id of `account`: the one given, else looked up by login.
    fn user_id(data: &WikiData, account: &AccountRef) -> Option<String> {
        account.external_id.clone().or_else(|| {
            data.users
                .iter()
                .find(|(_, login)| login.eq_ignore_ascii_case(&account.login))
                .map(|(id, _)| id.clone())
        })
    }
}

fn not_found(what: String) -> AdapterError {
    AdapterError::NotFound {
        error: SystemError::new(Some(404), Some("NOT_FOUND".into()), what),
    }
}

#[async_trait]
impl Adapter for Wiki {
    fn descriptor(&self) -> &SystemDescriptor {
        &self.descriptor
    }

    async fn read_accounts(
        &self,
        cursor: Option<&str>,
    ) -> Result<Page<AccountRecord>, AdapterError> {
        let data = self.server.data()?;
        let all: Vec<AccountRecord> = data
            .users
            .iter()
            .map(|(id, login)| AccountRecord::new(id, login, AccountState::Active))
            .collect();
        page(&all, cursor)
    }

    async fn read_grants(
        &self,
        resource: &ResourceRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let data = self.server.data()?;
        let members = data
            .spaces
            .get(&resource.resource)
            .ok_or_else(|| not_found(format!("no space {}", resource.resource)))?;
        let all: Vec<GrantRecord> = members
            .iter()
            .map(|id| GrantRecord {
                // The system's name here does not matter: the engine sets it.
                entitlement: Entitlement::new("wiki", "space", resource.resource.clone()),
                account_external_id: id.clone(),
                login: data.users.get(id).cloned(),
            })
            .collect();
        page(&all, cursor)
    }

    async fn read_account_grants(
        &self,
        account: &AccountRef,
        cursor: Option<&str>,
    ) -> Result<Page<GrantRecord>, AdapterError> {
        let data = self.server.data()?;
        // An unknown account holds nothing (an empty page, not an error).
        let Some(id) = Wiki::user_id(&data, account) else {
            return Ok(Page::last(Vec::new()));
        };
        let all: Vec<GrantRecord> = data
            .spaces
            .iter()
            .filter(|(_, members)| members.contains(&id))
            .map(|(space, _)| GrantRecord {
                entitlement: Entitlement::new("wiki", "space", space.clone()),
                account_external_id: id.clone(),
                login: Some(account.login.clone()),
            })
            .collect();
        page(&all, cursor)
    }

    async fn list_resources(
        &self,
        kind: &str,
        cursor: Option<&str>,
    ) -> Result<Page<ResourceRecord>, AdapterError> {
        if kind != "space" {
            return Err(AdapterError::Unsupported {
                what: format!("list {kind}"),
            });
        }
        let data = self.server.data()?;
        let all: Vec<ResourceRecord> = data
            .spaces
            .keys()
            .map(|space| ResourceRecord::new("space", space.clone()))
            .collect();
        page(&all, cursor)
    }

    async fn execute(&self, op: &Operation, account: &AccountRef) -> Result<Applied, AdapterError> {
        let mut data = self.server.data()?;
        let id = Wiki::user_id(&data, account);
        match (&op.kind, id) {
            // The same person again: adopt the account (never a duplicate).
            (OperationKind::CreateAccount { .. }, Some(id)) => {
                Ok(Applied::already_in_place().with_external_id(id))
            }
            (OperationKind::CreateAccount { profile }, None) => {
                data.next_id += 1;
                let id = format!("u{}", data.next_id);
                data.users.insert(id.clone(), profile.login.clone());
                Ok(Applied::changed().with_external_id(id))
            }
            (OperationKind::Grant { entitlement }, Some(id)) => {
                let members = data
                    .spaces
                    .get_mut(&entitlement.resource)
                    .ok_or_else(|| not_found(format!("no space {}", entitlement.resource)))?;
                Ok(if members.insert(id) {
                    Applied::changed()
                } else {
                    Applied::already_in_place()
                })
            }
            // "No such user": a grant cannot be made (the account comes first) ...
            (OperationKind::Grant { .. }, None) => {
                Err(not_found(format!("no user {}", account.login)))
            }
            (OperationKind::Revoke { entitlement }, Some(id)) => {
                let removed = data
                    .spaces
                    .get_mut(&entitlement.resource)
                    .is_some_and(|members| members.remove(&id));
                Ok(if removed {
                    Applied::changed()
                } else {
                    Applied::already_in_place()
                })
            }
            // ... and a revoke from it is done: the executor reads NotFound on a
            // removal as "already in place".
            (OperationKind::Revoke { .. }, None) => {
                Err(not_found(format!("no user {}", account.login)))
            }
            (other, _) => Err(AdapterError::Unsupported {
                what: other.verb().to_owned(),
            }),
        }
    }
}

/// `adapter: wiki` in `provision.yaml`.
pub struct WikiFactory {
    /// The wiki every adapter built here talks to.
    pub server: Arc<WikiServer>,
}

impl WikiFactory {
    /// The `base_url` setting: https, or http only on this machine. Checked from the
    /// settings alone, so `provision validate` catches it without a credential.
    fn base_url<'s>(spec: &SystemSpec<'s>) -> Result<&'s str, ConfigError> {
        let url = spec
            .config
            .settings
            .get("base_url")
            .map(String::as_str)
            .ok_or_else(|| {
                ConfigError::invalid_setting(spec.name.as_str(), "base_url", "the wiki's URL")
            })?;
        let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| url.starts_with(p));
        if url.starts_with("https://") || local {
            Ok(url)
        } else {
            Err(ConfigError::invalid_setting(
                spec.name.as_str(),
                "base_url",
                format!("an https:// URL (plain http only to this machine), not `{url}`"),
            ))
        }
    }
}

#[async_trait]
impl AdapterFactory for WikiFactory {
    fn adapter_type(&self) -> &str {
        "wiki"
    }

    fn descriptor(&self, spec: SystemSpec<'_>) -> Result<SystemDescriptor, ConfigError> {
        Self::base_url(&spec)?;
        Ok(descriptor())
    }

    async fn build(&self, spec: SystemSpec<'_>) -> Result<Arc<dyn Adapter>, ConfigError> {
        Self::base_url(&spec)?;
        let token = spec.required_credential("api_token")?;
        Ok(Arc::new(Wiki {
            server: Arc::clone(&self.server),
            descriptor: descriptor(),
            _token: token,
        }))
    }
}

/// A deployment naming the wiki `system`, its policies, and the token file.
fn write_deployment(dir: &Path, system: &str) -> std::io::Result<()> {
    let token = dir.join("wiki-token");
    std::fs::write(&token, "not-a-real-token")?;
    std::fs::write(
        dir.join("provision.yaml"),
        format!(
            "systems:\n  {system}:\n    adapter: wiki\n    settings: {{base_url: https://wiki.internal.invalid}}\n    credentials:\n      api_token: {{file: {}}}\n",
            token.display()
        ),
    )?;
    std::fs::create_dir_all(dir.join("policies"))?;
    std::fs::write(
        dir.join("policies/wiki.yaml"),
        format!(
            "policies:\n  - name: Engineering wiki\n    triggers:\n      - department: Engineering\n    provisions:\n      - {{system: {system}, action: add_to_space, target: engineering}}\n  - name: Everyone reads the handbook\n    triggers:\n      - department: {{one_of: [Engineering, Sales]}}\n    provisions:\n      - {{system: {system}, action: add_to_space, target: handbook}}\n"
        ),
    )
}

async fn wiki_engine(dir: &Path, server: &Arc<WikiServer>) -> Result<Engine, Report> {
    Ok(Engine::builder()
        .deployment(dir.join("provision.yaml"))
        .policies(dir.join("policies"))
        // Your own factory type goes in as it is: no cast to `Arc<dyn AdapterFactory>`.
        .factories([Arc::new(WikiFactory {
            server: Arc::clone(server),
        })])
        .actor("wiki-example")
        .build()
        .await?)
}

fn roster() -> Vec<Identity> {
    vec![
        Identity::new("e1", "ada@company.com", "Ada").with_attribute("department", "Engineering"),
        Identity::new("e2", "bob@company.com", "Bob").with_attribute("department", "Engineering"),
        Identity::new("e3", "cy@company.com", "Cy").with_attribute("department", "Sales"),
    ]
}

/// Errors print as text (`Report`), so a policy error shows its file:line message.
#[tokio::main]
async fn main() -> Result<(), Report> {
    let dir = std::env::temp_dir().join(format!("provision-wiki-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = Arc::new(WikiServer::with_spaces(&[
        "engineering",
        "handbook",
        "sales",
    ]));

    // 1. Plan and apply under the name `docs`.
    write_deployment(&dir, "docs")?;
    let engine = wiki_engine(&dir, &server).await?;
    let plan = engine.plan(&roster(), "wiki-example").await?.approve()?;
    println!("plan: {} operations", plan.operations.len());
    let report = engine.apply(&plan).await?;
    println!("{report}");
    assert_eq!(report.totals.failed, 0, "{report}");
    let again = engine.plan(&roster(), "wiki-example").await?;
    assert!(again.preview().is_empty(), "{:#?}", again.preview());
    println!("planned again: nothing to do");

    // 2. The same wiki renamed in provision.yaml: still nothing to do.
    write_deployment(&dir, "wiki-eu")?;
    let renamed = wiki_engine(&dir, &server).await?;
    let after_rename = renamed.plan(&roster(), "wiki-example").await?;
    assert!(
        after_rename.preview().is_empty(),
        "renaming the system re-planned: {:#?}",
        after_rename.preview()
    );
    println!("renamed docs -> wiki-eu in provision.yaml: nothing to do");

    // 3. The shared conformance suite, on a wiki of its own.
    let suite_server = Arc::new(WikiServer::with_spaces(&["engineering", "handbook"]));
    let adapter = Wiki {
        server: suite_server,
        descriptor: descriptor(),
        _token: SecretString::from("not-a-real-token".to_owned()),
    };
    let passed = Suite::new(
        &adapter,
        vec![
            Entitlement::new("wiki", "space", "engineering"),
            Entitlement::new("wiki", "space", "handbook"),
        ],
    )
    .create(profile("grace@company.com", "Grace Hopper"))
    .run()
    .await;
    println!("conformance suite: passed {}", passed.passed.join(", "));
    for (scenario, why) in &passed.skipped {
        println!("  skipped {scenario}: {why}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
