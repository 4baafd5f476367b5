//! The audit hash chain: a clean log verifies; removing, reordering, inserting or
//! altering any record is detected and the first bad seq is named.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed assertion

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use provision_core::audit::{
    Anchor, AuditEvent, AuditOutcome, AuditRecord, ChainError, ChainHead, GENESIS_HASH, verify,
    verify_with_anchor,
};
use provision_core::journal::RunId;
use provision_core::model::{Entitlement, IdentityId, OperationId, Reason, ReasonKind, SystemName};

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        at: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).unwrap(),
        run: RunId("run-1".into()),
        actor: "hr-sync".into(),
        identity: IdentityId(format!("e{}", 1000 + i)),
        system: SystemName::new(if i.is_multiple_of(2) { "okta" } else { "slack" }),
        operation: OperationId(format!("e{}/okta/grant/group/eng", 1000 + i)),
        action: "grant".into(),
        entitlement: Some(Entitlement::new("okta", "group", "engineering-team")),
        outcome: if i.is_multiple_of(3) {
            AuditOutcome::Changed
        } else {
            AuditOutcome::Failed {
                class: "permanent".into(),
                error: "HTTP 400 E0000001: Api validation failed".into(),
            }
        },
        reason: Reason {
            kind: ReasonKind::PolicyGrant,
            policies: vec!["Engineering Access".into()],
            event: Some(format!("hr-event-{i}")),
            detail: "policy 'Engineering Access' matched department=Engineering".into(),
            valid_until: None,
        },
        note: None,
    }
}

fn log(n: u64) -> Vec<AuditRecord> {
    let mut head = ChainHead::genesis();
    (0..n).map(|i| head.seal(event(i)).unwrap()).collect()
}

#[test]
fn a_clean_log_verifies_and_reports_its_head() {
    let records = log(6);
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    assert_eq!(records[0].prev_hash.len(), 64);
    assert_eq!(records[1].prev_hash, records[0].hash);
    let verified = verify(&records).unwrap();
    assert_eq!(verified.records, 6);
    assert_eq!(
        verified.anchor(),
        Some(&Anchor {
            seq: 5,
            hash: records[5].hash.clone()
        })
    );
    assert_eq!(verify(&[]).unwrap().head, None);
}

#[test]
fn hashes_are_stable_across_a_json_round_trip() {
    let records = log(4);
    let json = serde_json::to_string(&records).unwrap();
    let back: Vec<AuditRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(verify(&back).unwrap().records, 4);
}

#[test]
fn removing_a_record_in_the_middle_names_its_seq() {
    let mut records = log(5);
    records.remove(2);
    let err = verify(&records).unwrap_err();
    assert_eq!(
        err,
        ChainError::UnexpectedSeq {
            position: 2,
            expected: 2,
            found: 3
        }
    );
    assert!(err.to_string().contains("removed"), "{err}");
}

#[test]
fn removing_the_first_record_is_detected() {
    let mut records = log(3);
    records.remove(0);
    assert_eq!(verify(&records).unwrap_err().seq(), 0);
}

#[test]
fn renumbering_after_a_removal_breaks_the_link() {
    let mut records = log(5);
    records.remove(2);
    for (i, r) in records.iter_mut().enumerate() {
        r.seq = i as u64;
    }
    // Record 2 (formerly 3) now has a seq its hash was not computed over.
    let err = verify(&records).unwrap_err();
    assert_eq!(err.seq(), 2);
    assert!(matches!(err, ChainError::BrokenLink { .. }), "{err}");
}

#[test]
fn swapping_two_records_is_detected() {
    let mut records = log(5);
    records.swap(1, 3);
    assert_eq!(verify(&records).unwrap_err().seq(), 1);
}

#[test]
fn altering_the_outcome_or_the_identity_is_detected() {
    let mut records = log(5);
    assert_eq!(records[3].event.outcome, AuditOutcome::Changed);
    records[3].event.outcome = AuditOutcome::AlreadyInPlace;
    let err = verify(&records).unwrap_err();
    assert!(
        matches!(err, ChainError::Altered { seq: 3, .. }),
        "expected Altered at 3, got {err}"
    );

    let mut records = log(5);
    records[1].event.identity = IdentityId("e9999".into());
    assert!(matches!(
        verify(&records).unwrap_err(),
        ChainError::Altered { seq: 1, .. }
    ));
}

#[test]
fn an_altered_record_with_a_recomputed_hash_breaks_the_next_link() {
    let mut records = log(5);
    records[2].event.actor = "mallory".into();
    records[2].hash =
        provision_core::audit::record_hash(2, &records[2].prev_hash, &records[2].event).unwrap();
    let err = verify(&records).unwrap_err();
    assert!(
        matches!(err, ChainError::BrokenLink { seq: 3, .. }),
        "{err}"
    );
}

#[test]
fn an_inserted_forged_record_is_detected() {
    let mut records = log(4);
    // A forger chains a record properly to seq 1 and slips it in at position 2.
    let forged = ChainHead::after(&records[1]).seal(event(77)).unwrap();
    records.insert(2, forged);
    let err = verify(&records).unwrap_err();
    assert_eq!(
        err,
        ChainError::UnexpectedSeq {
            position: 3,
            expected: 3,
            found: 2
        }
    );
}

#[test]
fn truncation_at_the_end_needs_the_anchor() {
    let records = log(5);
    let anchor = verify(&records).unwrap().head.unwrap();
    let truncated = &records[..3];
    // A shorter log is itself a valid chain ...
    assert!(verify(truncated).is_ok());
    // ... but not against the anchor kept elsewhere.
    let err = verify_with_anchor(truncated, &anchor).unwrap_err();
    assert_eq!(
        err,
        ChainError::Truncated {
            len: 3,
            anchor_seq: 4
        }
    );
    // Records appended after the anchor are fine.
    let mut grown = records.clone();
    let mut head = ChainHead::after_last(&grown);
    grown.push(head.seal(event(5)).unwrap());
    assert_eq!(verify_with_anchor(&grown, &anchor).unwrap().records, 6);
}

#[test]
fn a_rewritten_tail_is_caught_by_the_anchor() {
    let records = log(5);
    let anchor = verify(&records).unwrap().head.unwrap();
    // Rewrite records 3 and 4 with fresh hashes: a valid chain, but not the one anchored.
    let mut rewritten: Vec<AuditRecord> = records[..3].to_vec();
    let mut head = ChainHead::after_last(&rewritten);
    let mut e = event(3);
    e.outcome = AuditOutcome::AlreadyInPlace;
    rewritten.push(head.seal(e).unwrap());
    rewritten.push(head.seal(event(4)).unwrap());
    assert!(verify(&rewritten).is_ok());
    let err = verify_with_anchor(&rewritten, &anchor).unwrap_err();
    assert!(
        matches!(err, ChainError::AnchorMismatch { seq: 4, .. }),
        "{err}"
    );
}

/// Nothing in the audit or journal types can hold a `SecretString`: secrecy's
/// `SecretString` does not implement `Serialize`, and every one of these types
/// derives it, so a secret field would not compile.
#[test]
fn audit_and_journal_types_cannot_hold_a_secret() {
    use std::marker::PhantomData;
    struct Probe<T>(PhantomData<T>);
    trait NotSerialize {
        fn is_serialize(&self) -> bool {
            false
        }
    }
    impl<T> NotSerialize for Probe<T> {}
    impl<T: serde::Serialize> Probe<T> {
        fn is_serialize(&self) -> bool {
            true
        }
    }
    assert!(!Probe::<provision_core::secret::SecretString>(PhantomData).is_serialize());
    assert!(Probe::<AuditEvent>(PhantomData).is_serialize());
    assert!(Probe::<AuditRecord>(PhantomData).is_serialize());
    assert!(Probe::<provision_core::journal::JournalEntry>(PhantomData).is_serialize());
    assert!(Probe::<provision_core::model::Plan>(PhantomData).is_serialize());
}

#[derive(Debug, Clone)]
enum Tamper {
    Remove(usize),
    Swap(usize, usize),
    AlterIdentity(usize),
    AlterOutcome(usize),
    AlterActor(usize),
    AlterTime(usize),
    AlterReason(usize),
    AlterSeq(usize),
    AlterHash(usize),
    AlterPrevHash(usize),
    InsertForged(usize),
}

fn tamper_strategy(n: usize) -> impl Strategy<Value = Tamper> {
    let i = 0..n;
    prop_oneof![
        i.clone().prop_map(Tamper::Remove),
        (0..n, 0..n)
            .prop_filter("distinct", |(a, b)| a != b)
            .prop_map(|(a, b)| Tamper::Swap(a.min(b), a.max(b))),
        i.clone().prop_map(Tamper::AlterIdentity),
        i.clone().prop_map(Tamper::AlterOutcome),
        i.clone().prop_map(Tamper::AlterActor),
        i.clone().prop_map(Tamper::AlterTime),
        i.clone().prop_map(Tamper::AlterReason),
        i.clone().prop_map(Tamper::AlterSeq),
        i.clone().prop_map(Tamper::AlterHash),
        i.clone().prop_map(Tamper::AlterPrevHash),
        i.prop_map(Tamper::InsertForged),
    ]
}

proptest! {
    #[test]
    fn any_tampering_is_detected_at_the_first_bad_seq(
        (n, tamper) in (2usize..24).prop_flat_map(|n| (Just(n), tamper_strategy(n)))
    ) {
        let original = log(n as u64);
        let anchor = verify(&original).unwrap().head.unwrap();
        let mut r = original.clone();
        let expected_seq = match tamper {
            Tamper::Remove(i) => { r.remove(i); i }
            Tamper::Swap(a, b) => { r.swap(a, b); a }
            Tamper::AlterIdentity(i) => { r[i].event.identity.0.push('x'); i }
            Tamper::AlterOutcome(i) => {
                r[i].event.outcome = if r[i].event.outcome == AuditOutcome::Pending {
                    AuditOutcome::Changed
                } else {
                    AuditOutcome::Pending
                };
                i
            }
            Tamper::AlterActor(i) => { r[i].event.actor = "someone-else".into(); i }
            Tamper::AlterTime(i) => { r[i].event.at += chrono::Duration::seconds(1); i }
            Tamper::AlterReason(i) => { r[i].event.reason.detail.push('!'); i }
            Tamper::AlterSeq(i) => { r[i].seq += 100; i }
            Tamper::AlterHash(i) => { r[i].hash = "f".repeat(64); i }
            Tamper::AlterPrevHash(i) => { r[i].prev_hash = "e".repeat(64); i }
            Tamper::InsertForged(i) => {
                let mut head = if i == 0 { ChainHead::genesis() } else { ChainHead::after(&r[i - 1]) };
                let forged = head.seal(event(999)).unwrap();
                r.insert(i, forged);
                // The forged record is itself well formed; the original one after it is not.
                i + 1
            }
        };
        let err = verify_with_anchor(&r, &anchor).unwrap_err();
        prop_assert_eq!(err.seq(), expected_seq as u64, "{}", err);
        // Everything but removing the very last record is caught without the anchor too.
        if !matches!(tamper, Tamper::Remove(i) if i == n - 1) {
            let err = verify(&r).unwrap_err();
            prop_assert_eq!(err.seq(), expected_seq as u64, "{}", err);
        }
    }
}
