//! A sandbox system's state in a JSON file, so that it outlives the process that
//! changed it, and an append-only log of the writes it received (for counting
//! duplicate writes across processes, e.g. in crash-and-resume tests).
//!
//! The state file is rewritten after every write (temporary file, fsync, rename,
//! fsync of the directory), so a process killed at any point leaves either the old
//! or the new state. The write log gets one JSON line per write after the state file
//! holds it; the state file also keeps the last write's line, and opening the files
//! again appends that line if the process died between the two steps. Counters and the
//! request log ([`super::SandboxStats`]) are not persisted.
//!
//! Several processes can share the files: every request takes an exclusive advisory
//! lock on a lock file beside them (`path` + `.lock`), reloads the state file, and for
//! a write saves the state and appends the log line before it lets the lock go. The
//! operating system releases the lock of a process that dies.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::state::{Account, State};
use provision_core::model::{AccountState, Entitlement, OperationId, ResourceRecord, SystemName};

/// A state file or write log could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxFileError {
    /// Reading or writing the file failed.
    #[error("sandbox file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file's content is not what the sandbox wrote.
    #[error("sandbox file {path}, line {line}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line (1-based; 1 for the state file).
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The write log misses more than the one line a crash can lose.
    #[error("sandbox write log {path} has {lines} lines but the state file counts {writes} writes")]
    LogBehind {
        /// The write log.
        path: PathBuf,
        /// Lines in it.
        lines: u64,
        /// Writes the state file counts.
        writes: u64,
    },
}

/// One write a sandbox system received (one line of its write log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// Position in the log, from 1, across every process that used the files.
    pub seq: u64,
    /// The system.
    pub system: SystemName,
    /// The operation the write carried.
    pub operation: OperationId,
    /// The operation's kind ([`provision_core::model::OperationKind::verb`]).
    pub kind: String,
    /// The target account's login.
    pub login: String,
    /// The target entitlement, for grants and revocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    /// Whether the write changed the system (false: already in place, or refused).
    pub changed: bool,
    /// The process that sent it.
    pub pid: u32,
}

/// Reads a write log (see [`super::SandboxSystem::with_state_file`]); a missing file is
/// an empty log.
pub fn read_write_log(path: &Path) -> Result<Vec<WriteRecord>, SandboxFileError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io(path, source)),
    };
    let mut out = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| io(path, source))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| SandboxFileError::Parse {
            path: path.to_path_buf(),
            line: n + 1,
            source,
        })?;
        out.push(record);
    }
    Ok(out)
}

fn io(path: &Path, source: std::io::Error) -> SandboxFileError {
    SandboxFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    external_id: String,
    state: AccountState,
    has_session: bool,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    correlation: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct StoredState {
    next_id: u64,
    accounts: BTreeMap<String, StoredAccount>,
    grants: BTreeSet<(String, Entitlement)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    resources: Vec<ResourceRecord>,
    awaiting_login: BTreeSet<String>,
    writes: u64,
    last_write: Option<WriteRecord>,
}

/// Where a persistent sandbox keeps its state and write log.
#[derive(Debug, Clone)]
pub(super) struct Files {
    pub(super) state: PathBuf,
    pub(super) write_log: PathBuf,
    /// Locked (advisory, exclusive) around every load-change-save, so that several
    /// processes can share the files.
    lock: PathBuf,
}

/// The exclusive lock on a persistent sandbox's lock file; released when dropped (and by
/// the operating system when the process dies).
#[derive(Debug)]
pub(super) struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first only says so.
        let _ = self.file.unlock();
    }
}

impl Files {
    pub(super) fn new(state: PathBuf) -> Self {
        let with_suffix = |suffix: &str| {
            let mut path = state.clone().into_os_string();
            path.push(suffix);
            PathBuf::from(path)
        };
        Self {
            write_log: with_suffix(".writes.jsonl"),
            lock: with_suffix(".lock"),
            state,
        }
    }

    /// Takes the lock, loads the state file into `state` (or creates it from `state`),
    /// and completes the write log if a crash cut it short.
    pub(super) fn open(&self, state: &mut State) -> Result<(), SandboxFileError> {
        let _lock = self.lock()?;
        if !self.load(state)? {
            self.save(state)?;
        }
        self.complete_log(state)
    }

    /// Takes the lock and replaces what `state` holds with the state file's content (the
    /// changes other processes made), completing a write log a crashed process cut
    /// short. The caller changes `state` and saves it while it holds the lock.
    pub(super) fn lock_and_reload(&self, state: &mut State) -> Result<FileLock, SandboxFileError> {
        let lock = self.lock()?;
        self.load(state)?;
        self.complete_log(state)?;
        Ok(lock)
    }

    /// Waits for the exclusive lock on the lock file (not on the state file, which
    /// [`Files::save`] replaces by a rename).
    fn lock(&self) -> Result<FileLock, SandboxFileError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| io(&self.lock, e))?;
        // std's exclusive advisory lock (flock / LockFileEx), held until the guard drops.
        file.lock().map_err(|e| io(&self.lock, e))?;
        Ok(FileLock { file })
    }

    /// Loads the state file into `state`; `false` when there is none yet.
    fn load(&self, state: &mut State) -> Result<bool, SandboxFileError> {
        let bytes = match std::fs::read(&self.state) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(io(&self.state, source)),
        };
        let stored: StoredState =
            serde_json::from_slice(&bytes).map_err(|source| SandboxFileError::Parse {
                path: self.state.clone(),
                line: 1,
                source,
            })?;
        state.next_id = stored.next_id;
        state.accounts = stored
            .accounts
            .into_iter()
            .map(|(login, a)| {
                (
                    login,
                    Account {
                        external_id: a.external_id,
                        state: a.state,
                        has_session: a.has_session,
                        attributes: a.attributes,
                        correlation: a.correlation,
                    },
                )
            })
            .collect();
        state.grants = stored.grants;
        state.resources = stored
            .resources
            .into_iter()
            .map(|r| ((r.kind.clone(), r.resource.clone()), r))
            .collect();
        state.awaiting_login = stored.awaiting_login;
        state.writes_logged = stored.writes;
        state.last_write = stored.last_write;
        Ok(true)
    }

    /// Appends the last write's line if a process died between saving the state and
    /// appending it.
    fn complete_log(&self, state: &State) -> Result<(), SandboxFileError> {
        let lines = read_write_log(&self.write_log)?.len() as u64;
        if lines + 1 == state.writes_logged {
            if let Some(last) = &state.last_write {
                self.append(last)?;
            }
        } else if lines < state.writes_logged {
            return Err(SandboxFileError::LogBehind {
                path: self.write_log.clone(),
                lines,
                writes: state.writes_logged,
            });
        }
        Ok(())
    }

    /// Records one write: state file first, then the log line.
    pub(super) fn record(
        &self,
        state: &mut State,
        mut record: WriteRecord,
    ) -> Result<(), SandboxFileError> {
        state.writes_logged += 1;
        record.seq = state.writes_logged;
        state.last_write = Some(record.clone());
        self.save(state)?;
        self.append(&record)
    }

    /// Rewrites the state file atomically.
    pub(super) fn save(&self, state: &State) -> Result<(), SandboxFileError> {
        let stored = StoredState {
            next_id: state.next_id,
            accounts: state
                .accounts
                .iter()
                .map(|(login, a)| {
                    (
                        login.clone(),
                        StoredAccount {
                            external_id: a.external_id.clone(),
                            state: a.state,
                            has_session: a.has_session,
                            attributes: a.attributes.clone(),
                            correlation: a.correlation.clone(),
                        },
                    )
                })
                .collect(),
            grants: state.grants.clone(),
            resources: state.resources.values().cloned().collect(),
            awaiting_login: state.awaiting_login.clone(),
            writes: state.writes_logged,
            last_write: state.last_write.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&stored).map_err(|source| SandboxFileError::Parse {
                path: self.state.clone(),
                line: 1,
                source,
            })?;
        let mut tmp = self.state.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        file.write_all(&json).map_err(|e| io(&tmp, e))?;
        file.sync_all().map_err(|e| io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.state).map_err(|e| io(&self.state, e))?;
        sync_dir(&self.state)
    }

    fn append(&self, record: &WriteRecord) -> Result<(), SandboxFileError> {
        let path = &self.write_log;
        let mut line = serde_json::to_vec(record).map_err(|source| SandboxFileError::Parse {
            path: path.clone(),
            line: 1,
            source,
        })?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io(path, e))?;
        // One write call: a killed process leaves the whole line or none of it.
        file.write_all(&line).map_err(|e| io(path, e))?;
        file.sync_data().map_err(|e| io(path, e))
    }
}

#[cfg(unix)]
fn sync_dir(file: &Path) -> Result<(), SandboxFileError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_file: &Path) -> Result<(), SandboxFileError> {
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{SandboxConfig, SandboxSystem, presets};
    use provision_core::adapter::{Adapter, AdapterError, CheckStatus};
    use provision_core::model::{
        AccountProfile, AccountRef, IdentityId, Operation, OperationKind, Priority, Reason,
        ReasonKind,
    };

    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "provision-sandbox-persist-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn op(kind: OperationKind) -> Operation {
        let identity = IdentityId("e1".into());
        let system = SystemName::new("okta");
        Operation {
            id: Operation::make_id(&identity, &system, &kind),
            identity,
            login: "sarah@example.com".into(),
            system,
            kind,
            reason: Reason {
                kind: ReasonKind::PolicyGrant,
                policies: vec![],
                event: None,
                detail: "test".into(),
                valid_until: None,
            },
            priority: Priority::Normal,
        }
    }

    fn create() -> Operation {
        op(OperationKind::CreateAccount {
            profile: AccountProfile {
                login: "sarah@example.com".into(),
                email: "sarah@example.com".into(),
                display_name: "Sarah".into(),
                attributes: BTreeMap::new(),
                ..Default::default()
            },
        })
    }

    fn grant() -> Operation {
        op(OperationKind::Grant {
            entitlement: Entitlement::new("okta", "group", "engineering"),
        })
    }

    fn okta(path: &Path) -> SandboxSystem {
        presets::okta()
            .sandbox("okta", SandboxConfig::default())
            .with_state_file(path)
            .unwrap()
    }

    fn account(id: Option<String>) -> AccountRef {
        AccountRef {
            external_id: id,
            login: "sarah@example.com".into(),
        }
    }

    #[tokio::test]
    async fn state_and_write_log_outlive_the_system() {
        let path = dir("reopen").join("okta.json");
        let first = okta(&path);
        assert!(path.exists(), "the state file is created on open");
        let id = first
            .execute(&create(), &account(None))
            .await
            .unwrap()
            .external_id;
        first.execute(&grant(), &account(id.clone())).await.unwrap();
        // Sent again: reaches the system, changes nothing, and the log says so.
        first.execute(&grant(), &account(id.clone())).await.unwrap();
        let before = first.snapshot();
        drop(first);

        let second = okta(&path);
        assert_eq!(second.snapshot(), before);
        assert!(matches!(
            second.check(&grant(), &account(id.clone())).await.unwrap(),
            CheckStatus::Done { .. }
        ));
        // Ids keep counting from where the first process stopped.
        let other = second.with_account("tom@example.com", AccountState::Active);
        assert_ne!(Some(other), id);

        let log = read_write_log(second.write_log_path().unwrap()).unwrap();
        let summary: Vec<_> = log
            .iter()
            .map(|w| (w.seq, w.kind.as_str(), w.changed))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, "create_account", true),
                (2, "grant", true),
                (3, "grant", false)
            ]
        );
        assert_eq!(log[1].operation, grant().id);
        assert_eq!(
            log[1].entitlement,
            Some(Entitlement::new("okta", "group", "engineering"))
        );
    }

    #[tokio::test]
    async fn a_log_line_lost_in_a_crash_is_restored_on_open() {
        let path = dir("crash").join("okta.json");
        let system = Arc::new(okta(&path));
        system.execute(&create(), &account(None)).await.unwrap();
        let log_path = system.write_log_path().unwrap().to_path_buf();
        // The process died after saving the state, before appending the line.
        std::fs::write(&log_path, b"").unwrap();
        drop(system);
        let reopened = okta(&path);
        let log = read_write_log(&log_path).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].operation, create().id);
        assert!(log[0].changed);
        assert_eq!(reopened.snapshot().accounts.len(), 1);
    }

    #[tokio::test]
    async fn a_refused_write_is_logged_unchanged() {
        let path = dir("refused").join("okta.json");
        let system = okta(&path);
        let err = system.execute(&grant(), &account(None)).await.unwrap_err();
        assert!(matches!(err, AdapterError::NotFound { .. }), "{err:?}");
        let log = read_write_log(system.write_log_path().unwrap()).unwrap();
        assert_eq!(log.len(), 1);
        assert!(!log[0].changed);
    }

    /// Two systems on one file (as two processes would open it) act as one system: each
    /// sees what the other wrote, and neither overwrites the other's changes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_systems_sharing_the_files_keep_every_write() {
        let path = dir("shared").join("okta.json");
        let config = SandboxConfig {
            latency: std::time::Duration::from_millis(1),
            ..SandboxConfig::default()
        };
        let open = || {
            Arc::new(
                presets::okta()
                    .sandbox("okta", config.clone())
                    .with_state_file(&path)
                    .unwrap(),
            )
        };
        let (a, b) = (open(), open());
        let logins: Vec<String> = (0..20).map(|i| format!("user{i:02}@example.com")).collect();
        let create = |login: &str| {
            let mut op = create();
            op.login = login.to_owned();
            op.id = OperationId(format!("create-{login}"));
            op
        };
        let mut tasks = Vec::new();
        for (i, login) in logins.iter().enumerate() {
            let system = if i % 2 == 0 { a.clone() } else { b.clone() };
            let op = create(login);
            tasks.push(tokio::spawn(async move {
                let account = AccountRef {
                    external_id: None,
                    login: op.login.clone(),
                };
                system.execute(&op, &account).await.unwrap()
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // b grants on an account a created, with the id a's system gave.
        let first = a.snapshot();
        assert_eq!(first.accounts.len(), logins.len());
        assert_eq!(b.snapshot(), first);
        let id = b.check(&create(&logins[0]), &account(None)).await.unwrap();
        assert!(matches!(id, CheckStatus::Done { .. }), "{id:?}");

        let log = read_write_log(a.write_log_path().unwrap()).unwrap();
        let seqs: Vec<u64> = log.iter().map(|w| w.seq).collect();
        assert_eq!(seqs, (1..=logins.len() as u64).collect::<Vec<_>>());
        assert!(log.iter().all(|w| w.changed));
        // Every account got its own id although two systems handed them out.
        let reopened = open().snapshot();
        assert_eq!(reopened, first);
        let ids: BTreeSet<String> = {
            let state = a.state();
            state
                .accounts
                .values()
                .map(|x| x.external_id.clone())
                .collect()
        };
        assert_eq!(ids.len(), logins.len());
    }

    #[test]
    fn a_damaged_state_file_is_an_error_naming_it() {
        let path = dir("damaged").join("okta.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let err = presets::okta()
            .sandbox("okta", SandboxConfig::default())
            .with_state_file(&path)
            .unwrap_err();
        assert!(matches!(err, SandboxFileError::Parse { .. }));
        assert!(err.to_string().contains("okta.json"), "{err}");
    }
}
