//! The audit hash of one fixed record, pinned.
//!
//! Every audit log already written (JSON lines, SQLite, PostgreSQL) is verified by
//! recomputing each record's hash from its canonical encoding. A change to that
//! encoding (field order, a renamed field, a new field serialised by default, a
//! different time format) would make every existing log fail verification — or,
//! worse, a verifier that changed together with it would stop protecting old logs.
//! This test fails on any such change: if it fails, the encoding changed, and old
//! logs need a migration story before the expected value may be updated.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use provision_core::audit::record_hash;
use provision_core::audit::{AuditEvent, AuditOutcome, ChainHead, GENESIS_HASH, verify};
use provision_core::model::{
    Entitlement, IdentityId, OperationId, Reason, ReasonKind, RunId, SystemName,
};

fn fixed_event() -> AuditEvent {
    AuditEvent {
        at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 26, 53).unwrap(),
        run: RunId("run-42".into()),
        actor: "hr-sync".into(),
        identity: IdentityId("e1001".into()),
        system: SystemName::new("okta"),
        operation: OperationId("e1001/okta/grant/group/engineering-team".into()),
        action: "grant".into(),
        entitlement: Some(Entitlement::new("okta", "group", "engineering-team")),
        outcome: AuditOutcome::Changed,
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["Senior Engineer Access".into()],
            event: Some("hire e1001".into()),
            detail: "policy 'Senior Engineer Access' matched department=Engineering".into(),
            valid_until: None,
        },
        note: None,
    }
}

/// Computed once from the encoding as it is; see the module docs before changing it.
const GOLDEN_FIRST_HASH: &str = "a3f9c53f5a8b8834d60678ef05eb93d741e117b6b6618edc28c9fc080d15b746";

#[test]
fn the_first_record_of_a_fixed_event_has_the_pinned_hash() {
    let hash = record_hash(0, GENESIS_HASH, &fixed_event()).unwrap();
    assert_eq!(hash, GOLDEN_FIRST_HASH, "the audit record encoding changed");
}

#[test]
fn the_chain_head_seals_with_the_same_hash_and_verifies() {
    let mut head = ChainHead::genesis();
    let record = head.seal(fixed_event()).unwrap();
    assert_eq!(record.seq, 0);
    assert_eq!(record.prev_hash, GENESIS_HASH);
    assert_eq!(record.hash, GOLDEN_FIRST_HASH);
    verify(std::slice::from_ref(&record)).unwrap();
}
