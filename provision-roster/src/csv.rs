//! CSV rosters: a header row, then one person per record. Columns are found by
//! header name through a [`RosterMapping`]; the file is streamed (never held whole),
//! and every record keeps its line for problems.
//!
//! ```text
//! Employee ID,Work Email,First Name,Last Name,Worker Status,Termination Date,Department
//! e1001,sarah.chen@company.com,Sarah,Chen,Active,,Sales
//! e1004,tom.keller@company.com,Tom,Keller,Terminated,2025-03-31,Engineering
//! ```
//!
//! Cells are trimmed; an empty cell is an absent value. A UTF-8 byte-order mark
//! (Excel) is ignored. A record with the wrong number of fields, or a cell that is
//! not UTF-8, is a row problem; the other rows still load.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;

use crate::errors::{RosterError, RowProblem, SourceRow};
use crate::mapping::{RosterMapping, RowValues};
use crate::{Collector, RosterLoad};

/// Why a CSV roster could not be read at all.
#[derive(Debug)]
pub(crate) enum CsvReadError {
    /// The header does not fit the mapping.
    Roster(RosterError),
    /// Reading failed.
    Io(io::Error),
}

/// Where each mapped value is in a record.
struct Columns {
    id: usize,
    email: usize,
    login: Option<usize>,
    display_name: Vec<usize>,
    status: Option<usize>,
    effective: Option<usize>,
    /// (attribute name, column index).
    attributes: Vec<(String, usize)>,
}

fn resolve(
    file: &str,
    headers: &[String],
    mapping: &RosterMapping,
) -> Result<Columns, RosterError> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(headers.len());
    let mut duplicated = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if index.insert(h.as_str(), i).is_some() {
            duplicated.push(h.as_str());
        }
    }
    let header_list = || {
        headers
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut missing = Vec::new();
    let mut find = |column: &str, role: &str, required: bool| -> Option<usize> {
        if duplicated.contains(&column) {
            missing.push(format!(
                "column `{column}` ({role}) appears more than once in the header"
            ));
            return None;
        }
        let found = index.get(column).copied();
        if found.is_none() && required {
            missing.push(format!("column `{column}` ({role}) is not in the header"));
        }
        found
    };
    let strict = mapping.strict_columns;
    let id = find(&mapping.id, "the id", true);
    let email = find(&mapping.email, "the email", true);
    let login = mapping
        .login
        .as_deref()
        .and_then(|c| find(c, "the login", strict));
    let display_name: Vec<Option<usize>> = mapping
        .display_name
        .columns()
        .iter()
        .map(|c| find(c, "the display name", true))
        .collect();
    let status = mapping
        .status
        .as_deref()
        .and_then(|c| find(c, "the status", strict));
    let effective = mapping
        .effective
        .as_deref()
        .and_then(|c| find(c, "the termination date", strict));
    let mut attributes = Vec::new();
    match &mapping.attributes {
        Some(map) => {
            for (name, column) in map {
                if let Some(i) = find(column, &format!("attribute `{name}`"), true) {
                    attributes.push((name.clone(), i));
                }
            }
        }
        None => {
            let used: Vec<usize> = [
                Some(id),
                Some(email),
                Some(login),
                Some(status),
                Some(effective),
            ]
            .into_iter()
            .flatten()
            .flatten()
            .chain(display_name.iter().flatten().copied())
            .collect();
            for (i, h) in headers.iter().enumerate() {
                if used.contains(&i) || h.is_empty() {
                    continue;
                }
                if duplicated.contains(&h.as_str()) {
                    missing.push(format!(
                        "column `{h}` appears more than once in the header (every unmapped column becomes an attribute named after it)"
                    ));
                    continue;
                }
                attributes.push((h.clone(), i));
            }
        }
    }
    if !missing.is_empty() {
        return Err(RosterError::at(
            file,
            1,
            1,
            "",
            format!(
                "the header does not fit the roster mapping: {}; the header has: {}",
                missing.join("; "),
                header_list()
            ),
        ));
    }
    match (
        id,
        email,
        display_name.into_iter().collect::<Option<Vec<_>>>(),
    ) {
        (Some(id), Some(email), Some(display_name)) => Ok(Columns {
            id,
            email,
            login,
            display_name,
            status,
            effective,
            attributes,
        }),
        _ => Err(RosterError::at(
            file,
            1,
            1,
            "",
            "the header does not fit the roster mapping",
        )),
    }
}

/// Reads a CSV roster from `input`; `file` names it in problems.
pub(crate) fn read_csv<R: io::Read>(
    file: &str,
    input: R,
    mapping: &RosterMapping,
) -> Result<RosterLoad, CsvReadError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(input);
    let headers: Vec<String> = match reader.byte_headers() {
        Ok(h) => h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let text = String::from_utf8_lossy(b);
                let text = if i == 0 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    &text
                };
                text.trim().to_owned()
            })
            .collect(),
        Err(e) => return Err(csv_error(file, e)),
    };
    if headers.iter().all(String::is_empty) {
        return Err(CsvReadError::Roster(RosterError::at(
            file,
            1,
            1,
            "",
            "the file is empty; expected a header row naming the columns",
        )));
    }
    let columns = resolve(file, &headers, mapping).map_err(CsvReadError::Roster)?;
    let id_field = headers[columns.id].as_str();
    let login_field = columns
        .login
        .map_or(mapping.email.as_str(), |i| headers[i].as_str());
    let mut collector = Collector::with_capacity(1024);
    let mut record = ::csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(file, e)),
        }
        let line = record.position().map_or(0, ::csv::Position::line);
        let source = SourceRow::new(file, line);
        if record.len() != headers.len() {
            if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                continue; // a line of spaces
            }
            collector.problem(RowProblem::new(
                source,
                "",
                format!(
                    "the row has {} fields; the header has {} (a missing or extra separator, or an unclosed quote?)",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let mut bad_text = Vec::new();
        let mut cell = |i: usize| cell_text(&record, i, &mut bad_text);
        let values = RowValues {
            id: cell(columns.id),
            email: cell(columns.email),
            login: columns.login.and_then(&mut cell),
            display_name: columns.display_name.iter().map(|&i| cell(i)).collect(),
            status: columns.status.and_then(&mut cell),
            status_present: columns.status.is_some(),
            effective: columns.effective.and_then(&mut cell),
            attributes: columns
                .attributes
                .iter()
                .map(|(name, i)| (Cow::Borrowed(name.as_str()), cell(*i)))
                .collect(),
        };
        if !bad_text.is_empty() {
            for i in bad_text {
                collector.problem(RowProblem::new(
                    source.clone(),
                    headers[i].as_str(),
                    "the cell is not valid UTF-8 text (export the file as UTF-8)",
                ));
            }
            continue;
        }
        match mapping.build(values, &source) {
            Ok(person) => collector.person(person, source, None, id_field, login_field),
            Err(problems) => problems.into_iter().for_each(|p| collector.problem(p)),
        }
    }
    Ok(collector.finish())
}

/// A cell as text (`None` when empty); a cell that is not UTF-8 is recorded in `bad`.
fn cell_text<'a>(
    record: &'a ::csv::ByteRecord,
    i: usize,
    bad: &mut Vec<usize>,
) -> Option<Cow<'a, str>> {
    let bytes = record.get(i)?;
    match std::str::from_utf8(bytes) {
        Ok("") => None,
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => {
            bad.push(i);
            None
        }
    }
}

fn csv_error(file: &str, e: ::csv::Error) -> CsvReadError {
    let line = e.position().map_or(1, ::csv::Position::line);
    let message = format!("invalid CSV: {e}");
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => CsvReadError::Io(source),
        _ => CsvReadError::Roster(RosterError::at(file, line, 1, "", message)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::DisplayNameColumns;
    use provision_core::model::EmploymentStatus;
    use std::collections::BTreeMap;

    fn workday() -> RosterMapping {
        RosterMapping {
            id: "Employee ID".into(),
            email: "Work Email".into(),
            login: None,
            display_name: DisplayNameColumns::Joined(vec!["First Name".into(), "Last Name".into()]),
            status: Some("Worker Status".into()),
            effective: Some("Termination Date".into()),
            attributes: Some(BTreeMap::from([
                ("department".into(), "Department".into()),
                ("manager".into(), "Manager ID".into()),
            ])),
            strict_columns: true,
            ..RosterMapping::default()
        }
    }

    const HEADER: &str = "Employee ID,Work Email,First Name,Last Name,Worker Status,Termination Date,Department,Manager ID,Cost Center\n";

    fn read(text: &str) -> RosterLoad {
        match read_csv("hr/workers.csv", text.as_bytes(), &workday()) {
            Ok(l) => l,
            Err(CsvReadError::Roster(e)) => panic!("{e}"),
            Err(CsvReadError::Io(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn rows_load_through_the_mapping() {
        let load = read(&format!(
            "\u{feff}{HEADER}e1,sarah@x.com,Sarah,Chen,Active,,Sales,e5,CC1\n\"e2\",tom@x.com,Tom,\"Keller, Jr.\",Terminated,2025-03-31,Engineering,,CC2\n"
        ));
        assert!(load.is_clean(), "{:?}", load.problems);
        let people: Vec<_> = load.people().collect();
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].display_name, "Sarah Chen");
        assert_eq!(people[0].attribute("department"), Some("Sales"));
        assert_eq!(people[0].attribute("manager"), Some("e5"));
        assert_eq!(
            people[0].attribute("Cost Center"),
            None,
            "only mapped attributes"
        );
        assert_eq!(people[1].display_name, "Tom Keller, Jr.");
        assert!(matches!(
            people[1].status,
            EmploymentStatus::Terminated { .. }
        ));
        assert_eq!(load.entries[1].source, SourceRow::new("hr/workers.csv", 3));
    }

    #[test]
    fn bad_rows_are_reported_and_good_rows_still_load() {
        let load = read(&format!(
            "{HEADER}e1,sarah@x.com,Sarah,Chen,Active,,Sales,e5,CC1\ne2,tom@x.com,Tom,Keller,Fired,,Sales,,CC2\ne3,too,few\n\"e4\",\"multi\nline@x.com\",A,B,Active,,Sales,,CC\ne1,other@x.com,Other,Person,Active,,Sales,,CC\ne6,ana@x.com,Ana,Lima,Terminated,someday,Sales,,CC\ne7,bo@x.com,Bo,Ek,active,,Ops,,CC\n"
        ));
        let ids: Vec<&str> = load.people().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["e1", "e7"]);
        let problems: Vec<String> = load.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "hr/workers.csv:3: Worker Status: unknown status `Fired`; expected one of:"
            ),
            "{}",
            problems[0]
        );
        assert_eq!(
            problems[1],
            "hr/workers.csv:4: the row has 3 fields; the header has 9 (a missing or extra separator, or an unclosed quote?)"
        );
        assert!(
            problems[2].starts_with(
                "hr/workers.csv:5: Work Email: `multi\nline@x.com` is not an email address"
            ),
            "{}",
            problems[2]
        );
        assert_eq!(
            problems[3],
            "hr/workers.csv:7: Employee ID: duplicate id `e1`; also used at hr/workers.csv:2"
        );
        assert!(
            problems[4].starts_with(
                "hr/workers.csv:8: Termination Date: invalid termination date `someday`"
            ),
            "{}",
            problems[4]
        );
        assert_eq!(load.problems[3].id.as_ref().map(|i| i.as_str()), Some("e1"));
    }

    #[test]
    fn a_mapped_column_missing_from_the_header_stops_the_load_and_says_so() {
        let Err(CsvReadError::Roster(e)) = read_csv(
            "hr/workers.csv",
            "Employee ID,Work Email,First Name,Last Name,Status\n".as_bytes(),
            &workday(),
        ) else {
            panic!("expected a header error")
        };
        let text = e.to_string();
        assert!(text.contains("hr/workers.csv:1:1: the header does not fit the roster mapping: column `Worker Status` (the status) is not in the header; column `Termination Date` (the termination date) is not in the header; column `Department` (attribute `department`) is not in the header"), "{text}");
        assert!(
            text.contains(
                "the header has: `Employee ID`, `Work Email`, `First Name`, `Last Name`, `Status`"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_conventional_mapping_takes_every_other_column_as_an_attribute() {
        let load = read_csv(
            "r.csv",
            "id,email,display_name,department,title\ne1,a@x.com,A,Sales,\n".as_bytes(),
            &RosterMapping::default(),
        )
        .map_err(|_| ())
        .unwrap();
        let p = load.people().next().unwrap();
        assert_eq!(p.attribute("department"), Some("Sales"));
        assert_eq!(
            p.attribute("title"),
            None,
            "an empty cell is an absent attribute"
        );
        assert_eq!(p.login, "a@x.com");
        assert_eq!(p.status, EmploymentStatus::Active);
    }

    #[test]
    fn a_cell_that_is_not_utf8_is_a_row_problem() {
        let mut bytes = b"id,email,display_name\ne1,a@x.com,A\ne2,b@x.com,B".to_vec();
        bytes.push(0xff);
        bytes.extend_from_slice(b"\ne3,c@x.com,C\n");
        let load = read_csv("r.csv", bytes.as_slice(), &RosterMapping::default())
            .map_err(|_| ())
            .unwrap();
        assert_eq!(load.entries.len(), 2);
        assert_eq!(
            load.problems[0].to_string(),
            "r.csv:3: display_name: the cell is not valid UTF-8 text (export the file as UTF-8)"
        );
    }
}
