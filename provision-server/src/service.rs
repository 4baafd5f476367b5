//! [`Service`]: one instance of the lifecycle service — the HTTP routes, the inbox
//! worker, the scheduler and the reconcile cadence over one store and one engine.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use chrono::Utc;
use provision_core::engine::Engine;
use provision_core::executor::BudgetShare;
use provision_core::model::Identity;
use provision_core::secret::SecretString;
use provision_evidence::{EvidenceConfig, EvidenceError};
use provision_roster::{RosterConfig, RosterReader};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::config::{ServerConfig, SourceConfig};
use crate::engine::{EngineParts, build_engine, join_shared_budget};
use crate::error::ServerError;
use crate::event::{StoredEvent, roster_after};
use crate::jobs::Job;
use crate::locks::PersonLocks;
use crate::metrics::{MetricsSubscriber, ServiceMetrics};
use crate::store::{ServiceStore, open_store};
use crate::{health, webhook};

/// One configured HR source with its secret.
pub(crate) struct Source {
    pub(crate) config: SourceConfig,
    pub(crate) secret: SecretString,
}

pub(crate) struct Inner {
    pub(crate) config: ServerConfig,
    pub(crate) engine: Engine,
    /// The deployment's `evidence:` settings, read when the service started.
    pub(crate) evidence: EvidenceConfig,
    pub(crate) store: Arc<dyn ServiceStore>,
    pub(crate) sources: HashMap<String, Source>,
    pub(crate) base_roster: Vec<Identity>,
    pub(crate) owner: String,
    pub(crate) metrics: Arc<ServiceMetrics>,
    /// Runs that send changes for the same person take turns; runs for different
    /// people run at once ([`crate::locks`]).
    pub(crate) locks: PersonLocks,
    /// Woken when an event is stored.
    pub(crate) wake: Notify,
    /// False once shutdown began: nothing more is accepted.
    pub(crate) accepting: AtomicBool,
    /// This instance's share of the rate budgets and its heartbeat (PostgreSQL).
    pub(crate) budget: Option<BudgetHeartbeat>,
    /// The SIEM sinks' exporter, when the configuration lists sinks.
    pub(crate) siem: Option<Arc<provision_siem::SiemExporter>>,
    /// Who is calling ([`crate::auth`]).
    pub(crate) auth: crate::auth::Authenticator,
    /// The policies' separation-of-duties rules (a request that would create a
    /// conflict is refused when opened).
    pub(crate) sod_rules: provision_governance::SodRules,
    /// `/readyz`'s last verdict on the systems ([`crate::health`]).
    pub(crate) readiness: crate::health::ReadinessCache,
}

/// The shared rate budget's lease, kept by a heartbeat task.
pub(crate) struct BudgetHeartbeat {
    pub(crate) share: BudgetShare,
    pub(crate) task: tokio::task::AbortHandle,
}

/// One instance of the lifecycle service. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("instance", &self.inner.owner)
            .field("store", &self.inner.store.backend())
            .field("sources", &self.inner.sources.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A running service: its address, and how to stop it.
#[derive(Debug)]
pub struct RunningService {
    /// Where it listens (every route, or the internal ones when it has a public
    /// listener).
    pub addr: std::net::SocketAddr,
    /// Where the public listener (webhooks and `/healthz`) listens, when there is one.
    pub public_addr: Option<std::net::SocketAddr>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServerError>>,
    loops: Vec<JoinHandle<()>>,
    /// The shared budget's heartbeat and lease: stopped with the service (and the
    /// lease given back on a graceful shutdown).
    budget: Option<(BudgetShare, tokio::task::AbortHandle)>,
}

impl RunningService {
    /// Graceful shutdown: the listener closes (nothing more accepted), requests in
    /// flight are answered, the worker and scheduler finish the batch in hand (every
    /// step of it journaled) and stop.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        let served = self.task.await.unwrap_or_else(|e| {
            Err(ServerError::Io(std::io::Error::other(format!(
                "service task: {e}"
            ))))
        });
        for handle in self.loops {
            let _ = handle.await;
        }
        if let Some((share, heartbeat)) = self.budget {
            heartbeat.abort();
            if let Err(e) = share.leave().await {
                tracing::warn!(error = %e, "could not give back the rate-budget lease; it lapses on its own");
            }
        }
        tracing::info!("stopped");
        served
    }

    /// Stops at once, as a crash would: nothing is finished or released (leases run
    /// out; the journal has what was in flight).
    pub fn kill(self) {
        self.task.abort();
        if let Some((_, heartbeat)) = &self.budget {
            heartbeat.abort();
        }
        for handle in &self.loops {
            handle.abort();
        }
    }
}

impl Service {
    /// Opens the store, builds the engine ([`build_engine`]), reads the base roster,
    /// and resolves every source's secret.
    pub async fn start(config: ServerConfig, parts: EngineParts) -> Result<Self, ServerError> {
        let store = open_store(&config.store).await?;
        Self::with_store(config, parts, store).await
    }

    /// [`Service::start`] over a store already open (tests; several instances in one
    /// process).
    pub async fn with_store(
        config: ServerConfig,
        parts: EngineParts,
        store: Arc<dyn ServiceStore>,
    ) -> Result<Self, ServerError> {
        let metrics = Arc::new(ServiceMetrics::new());
        let subscriber = Arc::new(MetricsSubscriber(Arc::clone(&metrics)));
        let siem = crate::siem::exporter(&config.siem, &store)?;
        let mut parts = parts;
        parts.audit_waker = siem.as_ref().map(|e| e.waker());
        let budget = join_shared_budget(&config, &store).await?;
        let engine = build_engine(&config, &store, &parts, subscriber, budget.as_ref()).await?;
        // A wrong `evidence:` section stops the service here, named with file and line,
        // not at the first evidence run.
        let evidence =
            EvidenceConfig::from_deployment(engine.config()).map_err(EvidenceError::from)?;
        // The heartbeat runs from now on, not only once the loops are spawned: a
        // service driven by hand (`work_once`) sends too, and would stop sending once
        // its lease lapsed.
        let budget = budget.map(|share| BudgetHeartbeat {
            task: tokio::spawn(share.clone().run()).abort_handle(),
            share,
        });
        // The deployment's `roster:` section is refused when wrong, as the rest of
        // the deployment is, whether or not a base roster is configured.
        let section = RosterConfig::from_deployment(engine.config())
            .map_err(provision_core::engine::EngineError::Deployment)?;
        let base_roster = match &config.roster {
            Some(path) => {
                let reader = match &section {
                    Some(section) => RosterReader::from_config(section),
                    None => RosterReader::new(),
                };
                let load = reader.read_path(path)?;
                for problem in &load.problems {
                    tracing::warn!(problem = %problem, "roster row skipped");
                }
                load.people().cloned().collect()
            }
            None => Vec::new(),
        };
        let sources = config
            .source_secrets()?
            .into_iter()
            .map(|(config, secret)| (config.name.clone(), Source { config, secret }))
            .collect();
        let auth = crate::auth::Authenticator::new(&config.auth, Arc::clone(engine.clock()))
            .map_err(|e| crate::config::ConfigError::Invalid {
                path: "server configuration".to_owned(),
                field: "auth.proxy.secret".to_owned(),
                message: e.to_string(),
            })?;
        // Checked when the configuration is read too; a configuration built in code
        // must not get round it.
        if !auth.configured() && !config.listen.ip().is_loopback() {
            return Err(crate::config::ConfigError::Invalid {
                path: "server configuration".to_owned(),
                field: "auth".to_owned(),
                message: format!(
                    "{} is not a loopback address: configure `auth:` (oidc, tokens or proxy) to serve the network",
                    config.listen
                ),
            }
            .into());
        }
        let sod_rules = if config.governance.is_some() {
            provision_governance::load_sod_rules(
                &config.policies,
                engine.config(),
                engine.descriptors(),
            )
            .map_err(|e| crate::config::ConfigError::Invalid {
                path: config.policies.display().to_string(),
                field: "separation_of_duties".to_owned(),
                message: e.to_string(),
            })?
        } else {
            provision_governance::SodRules::default()
        };
        let owner = config.instance_name();
        let service = Self {
            inner: Arc::new(Inner {
                config,
                engine,
                evidence,
                store,
                sources,
                base_roster,
                owner,
                metrics,
                locks: PersonLocks::default(),
                wake: Notify::new(),
                accepting: AtomicBool::new(true),
                budget,
                siem,
                auth,
                sod_rules,
                readiness: crate::health::ReadinessCache::default(),
            }),
        };
        service.arm_reconcile().await?;
        service.arm_evidence().await?;
        Ok(service)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ServiceStore> {
        &self.inner.store
    }

    /// This instance's name in leases.
    pub fn instance(&self) -> &str {
        &self.inner.owner
    }

    /// Every route on one router: the webhooks and [`Service::internal_routes`] (one
    /// port, for loopback and tests; a deployment that listens on the network splits
    /// them, see [`ServerConfig::public_listen`]).
    pub fn router(&self) -> Router {
        self.internal_routes().merge(self.webhook_routes())
    }

    /// What the public listener serves, for HR systems calling from outside:
    /// `POST /webhooks/{source}` (each event HMAC-signed) and `GET /healthz`.
    pub fn public_routes(&self) -> Router {
        self.webhook_routes()
            .route("/healthz", get(health::healthz))
    }

    /// `POST /webhooks/{source}` with its body limit.
    fn webhook_routes(&self) -> Router {
        let limit = self.inner.config.webhook.max_body_bytes;
        let intake: axum::routing::MethodRouter<Service> = post(webhook::receive)
            .layer::<_, std::convert::Infallible>(RequestBodyLimitLayer::new(limit))
            .layer::<_, std::convert::Infallible>(axum::extract::DefaultBodyLimit::disable());
        Router::new()
            .route("/webhooks/{source}", intake)
            .layer(TraceLayer::new_for_http())
            .with_state(self.clone())
    }

    /// Everything but the webhooks, each route proving its caller ([`crate::auth`])
    /// except the health checks: `GET /healthz`, `GET /readyz`, `GET /metrics`,
    /// `GET /findings`, access requests ([`crate::requests`]): `GET`/`POST
    /// /requests`, `POST /requests/{id}/approve`, `/reject`, `/withdraw`, `/revoke`, and
    /// access reviews ([`crate::campaigns`]): `GET /campaigns`, `GET
    /// /campaigns/{id}/items`, `POST /campaigns/{id}/decisions`.
    pub fn internal_routes(&self) -> Router {
        Router::new()
            .route("/healthz", get(health::healthz))
            .route("/readyz", get(health::readyz))
            .route("/metrics", get(health::metrics))
            .route("/findings", get(health::findings))
            .route(
                "/requests",
                get(crate::requests::list).post(crate::requests::open),
            )
            .route("/requests/{id}/approve", post(crate::requests::approve))
            .route("/requests/{id}/reject", post(crate::requests::reject))
            .route("/requests/{id}/withdraw", post(crate::requests::withdraw))
            .route("/requests/{id}/revoke", post(crate::requests::revoke))
            .route("/campaigns", get(crate::campaigns::list))
            .route("/campaigns/{id}/items", get(crate::campaigns::items))
            .route("/campaigns/{id}/decisions", post(crate::campaigns::decide))
            .layer(TraceLayer::new_for_http())
            .with_state(self.clone())
    }

    /// The roster now: the base roster and every stored event that counts in it, in
    /// arrival order (a removed person stays, terminated, so their access stays gone).
    pub async fn roster(&self) -> Result<Vec<Identity>, ServerError> {
        let rows = self.inner.store.inbox_roster_events().await?;
        let mut events = Vec::with_capacity(rows.len());
        for (seq, json) in rows {
            events.push(decode_event(seq, &json)?);
        }
        Ok(roster_after(&self.inner.base_roster, &events))
    }

    /// Schedules a reconcile now (catching up on whatever happened while no instance
    /// ran) when the configuration asks for a cadence and no instance scheduled one yet;
    /// each run schedules the next.
    async fn arm_reconcile(&self) -> Result<(), ServerError> {
        if self.inner.config.reconcile.every_seconds.is_some() {
            let due = Utc::now();
            self.inner
                .store
                .schedule_put(Job::RECONCILE_KEY, due, &Job::Reconcile.to_json(), false)
                .await?;
        }
        Ok(())
    }

    /// Schedules an evidence run now when the configuration asks for a cadence and no
    /// instance scheduled one yet; each run schedules the next.
    async fn arm_evidence(&self) -> Result<(), ServerError> {
        if self.inner.config.evidence.every_minutes.is_some() {
            self.inner
                .store
                .schedule_put(
                    Job::EVIDENCE_KEY,
                    Utc::now(),
                    &Job::Evidence.to_json(),
                    false,
                )
                .await?;
        }
        Ok(())
    }

    /// Binds `config.listen` (and `config.public_listen`, when given) and runs until
    /// `shutdown` resolves, then shuts down gracefully (see
    /// [`RunningService::shutdown`]).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let internal = TcpListener::bind(self.inner.config.listen).await?;
        let public = match self.inner.config.public_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let running = self.spawn_on_listeners(internal, public)?;
        shutdown.await;
        running.shutdown().await
    }

    /// Serves every route on `listener` and runs the worker and scheduler in the
    /// background.
    pub fn spawn_on(self, listener: TcpListener) -> Result<RunningService, ServerError> {
        self.spawn_on_listeners(listener, None)
    }

    /// Serves the internal routes on `internal` and the webhooks on `public` (every
    /// route on `internal` when there is no `public`), and runs the worker and
    /// scheduler in the background.
    pub fn spawn_on_listeners(
        self,
        internal: TcpListener,
        public: Option<TcpListener>,
    ) -> Result<RunningService, ServerError> {
        let addr = internal.local_addr()?;
        let public_addr = public.as_ref().map(TcpListener::local_addr).transpose()?;
        let (stop, stopped) = watch::channel(false);
        let loops = self.spawn_loops(stopped.clone());
        let instance = self.inner.owner.clone();
        let budget = self
            .inner
            .budget
            .as_ref()
            .map(|b| (b.share.clone(), b.task.clone()));
        let task = tokio::spawn(self.run(internal, public, stopped));
        match public_addr {
            Some(public) => {
                tracing::info!(internal = %addr, %public, %instance, "provision-server listening");
            }
            None => tracing::info!(%addr, %instance, "provision-server listening"),
        }
        Ok(RunningService {
            addr,
            public_addr,
            stop,
            task,
            loops,
            budget,
        })
    }

    async fn run(
        self,
        internal: TcpListener,
        public: Option<TcpListener>,
        stopped: watch::Receiver<bool>,
    ) -> Result<(), ServerError> {
        let inner = Arc::clone(&self.inner);
        let limits = inner.config.http;
        let stop = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let announce = {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
                inner.accepting.store(false, Ordering::SeqCst);
                tracing::info!("shutting down: the listeners close, work in hand finishes");
            }
        };
        let (internal_routes, public_routes) = match &public {
            Some(_) => (self.internal_routes(), Some(self.public_routes())),
            None => (self.router(), None),
        };
        let internal =
            crate::listeners::serve(internal, internal_routes, limits, stop(stopped.clone()));
        let public = async {
            match (public, public_routes) {
                (Some(listener), Some(routes)) => {
                    crate::listeners::serve(listener, routes, limits, stop(stopped.clone())).await
                }
                _ => Ok(()),
            }
        };
        let ((), served_internal, served_public) = tokio::join!(announce, internal, public);
        served_internal?;
        served_public?;
        Ok(())
    }

    /// The worker and scheduler loops; each finishes what it holds when `stopped`.
    pub fn spawn_loops(&self, stopped: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let poll = Duration::from_millis(self.inner.config.worker.poll_millis.max(10));
        let worker = {
            let service = self.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                while !*stopped.borrow() {
                    let worked = match service.work_once().await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::error!(error = %e, "inbox worker");
                            0
                        }
                    };
                    if worked == 0 {
                        tokio::select! {
                            () = service.inner.wake.notified() => {}
                            () = tokio::time::sleep(poll) => {}
                            _ = stopped.changed() => {}
                        }
                    }
                }
            })
        };
        let stopped_siem = stopped.clone();
        let scheduler = {
            let service = self.clone();
            let mut stopped = stopped;
            tokio::spawn(async move {
                while !*stopped.borrow() {
                    let fired = match service.fire_due_once().await {
                        Ok(n) => n,
                        Err(e) => {
                            tracing::error!(error = %e, "scheduler");
                            0
                        }
                    };
                    if fired == 0 {
                        tokio::select! {
                            () = tokio::time::sleep(poll) => {}
                            _ = stopped.changed() => {}
                        }
                    }
                }
            })
        };
        let mut loops = vec![worker, scheduler];
        if let Some(exporter) = &self.inner.siem {
            loops.push(crate::siem::spawn(Arc::clone(exporter), stopped_siem));
        }
        loops
    }
}

/// Reads a stored event back.
pub(crate) fn decode_event(seq: i64, json: &str) -> Result<StoredEvent, ServerError> {
    serde_json::from_str(json).map_err(|e| ServerError::Corrupt {
        what: format!("inbox row {seq}"),
        message: e.to_string(),
    })
}
