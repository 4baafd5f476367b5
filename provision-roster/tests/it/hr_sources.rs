//! HR sources against wiremock fakes answering as each vendor's documentation says,
//! unhappy states first: a short page with more to come, 429 with `Retry-After`, a
//! 503 (BambooHR's throttle), a 401 with the vendor's message, a malformed row.
//!
//! Answer shapes not checked against a real tenant ([U]):
//! * Workday RaaS JSON `{"Report_Entry": [...]}` with the report's own field names,
//!   and its 401 body: from Workday's RaaS documentation and community examples.
//! * BambooHR `{"title", "fields", "employees"}`, `"0000-00-00"` for an empty date,
//!   `503` + `Retry-After` for throttling and the `X-BambooHR-Error-Message` header:
//!   from BambooHR's API documentation and its client libraries.
//! * The generic report's paging (`Link rel="next"`, `next_page_token`) is this SDK's
//!   own contract for internal exports, not a vendor's.

use std::time::{Duration, Instant};

use provision_core::adapter::AdapterError;
use provision_core::config::CredentialRef;
use provision_core::model::EmploymentStatus;
use provision_roster::sources::{
    BambooHr, BambooHrReport, FileDrop, HrSource, HttpReport, Paging, ReadRetry, ReportFormat,
    SourceAuth, SourceError,
};
use provision_roster::{DisplayNameColumns, RosterMapping, RosterReader, StatusValues};
use provision_testkit::secrets::{LogCapture, SecretCheck};
use wiremock::matchers::{
    basic_auth, body_json, body_string_contains, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fast_retry() -> ReadRetry {
    ReadRetry::new(4, Duration::from_secs(5), Duration::from_millis(10))
}

/// A credential file holding `value` (kept alive by the returned dir).
fn secret_file(value: &str) -> (tempfile::TempDir, CredentialRef) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{value}\n")).unwrap();
    (dir, CredentialRef::File { file })
}

fn workday_mapping() -> RosterMapping {
    RosterMapping {
        id: "Employee_ID".into(),
        email: "Work_Email".into(),
        login: None,
        display_name: DisplayNameColumns::Column("Legal_Name".into()),
        status: Some("Worker_Status".into()),
        effective: Some("Termination_Date".into()),
        attributes: Some(
            [
                (
                    "department".to_owned(),
                    "Supervisory_Organization".to_owned(),
                ),
                ("title".to_owned(), "Business_Title".to_owned()),
            ]
            .into(),
        ),
        statuses: StatusValues {
            active: vec![],
            on_leave: vec!["On Leave".into()],
            terminated: vec![],
        },
        ..RosterMapping::default()
    }
}

const REPORT_PATH: &str = "/ccx/service/customreport2/acme/ISU_Provision/Workers_for_Provisioning";

// [U] Workday RaaS JSON shape.
const WORKDAY_JSON: &str = r#"{"Report_Entry": [
  {"Employee_ID": "21001", "Work_Email": "sarah.chen@acme.com", "Legal_Name": "Sarah Chen",
   "Worker_Status": "Active", "Supervisory_Organization": "Engineering", "Business_Title": "Senior Engineer"},
  {"Employee_ID": "21002", "Work_Email": "tom.keller@acme.com", "Legal_Name": "Tom Keller",
   "Worker_Status": "Terminated", "Termination_Date": "2026-12-04", "Supervisory_Organization": "Sales", "Business_Title": "AE"},
  {"Employee_ID": "21003", "Work_Email": "ana.ruiz@acme.com", "Legal_Name": "Ana Ruiz",
   "Worker_Status": "Fired", "Supervisory_Organization": "Sales", "Business_Title": "SDR"}
]}"#;

#[tokio::test]
async fn a_workday_raas_report_is_read_with_basic_auth_and_a_bad_row_is_named_by_line() {
    let server = MockServer::start().await;
    let (_dir, password) = secret_file("isu-password-7731");
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("format", "json"))
        .and(basic_auth("ISU_Provision@acme", "isu-password-7731"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(WORKDAY_JSON, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let source = HttpReport::workday_raas(
        "workday",
        format!("{}{REPORT_PATH}?format=json", server.uri()),
        "ISU_Provision@acme",
        password,
    )
    .with_mapping(workday_mapping())
    .with_retry(fast_retry());
    let load = source.pull().await.unwrap();
    assert_eq!(load.entries.len(), 2);
    let tom = &load.entries[1].identity;
    assert_eq!(tom.id.as_str(), "21002");
    assert!(matches!(tom.status, EmploymentStatus::Terminated { .. }));
    assert_eq!(tom.attribute("department"), Some("Sales"));
    assert_eq!(load.problems.len(), 1);
    let problem = load.problems[0].to_string();
    assert!(
        problem.starts_with("workday:6: Worker_Status: unknown status `Fired`"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_short_csv_page_with_more_to_come_and_a_429_are_both_followed() {
    let server = MockServer::start().await;
    let next = format!("{}/export.csv?cursor=p2", server.uri());
    // Page 1: one row only, yet a next link: the walk must not stop at a short page.
    Mock::given(method("GET"))
        .and(path("/export.csv"))
        .and(query_param("cursor", "p2"))
        .and(header("authorization", "Bearer export-token-55"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/export.csv"))
        .and(query_param("cursor", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "id,email,display_name,status,effective,department\n\
             e2,b@acme.com,B,Active,,Sales\n\
             e3,c@acme.com,C,Active,,Sales\n",
            "text/csv",
        ))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/export.csv"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Link", format!("<{next}>; rel=\"next\"").as_str())
                .set_body_raw(
                    "id,email,display_name,status,effective,department\n\
                     e1,a@acme.com,A,Active,,Engineering\n",
                    "text/csv",
                ),
        )
        .expect(1)
        .with_priority(3)
        .mount(&server)
        .await;
    let (_dir, token) = secret_file("export-token-55");
    let source = HttpReport::new("export", format!("{}/export.csv", server.uri()))
        .with_format(ReportFormat::Csv)
        .with_auth(SourceAuth::Bearer { token })
        .with_paging(Paging::Link)
        .with_retry(fast_retry());
    let started = Instant::now();
    let load = source.pull().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    let ids: Vec<&str> = load.people().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(load.entries[2].source.to_string(), "export/page-2:3");
    // Three requests in all: page 1, the 429, page 2 (the `expect`s check on drop).
}

#[tokio::test]
async fn token_paging_with_oauth_client_credentials_fetches_one_token_per_pull() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    let (_dir, secret) = secret_file("client-secret-991");
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_secret=client-secret-991"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at-123", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(&server)
        .await;
    // A 503 without Retry-After on the second page: backed off and retried.
    Mock::given(method("GET"))
        .and(path("/people"))
        .and(query_param("page_token", "t2"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/people"))
        .and(query_param("page_token", "t2"))
        .and(header("authorization", "Bearer at-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "people": [{"id": "e2", "email": "b@acme.com", "display_name": "B"}],
            "paging": {"next": ""}
        })))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/people"))
        .and(header("authorization", "Bearer at-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "people": [{"id": "e1", "email": "a@acme.com", "display_name": "A"}],
            "paging": {"next": "t2"}
        })))
        .expect(1)
        .with_priority(3)
        .mount(&server)
        .await;
    let source = HttpReport::new("hris", format!("{}/people", server.uri()))
        .with_auth(SourceAuth::ClientCredentials {
            token_url: format!("{}/oauth2/token", server.uri()),
            client_id: "provision".into(),
            client_secret: secret,
            scope: None,
        })
        .with_paging(Paging::Token {
            param: "page_token".into(),
            field: "paging.next".into(),
        })
        .with_retry(fast_retry());
    let load = source.pull().await.unwrap();
    assert_eq!(load.entries.len(), 2);
    assert!(load.is_clean());
    SecretCheck::new(&["client-secret-991", "at-123"])
        .logs(&logs)
        .debug("the source", &source)
        .assert_clean();
}

#[tokio::test]
async fn a_401_keeps_the_vendors_message_is_not_retried_and_leaks_no_secret() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "error": "invalid_client",
            "error_description": "Invalid username or password"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let (_dir, password) = secret_file("isu-password-7731");
    let source = HttpReport::workday_raas(
        "workday",
        format!("{}{REPORT_PATH}?format=json", server.uri()),
        "ISU_Provision@acme",
        password,
    )
    .with_retry(fast_retry());
    let error = source.pull().await.unwrap_err();
    let SourceError::Http { error: inner, .. } = &error else {
        panic!("{error}")
    };
    assert!(
        matches!(inner.as_ref(), AdapterError::Unauthorized { .. }),
        "{inner:?}"
    );
    assert!(
        error.to_string().contains("Invalid username or password"),
        "{error}"
    );
    assert_eq!(error.source_name(), "workday");
    SecretCheck::new(&["isu-password-7731"])
        .logs(&logs)
        .value("the error", &error)
        .debug("the source", &source)
        .assert_clean();
}

// [U] BambooHR custom report shape.
const BAMBOO_REPORT: &str = r#"{"title": "Report", "fields": [
  {"id": "workEmail", "type": "email", "name": "Work Email"}],
 "employees": [
  {"id": "123", "workEmail": "lee@acme.com", "firstName": "Lee", "lastName": "Park",
   "status": "Active", "terminationDate": "0000-00-00", "department": "Engineering"},
  {"id": "124", "workEmail": "kim@acme.com", "firstName": "Kim", "lastName": "Ode",
   "status": "Inactive", "terminationDate": "2026-11-30", "department": "Sales"},
  {"id": "125", "workEmail": null, "firstName": "No", "lastName": "Mail",
   "status": "Active", "terminationDate": "0000-00-00", "department": "Sales"}
]}"#;

#[tokio::test]
async fn bamboohr_custom_report_uses_the_api_key_as_user_and_waits_out_a_503() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    let api = "/api/gateway.php/acme/v1/reports/custom";
    Mock::given(method("POST"))
        .and(path(api))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("Retry-After", "1")
                .insert_header("X-BambooHR-Error-Message", "Rate limited"),
        )
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api))
        .and(query_param("format", "JSON"))
        .and(query_param("onlyCurrent", "false"))
        .and(basic_auth("bamboo-key-4242", "x"))
        .and(body_json(serde_json::json!({"fields": ["workEmail", "firstName", "lastName", "status", "terminationDate", "department"]})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(BAMBOO_REPORT, "application/json"))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    let (_dir, key) = secret_file("bamboo-key-4242");
    let source = BambooHr::new("bamboohr", "acme", key)
        .with_base_url(format!("{}/api/gateway.php/acme/v1/", server.uri()))
        .with_report(BambooHrReport::Custom {
            fields: [
                "workEmail",
                "firstName",
                "lastName",
                "status",
                "terminationDate",
                "department",
            ]
            .map(String::from)
            .to_vec(),
        })
        .with_retry(fast_retry());
    let load = source.pull().await.unwrap();
    assert_eq!(load.entries.len(), 2, "{:?}", load.problems);
    let lee = &load.entries[0].identity;
    assert_eq!(lee.display_name, "Lee Park");
    assert_eq!(
        lee.status,
        EmploymentStatus::Active,
        "0000-00-00 is no date"
    );
    assert!(matches!(
        load.entries[1].identity.status,
        EmploymentStatus::Terminated { .. }
    ));
    assert_eq!(load.problems.len(), 1);
    assert!(
        load.problems[0]
            .to_string()
            .starts_with("bamboohr:8: workEmail:"),
        "{}",
        load.problems[0]
    );
    SecretCheck::new(&["bamboo-key-4242"])
        .logs(&logs)
        .debug("the source", &source)
        .assert_clean();
}

#[tokio::test]
async fn bamboohr_401_names_the_header_message_and_never_the_key() {
    let logs = LogCapture::start();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/gateway.php/acme/v1/employees/directory"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("X-BambooHR-Error-Message", "Invalid API key"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (_dir, key) = secret_file("bamboo-key-4242");
    let source = BambooHr::new("bamboohr", "acme", key)
        .with_base_url(format!("{}/api/gateway.php/acme/v1", server.uri()))
        .with_report(BambooHrReport::Directory)
        .with_retry(fast_retry());
    let error = source.pull().await.unwrap_err();
    assert!(error.to_string().contains("Invalid API key"), "{error}");
    SecretCheck::new(&["bamboo-key-4242"])
        .logs(&logs)
        .value("the error", &error)
        .assert_clean();
}

#[tokio::test]
async fn a_missing_credential_names_the_field_and_the_variable() {
    let source =
        HttpReport::new("hris", "https://hr.example.com/people").with_auth(SourceAuth::Bearer {
            token: CredentialRef::Env {
                env: "PROVISION_TEST_HR_TOKEN_THAT_IS_NOT_SET".into(),
            },
        });
    let error = source.pull().await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("auth.token"), "{text}");
    assert!(
        text.contains("PROVISION_TEST_HR_TOKEN_THAT_IS_NOT_SET"),
        "{text}"
    );
    let plain = HttpReport::new("hris", "http://hr.example.com/people");
    let error = plain.pull().await.unwrap_err();
    assert!(error.to_string().contains("url"), "{error}");
}

#[tokio::test]
async fn a_file_drop_reads_the_newest_complete_file_and_names_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let header = "id,email,display_name,status,effective\n";
    std::fs::write(
        dir.path().join("workers-2026-12-06.csv"),
        format!("{header}e1,a@x.com,A,Active,\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("workers-2026-12-07.csv"),
        format!("{header}e1,a@x.com,A,Active,\ne2,b@x.com,B,Gone,\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("workers-2026-12-08.csv.part"), "id\n").unwrap();
    let source = FileDrop::new(
        "sftp",
        dir.path().join("workers-*.csv"),
        RosterReader::new(),
    );
    let newest = dir.path().join("workers-2026-12-07.csv");
    assert_eq!(source.current_file().unwrap(), newest);
    let load = source.pull().await.unwrap();
    assert_eq!(load.entries.len(), 1);
    let problem = load.problems[0].to_string();
    assert!(
        problem.starts_with(&format!("{}:3: status:", newest.display())),
        "{problem}"
    );
    let none = FileDrop::new(
        "sftp",
        dir.path().join("payroll-*.csv"),
        RosterReader::new(),
    );
    assert!(matches!(
        none.pull().await.unwrap_err(),
        SourceError::NoFile { .. }
    ));
}

/// A page of 1,000 people starting at `first`, with `next` as its token.
fn people_page(first: usize, next: Option<usize>) -> serde_json::Value {
    let people: Vec<serde_json::Value> = (first..first + 1000)
        .map(|n| {
            serde_json::json!({
                "id": format!("e{n}"), "email": format!("p{n}@acme.com"),
                "display_name": format!("P {n}"), "department": format!("D{}", n % 40)
            })
        })
        .collect();
    serde_json::json!({"people": people, "next_page_token": next.map(|n| n.to_string())})
}

#[tokio::test]
async fn ten_thousand_people_over_ten_pages_cost_ten_requests_and_diff_to_one_leaver() {
    let server = MockServer::start().await;
    for page in 0..10usize {
        let next = (page < 9).then_some(page + 1);
        let mock = Mock::given(method("GET")).and(path("/people"));
        let mock = if page == 0 {
            mock.and(wiremock::matchers::query_param_is_missing("page_token"))
        } else {
            mock.and(query_param("page_token", page.to_string()))
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(people_page(page * 1000, next)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let source = HttpReport::new("hris", format!("{}/people", server.uri()))
        .with_paging(Paging::Token {
            param: "page_token".into(),
            field: "next_page_token".into(),
        })
        .with_retry(fast_retry());
    let started = Instant::now();
    let load = source.pull().await.unwrap();
    let pulled = started.elapsed();
    assert_eq!(load.entries.len(), 10_000);
    assert!(load.is_clean());
    let mut after = load.clone();
    after.entries[4321].identity.status = EmploymentStatus::Terminated {
        effective: "2026-12-07T17:00:00Z".parse().unwrap(),
    };
    let at = "2026-12-07T18:00:00Z".parse().unwrap();
    let before = provision_roster::snapshot::Snapshot::new("hris", at, load);
    let after = provision_roster::snapshot::Snapshot::new("hris", at, after);
    let started = Instant::now();
    let reviewed = provision_roster::snapshot::review(
        Some(&before),
        &after,
        &provision_roster::snapshot::SnapshotGuard::default(),
    );
    let diffed = started.elapsed();
    let provision_roster::snapshot::SnapshotReview::Apply(events) = reviewed else {
        panic!("one leaver is applied")
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id().as_str(), "e4321");
    eprintln!("10,000 people: pull over 10 pages {pulled:?}, snapshot diff {diffed:?}");
}

#[tokio::test]
async fn a_next_link_to_another_host_or_a_repeated_token_stops_the_pull() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let (_dir, token) = secret_file("export-token-55");
    Mock::given(method("GET"))
        .and(path("/export.csv"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "Link",
                    format!("<{}/steal?cursor=2>; rel=\"next\"", elsewhere.uri()).as_str(),
                )
                .set_body_raw("id,email,display_name\ne1,a@acme.com,A\n", "text/csv"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let source = HttpReport::new("export", format!("{}/export.csv", server.uri()))
        .with_format(ReportFormat::Csv)
        .with_auth(SourceAuth::Bearer { token })
        .with_paging(Paging::Link)
        .with_retry(fast_retry());
    let error = source.pull().await.unwrap_err();
    assert!(error.to_string().contains("not followed"), "{error}");

    // A token that comes back again would loop for ever: an error after two pages.
    let looping = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "people": [{"id": "e1", "email": "a@acme.com", "display_name": "A"}],
            "next_page_token": "same"
        })))
        .expect(2)
        .mount(&looping)
        .await;
    let source = HttpReport::new("hris", format!("{}/people", looping.uri()))
        .with_paging(Paging::Token {
            param: "page_token".into(),
            field: "next_page_token".into(),
        })
        .with_retry(fast_retry());
    let error = source.pull().await.unwrap_err();
    assert!(matches!(error, SourceError::Http { .. }), "{error}");
}

#[tokio::test]
async fn a_failed_or_held_pull_leaves_the_last_good_snapshot_in_force() {
    use provision_core::clock::FixedClock;
    use provision_roster::snapshot::{PullOutcome, SnapshotGuard, SnapshotKeeper};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workers.csv");
    let header = "id,email,display_name,status,effective\n";
    let everyone: String = (0..10)
        .map(|n| format!("e{n},p{n}@x.com,P {n},Active,\n"))
        .collect();
    std::fs::write(&file, format!("{header}{everyone}")).unwrap();
    let clock = FixedClock::new("2026-12-07T06:00:00Z".parse().unwrap());
    let mut keeper = SnapshotKeeper::new(
        Box::new(FileDrop::new("sftp", &file, RosterReader::new())),
        SnapshotGuard {
            max_terminations: 2,
            max_missing_share: 0.2,
        },
        None,
    );
    assert!(matches!(keeper.pull(&clock).await, PullOutcome::Applied(e) if e.len() == 10));
    // The export is truncated to 5 people: held, the 10-person snapshot stays.
    std::fs::write(
        &file,
        format!("{header}{}", &everyone[..everyone.len() / 2]),
    )
    .unwrap();
    clock.set("2026-12-07T07:00:00Z".parse().unwrap());
    assert!(matches!(keeper.pull(&clock).await, PullOutcome::Held(_)));
    assert_eq!(keeper.current().unwrap().people(), 10);
    // The file is gone: failed, down, still the same snapshot, and it ages.
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(keeper.pull(&clock).await, PullOutcome::Failed(_)));
    assert!(!keeper.is_up());
    assert_eq!(keeper.current().unwrap().people(), 10);
    assert_eq!(
        keeper.age_seconds("2026-12-07T08:00:00Z".parse().unwrap()),
        Some(7200)
    );
    // One leaver in the next drop: applied, up again, one termination event.
    let with_leaver = everyone.replace(
        "e3,p3@x.com,P 3,Active,",
        "e3,p3@x.com,P 3,Terminated,2026-12-07",
    );
    std::fs::write(&file, format!("{header}{with_leaver}")).unwrap();
    let PullOutcome::Applied(events) = keeper.pull(&clock).await else {
        panic!("one leaver is applied")
    };
    assert!(keeper.is_up());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id().as_str(), "e3");
}
