//! Every port each store implements, registered in one call
//! (`EngineBuilder::store(Arc::new(store))`): the journal and audit log the engine
//! uses, the governance and evidence stores, the SIEM feed and cursors, and (on
//! PostgreSQL) the operation claims and the shared rate budget.

use std::sync::Arc;

use provision_core::engine::{Ports, Store, register_core};
use provision_evidence::EvidenceStore;
use provision_governance::GovernanceStore;
use provision_siem::{AuditFeed, CursorStore};

use crate::SqliteStore;

impl Store for SqliteStore {
    fn register(self: Arc<Self>, ports: &mut Ports) {
        register_core(&self, ports);
        ports.insert::<Arc<dyn GovernanceStore>>(Arc::clone(&self) as Arc<dyn GovernanceStore>);
        ports.insert::<Arc<dyn EvidenceStore>>(Arc::clone(&self) as Arc<dyn EvidenceStore>);
        ports.insert::<Arc<dyn AuditFeed>>(Arc::clone(&self) as Arc<dyn AuditFeed>);
        ports.insert::<Arc<dyn CursorStore>>(self as Arc<dyn CursorStore>);
    }
}

#[cfg(feature = "postgres")]
impl Store for crate::PostgresStore {
    fn register(self: Arc<Self>, ports: &mut Ports) {
        use provision_core::executor::SharedBudget;
        use provision_core::journal::OperationClaims;
        register_core(&self, ports);
        ports.insert::<Arc<dyn GovernanceStore>>(Arc::clone(&self) as Arc<dyn GovernanceStore>);
        ports.insert::<Arc<dyn EvidenceStore>>(Arc::clone(&self) as Arc<dyn EvidenceStore>);
        ports.insert::<Arc<dyn AuditFeed>>(Arc::clone(&self) as Arc<dyn AuditFeed>);
        ports.insert::<Arc<dyn CursorStore>>(Arc::clone(&self) as Arc<dyn CursorStore>);
        ports.insert::<Arc<dyn OperationClaims>>(Arc::clone(&self) as Arc<dyn OperationClaims>);
        ports.insert::<Arc<dyn SharedBudget>>(self as Arc<dyn SharedBudget>);
    }
}
