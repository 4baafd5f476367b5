//! The lifecycle service's benchmarks (criterion):
//!
//! * `termination_to_revocation`: a signed termination webhook until every session is
//!   ended and every account suspended in six sandbox systems answering after 50 ms;
//!   one event per iteration; p50 and p99 over every event measured are printed.
//! * `burst_of_terminations`: 1,000 terminations posted at once to systems limited to
//!   50 requests a second; the makespan against the rate-limit bound (the busiest
//!   system's requests divided by its limit) is printed.
//! * `webhook_intake`: signed events into the durable SQLite inbox from the bounded
//!   load generator below (32 requests in flight on 127.0.0.1); events a second.
//!
//! Smoke run: `cargo bench -p provision-server --bench service -- --test`; figures:
//! `cargo bench -p provision-server --bench service -- --quick`.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use provision_server::Service;
use support::{World, login, now_secs, signed, termination};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn people(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("p{i:04}"), format!("user{i:04}")))
        .collect()
}

fn refs(people: &[(String, String)]) -> Vec<(&str, &str)> {
    people
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect()
}

/// A client that keeps connections open.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

async fn post(client: &reqwest::Client, addr: std::net::SocketAddr, body: String) -> u16 {
    let (signature, timestamp) = signed(&body, now_secs());
    client
        .post(format!("http://{addr}/webhooks/workday"))
        .header("X-Workday-Signature", signature)
        .header("X-Provision-Timestamp", timestamp)
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn termination_to_revocation(c: &mut Criterion) {
    let rt = runtime();
    // 200 measured events plus criterion's warm-up, each a different person.
    let everyone = people(300);
    let world = World::with_people(Duration::from_millis(50), &refs(&everyone));
    let (service, running) = rt.block_on(async {
        let service = Service::start(world.config("latency", ""), world.parts())
            .await
            .unwrap();
        let roster = service.roster().await.unwrap();
        world.seed(&service, &roster);
        let listener = support::listener().await;
        let running = service.clone().spawn_on(listener).unwrap();
        (service, running)
    });
    let addr = running.addr;
    let client = client();
    let next = Mutex::new(0usize);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut group = c.benchmark_group("service");
    // One event per sample: 200 samples are 200 events.
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.sample_size(200);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("termination_to_revocation_6_systems_50ms", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        (*n - 1) % everyone.len()
                    };
                    let (id, name) = &everyone[i];
                    let who = login(name);
                    let start = Instant::now();
                    let status = post(
                        &client,
                        addr,
                        termination(&format!("bench-{i}-{}", now_secs()), id, None),
                    )
                    .await;
                    assert_eq!(status, 202);
                    support::eventually(Duration::from_secs(30), || {
                        world.locked_out_everywhere(&who)
                    })
                    .await;
                    let took = start.elapsed();
                    latencies.lock().unwrap().push(took);
                    total += took;
                }
                total
            })
        });
    });
    group.finish();
    let mut all = latencies.lock().unwrap().clone();
    all.sort();
    eprintln!(
        "termination_to_revocation: {} events, p50 {:?}, p99 {:?} (6 systems, 50 ms per request)",
        all.len(),
        percentile(&all, 0.50),
        percentile(&all, 0.99)
    );
    rt.block_on(running.shutdown()).unwrap();
    drop(service);
}

fn burst_of_terminations(c: &mut Criterion) {
    let rt = runtime();
    let test_mode = !std::env::args().any(|a| a == "--bench");
    let n = if test_mode { 50 } else { 1000 };
    let rate = 50u32;
    let mut group = c.benchmark_group("service");
    group.sample_size(10);
    group.bench_function(format!("burst_{n}_terminations_at_{rate}_rps"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let everyone = people(n);
                let world = World::rate_limited(Duration::from_millis(5), &refs(&everyone), rate);
                total += rt.block_on(async {
                    let service = Service::start(world.config("burst", ""), world.parts())
                        .await
                        .unwrap();
                    let roster = service.roster().await.unwrap();
                    world.seed(&service, &roster);
                    let running = service.clone().spawn_on(support::listener().await).unwrap();
                    let client = client();
                    let start = Instant::now();
                    let posts = everyone.iter().enumerate().map(|(i, (id, _))| {
                        let client = client.clone();
                        let body = termination(&format!("burst-{i}"), id, None);
                        async move { post(&client, running.addr, body).await }
                    });
                    for status in futures::future::join_all(posts).await {
                        assert_eq!(status, 202);
                    }
                    support::eventually(Duration::from_secs(3600), || {
                        everyone.iter().all(|(_, name)| world.locked_out_everywhere(&login(name)))
                    })
                    .await;
                    let makespan = start.elapsed();
                    let busiest = world
                        .systems
                        .iter()
                        .map(|(name, s)| (s.stats().requests, name.clone()))
                        .max()
                        .unwrap();
                    #[allow(clippy::cast_precision_loss)]
                    let bound = busiest.0 as f64 / f64::from(rate);
                    eprintln!(
                        "burst_of_terminations: {n} leavers, makespan {:.2} s; busiest system {} took {} requests at {rate}/s: bound {:.2} s (ratio {:.2})",
                        makespan.as_secs_f64(),
                        busiest.1,
                        busiest.0,
                        bound,
                        makespan.as_secs_f64() / bound
                    );
                    running.shutdown().await.unwrap();
                    makespan
                });
            }
            total
        });
    });
    group.finish();
}

/// The bounded load generator: `total` signed events, at most `in_flight` at a time.
async fn load(addr: std::net::SocketAddr, total: usize, in_flight: usize, tag: &str) -> Duration {
    use futures::StreamExt;
    let client = client();
    let start = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..total)
        .map(|i| {
            let client = client.clone();
            let body = termination(&format!("{tag}-{i}"), &format!("nobody-{i}"), None);
            async move { post(&client, addr, body).await }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 202));
    start.elapsed()
}

fn webhook_intake(c: &mut Criterion) {
    let rt = runtime();
    let world = World::new(Duration::ZERO);
    let (service, addr, server) = rt.block_on(async {
        let service = Service::start(world.config("intake", ""), world.parts())
            .await
            .unwrap();
        // Intake only: the router without the worker.
        let listener = support::listener().await;
        let addr = listener.local_addr().unwrap();
        let router = service.router();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        (service, addr, server)
    });
    let batch = 500usize;
    let round = Mutex::new(0usize);
    let mut group = c.benchmark_group("service");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(batch as u64));
    group.bench_function("webhook_intake_sqlite_500_events_32_in_flight", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let tag = {
                    let mut r = round.lock().unwrap();
                    *r += 1;
                    format!("intake{}", *r)
                };
                total += rt.block_on(load(addr, batch, 32, &tag));
            }
            total
        });
    });
    group.finish();
    server.abort();
    drop(service);
}

criterion_group!(
    benches,
    termination_to_revocation,
    burst_of_terminations,
    webhook_intake
);
criterion_main!(benches);
