//! A reviewer's filled list read back as decisions: the CSV that
//! [`ReviewerList::to_csv`](super::export::ReviewerList::to_csv) wrote, with its
//! `decision` column filled in (`keep` or `revoke`; empty: not decided yet) and a
//! `reason`. Only the `id`, `decision` and `reason` columns are read: whatever else a
//! spreadsheet kept or changed (a name, the evidence) is the reviewer's reading aid,
//! not a decision. Who decided never comes from the file.
//!
//! Spreadsheets are forgiven what they do to a file: a byte-order mark, a `;`
//! separator (the European Excel default), the `'` that neutralised a formula, and
//! `Keep` or ` REVOKE ` for `keep` and `revoke`.

use serde::{Deserialize, Serialize};

use super::super::error::{GovernanceError, RowRefusal};
use super::Outcome;

/// The reason recorded for a revoke its reviewer gave no reason for (a keep needs
/// one: it becomes an exception with a rationale).
pub const REVOKE_WITHOUT_REASON: &str = "revoked in the access review (no reason given)";

/// One decision read from a batch, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRow {
    /// Its row: the CSV line (the header is line 1), or the position in an HTTP
    /// call's list (from 1).
    pub row: usize,
    /// The item.
    pub item: String,
    /// What was decided (a keep without an expiry lasts until the campaign's
    /// `keep_until`).
    pub outcome: Outcome,
}

/// A cell as a person typed it: trimmed, without the `'` a formula-safe export put
/// in front.
fn typed(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('\'').unwrap_or(cell).trim()
}

impl DecisionRow {
    /// The decision `decision` (`keep` or `revoke`, any case) with `reason` on `item`
    /// at `row`; `None` when `decision` is empty (not decided yet).
    pub fn parse(
        row: usize,
        item: &str,
        decision: &str,
        reason: &str,
    ) -> Result<Option<DecisionRow>, GovernanceError> {
        let reason = typed(reason).to_owned();
        let outcome = match typed(decision).to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "keep" => Outcome::Keep {
                reason,
                expires_at: None,
            },
            "revoke" => Outcome::Revoke {
                reason: if reason.is_empty() {
                    REVOKE_WITHOUT_REASON.to_owned()
                } else {
                    reason
                },
            },
            _ => {
                return Err(GovernanceError::UnknownOutcome {
                    value: decision.trim().to_owned(),
                });
            }
        };
        Ok(Some(DecisionRow {
            row,
            item: typed(item).to_owned(),
            outcome,
        }))
    }
}

/// The decisions of a filled CSV, and the rows that cannot be read as one (a
/// decision that is neither keep nor revoke). A file without an `id` or a `decision`
/// column, or one the CSV reader cannot read, is refused whole.
pub fn read_csv(text: &str) -> Result<(Vec<DecisionRow>, Vec<RowRefusal>), GovernanceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if !header.contains(',') && header.contains(';') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| GovernanceError::DecisionFile(e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| typed(h).eq_ignore_ascii_case(name))
    };
    let missing = |name: &str| {
        GovernanceError::DecisionFile(format!(
            "no `{name}` column in the header (`{}`): export the list with `provision review export`",
            headers.iter().collect::<Vec<_>>().join(",")
        ))
    };
    let id = column("id").ok_or_else(|| missing("id"))?;
    let decision = column("decision").ok_or_else(|| missing("decision"))?;
    let reason = column("reason");
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| GovernanceError::DecisionFile(e.to_string()))?;
        let line = record
            .position()
            .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        let cell = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let item = cell(Some(id));
        match DecisionRow::parse(line, item, cell(Some(decision)), cell(reason)) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => {}
            Err(error) => refused.push(RowRefusal {
                row: line,
                item: typed(item).to_owned(),
                error,
            }),
        }
    }
    Ok((rows, refused))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_what_a_spreadsheet_saved_and_names_the_row_of_a_bad_decision() {
        let text = "\u{feff}id;kind;decision;reason\n\
                    i-0001;stale;Keep ;covers the on-call rota\n\
                    i-0002;stale;;\n\
                    'i-0003;stale; REVOKE;\n\
                    i-0004;stale;maybe;not sure\n";
        let (rows, refused) = read_csv(text).unwrap();
        assert_eq!(
            rows,
            vec![
                DecisionRow {
                    row: 2,
                    item: "i-0001".into(),
                    outcome: Outcome::Keep {
                        reason: "covers the on-call rota".into(),
                        expires_at: None
                    }
                },
                DecisionRow {
                    row: 4,
                    item: "i-0003".into(),
                    outcome: Outcome::Revoke {
                        reason: REVOKE_WITHOUT_REASON.into()
                    }
                },
            ]
        );
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].row, 5);
        assert_eq!(
            refused[0].to_string(),
            "row 5 (item i-0004): `maybe` is not a decision: write keep, revoke, or leave it empty"
        );
    }

    #[test]
    fn a_file_without_a_decision_column_is_refused_naming_it() {
        let err = read_csv("id,kind\ni-0001,stale\n").unwrap_err();
        assert!(err.to_string().contains("no `decision` column"), "{err}");
    }
}
