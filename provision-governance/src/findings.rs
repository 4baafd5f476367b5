//! Governance findings for a drift report: SoD conflicts people hold, and
//! exceptions that ended with nothing renewing them.

use chrono::{DateTime, SecondsFormat, Utc};

use provision_core::drift::{DriftClass, Evidence, Finding, Holder, Severity, Subject};
use provision_core::model::{ActualState, Operation, OperationKind, Priority, Reason, ReasonKind};

use super::exception::{Exception, ExceptionStatus, status_of};
use super::sod::{SodRules, is_covered};

/// Every SoD conflict held in `actual` that no active exception covers, as a finding
/// of at least high severity (a person decides the fix: revoke or an exception).
pub fn sod_findings(
    rules: &SodRules,
    actual: &ActualState,
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> Vec<Finding> {
    rules
        .conflicts_in(actual)
        .into_iter()
        .filter(|c| !is_covered(c, exceptions, now))
        .filter_map(|c| {
            let last = c.grants.last()?.clone();
            let who = actual.identities.get(&c.identity);
            let login = who
                .and_then(|w| w.accounts.get(&last.system))
                .map(|a| a.record.login.clone())
                .unwrap_or_else(|| c.identity.to_string());
            let written = rules
                .get(&c.rule)
                .and_then(|r| r.source.as_ref())
                .map(|s| format!(" (written at {s})"))
                .unwrap_or_default();
            Some(Finding {
                class: DriftClass::SodConflict,
                severity: c.severity.max(Severity::High),
                identity: Some(c.identity.clone()),
                holder: Holder::Current,
                login,
                system: last.system.clone(),
                subject: Subject::Grant { entitlement: last },
                evidence: Evidence {
                    system: c.grants[0].system.clone(),
                    read_at: None,
                    observed: format!(
                        "holds {}",
                        c.grants
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                    expected: format!(
                        "not all of them: separation-of-duties rule '{}'{written}; revoke one or record an exception",
                        c.rule
                    ),
                    policies: Vec::new(),
                    owner: None,
                    in_flight: None,
                },
                remediation: Vec::new(),
            })
        })
        .collect()
}

/// Every entitlement exception that ended with nothing renewing it, while its grant
/// is still held: the fix revokes it (the next governed run does so).
pub fn expired_exception_findings(
    exceptions: &[Exception],
    actual: &ActualState,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in exceptions {
        let Some(entitlement) = e.entitlement() else {
            continue;
        };
        if status_of(e, exceptions, now) != ExceptionStatus::Expired {
            continue;
        }
        let Some(who) = actual.identities.get(&e.identity) else {
            continue;
        };
        if !who.grants.contains(entitlement) {
            continue;
        }
        let login = who
            .accounts
            .get(&entitlement.system)
            .map(|a| a.record.login.clone())
            .unwrap_or_else(|| e.identity.to_string());
        let kind = OperationKind::Revoke {
            entitlement: entitlement.clone(),
        };
        let ended = e.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        out.push(Finding {
            class: DriftClass::ExpiredException,
            severity: Severity::Medium,
            identity: Some(e.identity.clone()),
            holder: Holder::Current,
            login: login.clone(),
            system: entitlement.system.clone(),
            subject: Subject::Grant {
                entitlement: entitlement.clone(),
            },
            evidence: Evidence {
                system: entitlement.system.clone(),
                read_at: None,
                observed: format!("still held; {} ended {ended}", e.describe()),
                expected: "revoked on the next run unless the exception is renewed".into(),
                policies: vec![format!("exception {}", e.id)],
                owner: None,
                in_flight: None,
            },
            remediation: vec![Operation {
                id: Operation::make_id(&e.identity, &entitlement.system, &kind),
                identity: e.identity.clone(),
                login,
                system: entitlement.system.clone(),
                kind,
                reason: Reason {
                    kind: ReasonKind::Expired,
                    policies: vec![format!("exception {}", e.id)],
                    event: None,
                    detail: format!("exception {} ended {ended} and nothing renews it", e.id),
                    valid_until: None,
                },
                priority: Priority::Normal,
            }],
        });
    }
    out
}
