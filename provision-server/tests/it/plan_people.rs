//! `Engine::plan_people` (what the service plans each event with) plans the same
//! operations for a person as `Engine::plan_for`, with far fewer reads.
#![allow(clippy::unwrap_used)]

use crate::support;
use std::time::Duration;

use provision_core::model::EmploymentStatus;
use support::World;

fn requests(world: &World) -> u64 {
    world.systems.values().map(|s| s.stats().requests).sum()
}

#[tokio::test]
async fn plan_people_plans_what_plan_for_plans_with_fewer_reads() {
    let people: Vec<(String, String)> = (0..40)
        .map(|i| (format!("p{i:02}"), format!("u{i:02}")))
        .collect();
    let refs: Vec<(&str, &str)> = people
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    let world = World::with_people(Duration::ZERO, &refs);
    let service = world.service("s").await;
    let mut roster = service.roster().await.unwrap();
    world.seed(&service, &roster);
    // p07 leaves now; p99 is a new hire with nothing yet.
    roster[7].status = EmploymentStatus::Terminated {
        effective: chrono::Utc::now(),
    };
    roster.push(
        provision_core::model::Identity::new("p99", "new@company.com", "New")
            .with_attribute("department", "Engineering"),
    );
    for system in world.systems.values() {
        assert!(system.snapshot().accounts.contains_key("u07@company.com"));
    }
    let engine = service.engine();
    for who in [7usize, 40] {
        let person = std::slice::from_ref(&roster[who]);
        let before = requests(&world);
        let full = engine.plan_for(&roster, person, "test").await.unwrap();
        let full_reads = requests(&world) - before;
        let before = requests(&world);
        let scoped = engine.plan_people(&roster, person, "test").await.unwrap();
        let scoped_reads = requests(&world) - before;
        let ids = |p: &provision_core::planner::GuardedPlan| {
            let mut ids: Vec<String> = p
                .preview()
                .operations
                .iter()
                .map(|o| o.id.0.clone())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&scoped), ids(&full), "person {who}");
        assert!(!ids(&full).is_empty());
        assert!(
            scoped_reads * 4 < full_reads,
            "person {who}: {scoped_reads} reads scoped, {full_reads} in full"
        );
    }
}
