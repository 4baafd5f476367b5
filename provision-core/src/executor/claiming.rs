//! Settings for sharing a run with other executor instances through
//! [`OperationClaims`](crate::journal::OperationClaims).

use std::time::Duration;

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
