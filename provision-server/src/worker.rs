//! The inbox worker: takes stored events (leavers first) under a lease, and for each
//! either applies it now (one plan for the people of the batch, one read of every
//! system), schedules it (a termination dated in the future, a hire's start date),
//! or keeps it as a finding (an event about someone the roster does not have).
//!
//! The run an event is applied in is written on its inbox row before anything is
//! sent. A worker that dies mid-run loses its lease; the next taker finds the run on
//! the row and resumes it from the journal (in-flight operations are checked with the
//! system before being sent again), so every change reaches its system once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use provision_core::journal::RunId;
use provision_core::model::IdentityId;
use provision_roster::{HrEvent, HrEventKind};
use provision_store::{InboxItem, InboxState};

use crate::error::ServerError;
use crate::event::StoredEvent;
use crate::jobs::Job;
use crate::leases::{LeaseKeeper, Leased};
use crate::service::{Service, decode_event};

impl Service {
    /// One batch: takes up to `worker.batch` events and handles them. Returns how
    /// many were taken (0: the inbox is empty, or every event is held elsewhere).
    pub async fn work_once(&self) -> Result<usize, ServerError> {
        let inner = &self.inner;
        let owner = inner.owner.as_str();
        let items = inner
            .store
            .inbox_claim(
                owner,
                inner.config.lease(),
                Utc::now(),
                inner.config.worker.batch,
            )
            .await?;
        // Taken after the claim: an event stored just before it is not "in the future".
        let now = Utc::now();
        inner.metrics.queue_depth(inner.store.inbox_depth().await?);
        if items.is_empty() {
            return Ok(0);
        }
        let taken = items.len();
        // Renewed while this batch is worked on: a long run keeps its rows.
        let keeper = LeaseKeeper::start(
            Arc::clone(&inner.store),
            owner,
            Leased::Inbox,
            items.iter().map(|i| i.seq).collect(),
            inner.config.lease(),
        );
        let roster = self.roster().await?;
        let mut resumes: BTreeMap<String, Vec<InboxItem>> = BTreeMap::new();
        let mut now_items: Vec<(InboxItem, StoredEvent)> = Vec::new();
        for item in items {
            let event = match decode_event(item.seq, &item.payload_json) {
                Ok(event) => event,
                Err(e) => {
                    self.finish(&item, InboxState::Failed, Some(&e.to_string()), false)
                        .await?;
                    continue;
                }
            };
            if let Some(run) = item.run_id.clone() {
                resumes.entry(run).or_default().push(item);
                continue;
            }
            let known = roster.iter().any(|p| &p.id == event.identity())
                || now_items
                    .iter()
                    .any(|(_, e)| e.identity() == event.identity());
            let brings_person = matches!(event.kind(), HrEventKind::Hire | HrEventKind::Rehire);
            if !known && !brings_person {
                let note = format!(
                    "no one with HR id {} is in the roster ({} event {}/{})",
                    event.identity(),
                    event.kind_name(),
                    event.source,
                    event.event_id
                );
                tracing::warn!(finding = %note, "event about an unknown person kept as a finding");
                inner.metrics.unknown_person(&event.source);
                self.finish(&item, InboxState::Finding, Some(&note), false)
                    .await?;
                continue;
            }
            match (&event.event, event.start) {
                (HrEvent::Termination { id, effective, .. }, _) if *effective > now => {
                    let job = Job::Identity {
                        id: id.to_string(),
                        event: format!("hr:termination:{}/{}", event.source, event.event_id),
                        terminated_at: Some(*effective),
                    };
                    inner
                        .store
                        .schedule_put(
                            &format!("termination:{}", item.seq),
                            *effective,
                            &job.to_json(),
                            true,
                        )
                        .await?;
                    let note = format!("termination scheduled for {effective}");
                    tracing::info!(identity = %id, at = %effective, "termination scheduled");
                    // In the roster now: the planner keeps them active until then.
                    self.finish(&item, InboxState::Scheduled, Some(&note), true)
                        .await?;
                }
                (HrEvent::Hire { person, .. } | HrEvent::Rehire { person, .. }, Some(start))
                    if start > now =>
                {
                    // Day-one access prepared: what the policies will give, computed
                    // now and noted; nothing is granted before the start.
                    let desired = inner.engine.desired(std::slice::from_ref(person));
                    let entitlements = desired
                        .identities
                        .get(&person.id)
                        .map_or(0, |d| d.grants.len());
                    let job = Job::Start {
                        seq: item.seq,
                        id: person.id.to_string(),
                    };
                    inner
                        .store
                        .schedule_put(&format!("start:{}", item.seq), start, &job.to_json(), true)
                        .await?;
                    let note = format!(
                        "day-one access prepared: {entitlements} entitlements, granted at {start}"
                    );
                    tracing::info!(identity = %person.id, at = %start, entitlements, "hire scheduled");
                    self.finish(&item, InboxState::Scheduled, Some(&note), false)
                        .await?;
                }
                _ => now_items.push((item, event)),
            }
        }
        for (run, items) in resumes {
            self.finish_run(&RunId(run), items, &keeper).await?;
        }
        if !now_items.is_empty() {
            self.apply_now(now_items, &keeper).await?;
        }
        Ok(taken)
    }

    /// Events taken again after their worker died: their run is resumed (or planned
    /// afresh when it never began).
    async fn finish_run(
        &self,
        run: &RunId,
        items: Vec<InboxItem>,
        keeper: &LeaseKeeper,
    ) -> Result<(), ServerError> {
        let fence = keeper.fence(items.iter().map(|i| i.seq));
        let resumed = {
            let roster = self.roster().await?;
            match self.resume_locked(run, &roster, &fence).await {
                Err(ServerError::LeaseLost { what }) => {
                    tracing::warn!(run = %run.0, %what, "run not resumed here: another instance took its events over");
                    return Ok(());
                }
                other => other?,
            }
        };
        match resumed {
            Some(report) => {
                let note = format!(
                    "applied in run {} (resumed): {} operations",
                    run.0, report.totals.operations
                );
                for item in &items {
                    self.finish(item, InboxState::Done, Some(&note), true)
                        .await?;
                }
                Ok(())
            }
            None => {
                let mut pairs = Vec::new();
                for item in items {
                    let event = decode_event(item.seq, &item.payload_json)?;
                    pairs.push((item, event));
                }
                self.apply_now(pairs, keeper).await
            }
        }
    }

    /// Plans and applies the people of `items` now, in one run recorded on each row
    /// first; leavers' revocations go first (the planner's priority).
    async fn apply_now(
        &self,
        items: Vec<(InboxItem, StoredEvent)>,
        keeper: &LeaseKeeper,
    ) -> Result<(), ServerError> {
        let inner = &self.inner;
        let first = items.iter().map(|(i, _)| i.seq).min().unwrap_or_default();
        let attempt = items.iter().map(|(i, _)| i.attempts).max().unwrap_or(1);
        let run = RunId(format!("hr-{first}-{attempt}-{}", inner.owner));
        // The run goes on each row first; a row this worker no longer holds is
        // another's now and is left out.
        let mut held = Vec::with_capacity(items.len());
        for (item, event) in items {
            if inner
                .store
                .inbox_set_run(item.seq, &inner.owner, &run.0)
                .await?
            {
                held.push((item, event));
            } else {
                tracing::warn!(
                    seq = item.seq,
                    "inbox row no longer held (its lease ran out): left to its new holder"
                );
            }
        }
        let items = held;
        if items.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<IdentityId> = Vec::new();
        let mut since = HashMap::new();
        for (item, event) in &items {
            if !ids.contains(event.identity()) {
                ids.push(event.identity().clone());
            }
            if let HrEvent::Termination { id, effective, .. } = &event.event {
                since.insert(id.clone(), (*effective).max(item.received_at));
            } else if matches!(event.event, HrEvent::Removed { .. }) {
                since.insert(event.identity().clone(), item.received_at);
            }
        }
        let events: Vec<StoredEvent> = items.iter().map(|(_, e)| e.clone()).collect();
        let name = if items.len() == 1 {
            format!(
                "hr:{}:{}/{}",
                events[0].kind_name(),
                events[0].source,
                events[0].event_id
            )
        } else {
            format!("hr:batch:{first}+{}", items.len() - 1)
        };
        let fence = keeper.fence(items.iter().map(|(i, _)| i.seq));
        match self
            .apply_people(&run, &ids, &events, &name, &since, Some(&fence))
            .await
        {
            Ok(report) => {
                let note = match &report {
                    Some(r) => format!(
                        "applied in run {}: {} operations, {} succeeded, {} failed, {} pending",
                        run.0,
                        r.totals.operations,
                        r.totals.succeeded + r.totals.already_in_place,
                        r.totals.failed,
                        r.totals.pending
                    ),
                    None => "nothing to change".to_owned(),
                };
                for (item, _) in &items {
                    self.finish(item, InboxState::Done, Some(&note), true)
                        .await?;
                }
                Ok(())
            }
            Err(ServerError::Engine(provision_core::engine::EngineError::BlastRadius(refused))) => {
                let note = format!("not applied: {refused}");
                tracing::error!(run = %run.0, error = %refused, "events refused by the blast-radius guard");
                for (item, _) in &items {
                    self.finish(item, InboxState::Failed, Some(&note), true)
                        .await?;
                }
                Ok(())
            }
            Err(ServerError::LeaseLost { what }) => {
                tracing::warn!(run = %run.0, %what, "events not applied here: another instance took them over");
                Ok(())
            }
            // Anything else (a system unreachable): the rows stay taken until their
            // lease runs out, and are tried again then.
            Err(e) => Err(e),
        }
    }

    async fn finish(
        &self,
        item: &InboxItem,
        state: InboxState,
        note: Option<&str>,
        in_roster: bool,
    ) -> Result<(), ServerError> {
        let held = self
            .inner
            .store
            .inbox_finish(
                item.seq,
                &self.inner.owner,
                state,
                note,
                in_roster,
                Utc::now(),
            )
            .await?;
        if !held {
            tracing::warn!(
                seq = item.seq,
                "inbox row no longer held (its lease ran out)"
            );
        }
        Ok(())
    }
}
