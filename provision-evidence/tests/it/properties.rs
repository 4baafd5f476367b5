//! Invariants of evidence rows, by property: a fingerprint does not depend on the
//! order of object keys, and recording any collection again stores nothing new.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use provision_core::audit::MemoryAuditLog;
use provision_core::model::SystemName;
use provision_evidence::fingerprint::fingerprint;
use provision_evidence::{ControlMapping, EvidenceRow, EvidenceStore, MemoryEvidenceStore, Period};
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 @./]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,6}", inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// The same value with every object's keys inserted in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m.iter().rev() {
                out.insert(k.clone(), reversed(v));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn key_order_never_changes_a_fingerprint(data in json_value(), subject in proptest::option::of("[a-z]{1,8}")) {
        prop_assert_eq!(
            fingerprint("k", "okta", subject.as_deref(), &data),
            fingerprint("k", "okta", subject.as_deref(), &reversed(&data))
        );
    }

    #[test]
    fn recording_the_same_rows_again_stores_nothing_new(
        facts in prop::collection::vec(("[a-c]", proptest::option::of("[a-z]{1,3}"), json_value()), 1..20)
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let store = MemoryEvidenceStore::new(Arc::new(MemoryAuditLog::new()));
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let mapping = ControlMapping::defaults();
        let rows: Vec<EvidenceRow> = facts
            .into_iter()
            .map(|(kind, subject, data)| EvidenceRow::new(kind, "okta", subject, at, "r1", data, &mapping))
            .collect();
        let distinct: std::collections::BTreeSet<_> = rows.iter().map(|r| r.fingerprint.clone()).collect();
        let okta = SystemName::new("okta");
        let first = rt.block_on(store.record_collection("r1", &okta, at, &rows)).unwrap();
        prop_assert_eq!(first.new_rows, distinct.len() as u64);
        let second = rt.block_on(store.record_collection("r2", &okta, at, &rows)).unwrap();
        prop_assert_eq!(second.new_rows, 0);
        prop_assert_eq!(second.dedup_ratio(), 1.0);
        let period = Period::new(at, at + chrono::Duration::seconds(1));
        let stored = rt.block_on(store.rows_in(&period)).unwrap();
        prop_assert_eq!(stored.len(), distinct.len());
        prop_assert!(stored.iter().all(EvidenceRow::fingerprint_holds));
    }
}
