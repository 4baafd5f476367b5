//! Per-person locks: runs that send changes for the same person take turns; runs for
//! different people run at once. One engine serves them all (plans carry the account
//! ids they were made from), so nothing else is shared between runs.
//!
//! # The rule
//!
//! No two runs of this instance send changes for the same person at once: a run holds
//! the lock of every person its operations touch while it sends them (and while it
//! resumes an earlier run for them). Locks are taken a set at a time, in sorted
//! order, so two runs never wait on each other.
//!
//! # Who waits for whom
//!
//! * **Leaver work** (a termination now, a removal, a dated termination firing) takes
//!   its people's locks before it reads and plans, and keeps them until its changes
//!   are sent. It never waits behind a reconcile or another person's work; it waits
//!   only for operations already being sent for the same person by another run (a
//!   reconcile holds a person for that person's few operations, never longer).
//! * **Other event work** (a hire, a transfer, a start date, an access request's
//!   grant) reads and plans without a lock, then takes the locks and checks that no
//!   other run locked those people meanwhile (`PersonGuard::changed_since`); if one
//!   did (a termination came in), the plan is stale and is made again. So a grant
//!   never makes a leaver wait for its read.
//! * **The reconcile** reads and plans everyone without a lock, then applies the plan
//!   person by person ([`crate::reconcile`]): each person's part is sent under that
//!   person's lock, taken without waiting (`PersonLocks::try_lock`); a person whose
//!   lock is taken, or who was locked by another run since the reconcile began
//!   reading, is left out: the run that touched them planned from a fresher read, and
//!   the next reconcile covers them. So the reconcile neither waits for anyone nor
//!   holds anyone for more than their own part, and never sends a change planned
//!   before a termination after it.
//!
//! # Why not "drop the locked people, then apply the rest under their locks"
//!
//! A reconcile that locked everyone in its plan for the whole apply would make a
//! termination arriving mid-apply wait minutes for a person whose part is far down the
//! plan; one that applied without locks would send a grant planned before the
//! termination after it. Locking each part only while it is sent, and checking the
//! change stamps first, avoids both.
//!
//! The locks are in memory: they order the runs of one instance. Several instances
//! on one PostgreSQL share operation claims (each operation is sent once) and take
//! inbox rows and scheduled jobs under leases, as before.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use provision_core::model::IdentityId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The locks of the people some run holds or waits for, with change stamps.
#[derive(Debug, Default)]
pub(crate) struct PersonLocks {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Ticks on every lock and unlock.
    clock: u64,
    /// People some run holds, waits for, or changed since the oldest live mark.
    people: HashMap<IdentityId, Entry>,
    /// Live marks (clock value -> how many).
    marks: BTreeMap<u64, usize>,
}

#[derive(Debug)]
struct Entry {
    lock: Arc<AsyncMutex<()>>,
    /// The clock when a run last locked or unlocked this person.
    stamp: u64,
    /// Guards that hold or wait for this lock.
    users: usize,
}

impl State {
    /// Drops the entries nobody uses and no live mark needs (a mark needs the stamps
    /// newer than itself).
    fn prune(&mut self, id: Option<&IdentityId>) {
        let oldest = self.marks.keys().next().copied();
        let unused = |e: &Entry| e.users == 0 && oldest.is_none_or(|m| e.stamp <= m);
        match id {
            Some(id) => {
                if self.people.get(id).is_some_and(unused) {
                    self.people.remove(id);
                }
            }
            None => self.people.retain(|_, e| !unused(e)),
        }
    }
}

impl PersonLocks {
    fn state(&self) -> MutexGuard<'_, State> {
        // Plain counters and maps: a panic elsewhere cannot leave them half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a guard for `ids` (sorted, without duplicates); nothing held yet.
    fn guard(&self, ids: &[IdentityId]) -> PersonGuard<'_> {
        let mut ids: Vec<IdentityId> = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut state = self.state();
        let people = ids
            .into_iter()
            .map(|id| {
                let entry = state.people.entry(id.clone()).or_insert_with(|| Entry {
                    lock: Arc::new(AsyncMutex::new(())),
                    stamp: 0,
                    users: 0,
                });
                entry.users += 1;
                Held {
                    lock: Arc::clone(&entry.lock),
                    id,
                    held: None,
                    before: 0,
                }
            })
            .collect();
        PersonGuard {
            locks: self,
            people,
            complete: false,
        }
    }

    /// Takes the locks of `ids`, waiting for them in sorted order.
    pub(crate) async fn lock(&self, ids: &[IdentityId]) -> PersonGuard<'_> {
        let mut guard = self.guard(ids);
        for person in &mut guard.people {
            person.held = Some(Arc::clone(&person.lock).lock_owned().await);
        }
        guard.completed();
        guard
    }

    /// Takes the locks of `ids` only if none of them is held now.
    pub(crate) fn try_lock(&self, ids: &[IdentityId]) -> Option<PersonGuard<'_>> {
        let mut guard = self.guard(ids);
        for person in &mut guard.people {
            person.held = Some(Arc::clone(&person.lock).try_lock_owned().ok()?);
        }
        guard.completed();
        Some(guard)
    }

    /// The time now, for [`PersonGuard::changed_since`]: the stamps of people locked
    /// after it are kept until the mark is dropped.
    pub(crate) fn mark(&self) -> Mark<'_> {
        let mut state = self.state();
        let at = state.clock;
        *state.marks.entry(at).or_default() += 1;
        Mark { locks: self, at }
    }

    /// Plans with `plan` and takes the locks of `ids`, so that the plan returned was
    /// made from what the systems held while nobody else changed these people. With
    /// `hold_first` (leaver work) the locks are taken before planning; otherwise the
    /// plan is made first and made again when another run locked one of `ids`
    /// meanwhile (after two stale plans the locks are taken first, so work is never
    /// starved).
    pub(crate) async fn plan_then_lock<T, E, F, Fut>(
        &self,
        ids: &[IdentityId],
        hold_first: bool,
        mut plan: F,
    ) -> Result<(PersonGuard<'_>, T), E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut stale = 0;
        loop {
            let mark = self.mark();
            if hold_first || stale >= 2 {
                let guard = self.lock(ids).await;
                let planned = plan().await?;
                return Ok((guard, planned));
            }
            let planned = plan().await?;
            let guard = self.lock(ids).await;
            if !guard.changed_since(&mark) {
                return Ok((guard, planned));
            }
            stale += 1;
            tracing::info!(
                people = ids.len(),
                "another run changed these people while this one planned: planned again"
            );
        }
    }

    /// People with an entry now (held, waited for, or stamped for a live mark).
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.state().people.len()
    }
}

/// A point in the locks' history (see [`PersonLocks::mark`]).
#[derive(Debug)]
pub(crate) struct Mark<'a> {
    locks: &'a PersonLocks,
    at: u64,
}

impl Drop for Mark<'_> {
    fn drop(&mut self) {
        let mut state = self.locks.state();
        if let Some(n) = state.marks.get_mut(&self.at) {
            *n -= 1;
            if *n == 0 {
                state.marks.remove(&self.at);
            }
        }
        state.prune(None);
    }
}

#[derive(Debug)]
struct Held {
    id: IdentityId,
    lock: Arc<AsyncMutex<()>>,
    held: Option<OwnedMutexGuard<()>>,
    /// The person's stamp just before this guard took the lock.
    before: u64,
}

/// The locks of a set of people, held until dropped.
#[derive(Debug)]
pub(crate) struct PersonGuard<'a> {
    locks: &'a PersonLocks,
    people: Vec<Held>,
    /// Every lock taken (a guard dropped half-way changed nobody's stamp).
    complete: bool,
}

impl PersonGuard<'_> {
    fn completed(&mut self) {
        let mut state = self.locks.state();
        state.clock += 1;
        let now = state.clock;
        for person in &mut self.people {
            if let Some(entry) = state.people.get_mut(&person.id) {
                person.before = entry.stamp;
                entry.stamp = now;
            }
        }
        self.complete = true;
    }

    /// True when another run locked (or still held, at `mark`) one of these people
    /// after `mark`: what was read before is stale for them.
    pub(crate) fn changed_since(&self, mark: &Mark<'_>) -> bool {
        self.people.iter().any(|p| p.before > mark.at)
    }

    /// The people held.
    #[cfg(test)]
    fn people(&self) -> Vec<&str> {
        self.people.iter().map(|p| p.id.as_str()).collect()
    }
}

impl Drop for PersonGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.locks.state();
        state.clock += 1;
        let now = state.clock;
        for person in &mut self.people {
            if let Some(entry) = state.people.get_mut(&person.id) {
                if self.complete {
                    entry.stamp = now;
                }
                entry.users -= 1;
            }
            // Released under the state's lock: a run that takes it next stamps after.
            person.held = None;
            state.prune(Some(&person.id));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ids(names: &[&str]) -> Vec<IdentityId> {
        names.iter().map(|n| IdentityId::new(*n)).collect()
    }

    #[tokio::test]
    async fn different_people_run_at_once_and_the_same_person_takes_turns() {
        let locks = PersonLocks::default();
        let a = locks.lock(&ids(&["b", "a", "a"])).await;
        assert_eq!(a.people(), vec!["a", "b"], "sorted, once each");
        let c = locks.try_lock(&ids(&["c"]));
        assert!(c.is_some(), "another person is free");
        assert!(locks.try_lock(&ids(&["c", "b"])).is_none(), "b is held");
        // The failed try took nothing: c is still held by its guard only.
        assert!(locks.try_lock(&ids(&["c"])).is_none());
        drop(c);
        assert!(locks.try_lock(&ids(&["c"])).is_some());

        let a_only = ids(&["a"]);
        let waiting = tokio::time::timeout(Duration::from_millis(50), locks.lock(&a_only));
        assert!(waiting.await.is_err(), "a waits for its holder");
        drop(a);
        let again = tokio::time::timeout(Duration::from_millis(50), locks.lock(&a_only));
        assert!(again.await.is_ok());
        assert_eq!(locks.entries(), 0, "entries go once nobody uses them");
    }

    #[tokio::test]
    async fn a_guard_knows_whether_someone_else_locked_its_people_after_a_mark() {
        let locks = PersonLocks::default();
        // Held before the mark, released after it: changed.
        let early = locks.lock(&ids(&["held"])).await;
        let mark = locks.mark();
        drop(early);
        // Locked and released after the mark: changed.
        drop(locks.lock(&ids(&["touched"])).await);
        // Entries stay while the mark needs their stamps.
        assert_eq!(locks.entries(), 2);
        let held = locks.try_lock(&ids(&["held"])).unwrap();
        assert!(held.changed_since(&mark));
        drop(held);
        let touched = locks.lock(&ids(&["touched"])).await;
        assert!(touched.changed_since(&mark));
        // Nobody else took them: unchanged, even though this guard stamped them.
        let quiet = locks.lock(&ids(&["quiet", "other"])).await;
        assert!(!quiet.changed_since(&mark));
        drop((touched, quiet));
        drop(mark);
        assert_eq!(locks.entries(), 0);
        // Without a mark nothing is kept.
        drop(locks.lock(&ids(&["x"])).await);
        assert_eq!(locks.entries(), 0);
    }

    #[tokio::test]
    async fn a_lock_dropped_while_waiting_leaves_nothing_behind() {
        let locks = PersonLocks::default();
        let mark = locks.mark();
        let b = locks.lock(&ids(&["b"])).await;
        // Waits for b after taking a; dropped half-way.
        let both = ids(&["a", "b"]);
        let half = tokio::time::timeout(Duration::from_millis(30), locks.lock(&both));
        assert!(half.await.is_err());
        let a = locks.try_lock(&ids(&["a"])).unwrap();
        assert!(!a.changed_since(&mark), "a half-taken set stamps nobody");
        drop((a, b));
        drop(mark);
        assert_eq!(locks.entries(), 0);
    }
}
