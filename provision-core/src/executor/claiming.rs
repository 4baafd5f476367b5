//! Sharing a run with other executor instances through
//! [`OperationClaims`](crate::journal::OperationClaims): the settings, the claim taken
//! before each request, and what the run does when another instance holds an operation.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::ExecutorError;
use super::policy::CheckPurpose;
use super::report::OperationOutcome;
use super::scheduler::Run;
use super::task::Action;
use crate::clock::wall_now;
use crate::journal::{ClaimOutcome, OperationClaims, OperationState, RunId};
use crate::model::Operation;

/// How an executor claims operations ([`super::ExecutorBuilder::claims`]).
///
/// Before each attempt the executor claims the operation for `lease` (renewing its
/// own lease). When another instance holds it, this executor does not send it: it
/// polls every `poll` (or when that lease ends, if sooner) until the other instance
/// completes it, then takes its outcome from the journal (no second call, no second
/// audit record). If the other lease runs out first, this executor takes the
/// operation over and asks the system ([`crate::adapter::Adapter::check`]) whether
/// the other attempt took effect before sending anything. After `max_wait` of waiting
/// it stops waiting: the operation is reported [`super::OperationOutcome::Pending`]
/// (nothing journaled; its dependents are not started) and a later resume finishes it.
///
/// `lease` must outlast one request plus the longest retry delay
/// ([`super::RetryConfig`]): an instance that is slower than its lease may see its
/// operation taken over (the taker checks the system first, but a request still in
/// the air then could land twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSettings {
    /// This instance's name in the claims (unique per running instance).
    pub holder: String,
    /// How long a claim holds without renewal. Default 5 minutes.
    pub lease: Duration,
    /// How often to look again at an operation another instance holds. Default 1 s.
    pub poll: Duration,
    /// How long to wait for another instance's operation. Default 10 minutes.
    pub max_wait: Duration,
}

impl ClaimSettings {
    /// Default settings for the instance named `holder`.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            lease: Duration::from_secs(300),
            poll: Duration::from_secs(1),
            max_wait: Duration::from_secs(600),
        }
    }
}

/// Claims `op` before a request when claims are configured. `None`: go ahead (claimed,
/// or no claims). `Some`: do not send; for an attempt (`check == false`) a take-over
/// from another holder is refused too, so that the system is checked first.
pub(super) async fn claim_first(
    claims: Option<(Arc<dyn OperationClaims>, ClaimSettings)>,
    run: &RunId,
    op: &Operation,
    check: bool,
) -> Result<Option<ClaimOutcome>, ExecutorError> {
    let Some((claims, settings)) = claims else {
        return Ok(None);
    };
    let claim = claims
        .claim(run, &op.id, &settings.holder, settings.lease)
        .await?;
    Ok(match claim {
        ClaimOutcome::Claimed {
            previous_holder: None,
            ..
        } => None,
        ClaimOutcome::Claimed { .. } if check => None,
        refused => Some(refused),
    })
}

impl Run<'_> {
    /// The claim before an attempt was not a plain grant: nothing was sent.
    pub(super) async fn on_not_claimed(
        &mut self,
        idx: usize,
        claim: ClaimOutcome,
    ) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let slot = &mut self.slots[idx];
        // Nothing was sent: the attempt or check does not count.
        match slot.action {
            Action::Execute => slot.attempts = slot.attempts.saturating_sub(1),
            Action::Check(_) => slot.checks = slot.checks.saturating_sub(1),
        }
        let now = Instant::now();
        match claim {
            ClaimOutcome::Claimed {
                previous_holder, ..
            } => {
                // Ours now; the previous holder may have sent it: ask the system first.
                tracing::info!(operation = %op.id, previous_holder = previous_holder.as_deref().unwrap_or(""), "took the operation over; checking the system first");
                slot.claimed = true;
                slot.waiting_since = None;
                slot.action = Action::Check(CheckPurpose::MaybeApplied);
                self.enqueue(idx, None);
                Ok(())
            }
            ClaimOutcome::AlreadyDone => self.adopt(idx).await,
            ClaimOutcome::HeldByOther {
                holder,
                lease_until,
            } => {
                let since = *slot.waiting_since.get_or_insert(now);
                let settings = self.exec.claims.as_ref().map(|(_, s)| s);
                let (poll, max_wait) = settings.map_or(
                    (std::time::Duration::from_secs(1), std::time::Duration::ZERO),
                    |s| (s.poll, s.max_wait),
                );
                if now >= since + max_wait {
                    tracing::warn!(operation = %op.id, %holder, "still held by another instance; stopped waiting");
                    self.finish(idx, OperationOutcome::Pending);
                    return Ok(());
                }
                let lease_left = (lease_until - wall_now()).to_std().unwrap_or_default();
                let next = poll
                    .min(lease_left)
                    .max(std::time::Duration::from_millis(10));
                tracing::debug!(operation = %op.id, %holder, "held by another instance; waiting");
                self.enqueue(idx, Some((now + next).min(since + max_wait)));
                Ok(())
            }
        }
    }

    /// Another instance completed the operation: takes its final state from the journal
    /// without calling the system or auditing again.
    pub(super) async fn adopt(&mut self, idx: usize) -> Result<(), ExecutorError> {
        let op = &self.plan.operations[idx];
        let journal = self.exec.journal.as_ref().ok_or(ExecutorError::NoJournal)?;
        let last = self
            .drive(journal.entries(&self.run))
            .await?
            .into_iter()
            .rev()
            .find(|e| e.operation == op.id && e.state.is_final());
        tracing::info!(operation = %op.id, "completed by another instance");
        self.slots[idx].from_journal = true;
        match last.map(|e| e.state) {
            Some(OperationState::Succeeded {
                effect,
                external_id,
            }) => {
                if let Some(id) = external_id {
                    self.ids.insert(op.identity.clone(), op.system.clone(), id);
                }
                self.finish(idx, OperationOutcome::from_effect(effect));
                self.start_dependents(idx);
                Ok(())
            }
            Some(OperationState::Failed { error }) => {
                self.finish(idx, OperationOutcome::Failed { error });
                self.skip_dependents(idx).await
            }
            Some(OperationState::Skipped { because }) => {
                self.finish(idx, OperationOutcome::Skipped { because });
                self.skip_dependents(idx).await
            }
            // Marked done without a final state in the journal: report it unfinished.
            _ => {
                self.finish(idx, OperationOutcome::Pending);
                Ok(())
            }
        }
    }

    /// Marks this instance's claim on a settled operation complete (`done`) or gives it
    /// back (unfinished). An operation settled without a claim of ours (e.g. a resume
    /// check found it done) is claimed first, so other instances do not send it.
    pub(super) async fn settle_claim(
        &mut self,
        idx: usize,
        done: bool,
    ) -> Result<(), ExecutorError> {
        let exec = self.exec;
        let Some((claims, settings)) = &exec.claims else {
            return Ok(());
        };
        let op = &self.plan.operations[idx].id;
        if !self.slots[idx].claimed {
            let claim = self
                .drive(claims.claim(&self.run, op, &settings.holder, settings.lease))
                .await?;
            if !matches!(claim, ClaimOutcome::Claimed { .. }) {
                return Ok(());
            }
        }
        self.slots[idx].claimed = false;
        if done {
            self.drive(claims.complete(&self.run, op, &settings.holder))
                .await?;
        } else {
            self.drive(claims.release(&self.run, op, &settings.holder))
                .await?;
        }
        Ok(())
    }
}
