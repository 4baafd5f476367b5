//! The ports a store offers ([`Store`]), registered in one call with
//! [`EngineBuilder::store`](super::EngineBuilder::store).
//!
//! The kernel's own ports (journal, audit log, operation claims) are taken by the
//! engine; the others (a governance store, an evidence store) are kept by type for
//! the crates that define them: `engine.port::<Arc<dyn GovernanceStore>>()`.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::audit::AuditLog;
use crate::journal::Journal;

/// Ports by type: each a value (an `Arc<dyn Trait>`) stored under its own type.
#[derive(Default)]
pub struct Ports {
    by_type: BTreeMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("count", &self.by_type.len())
            .finish()
    }
}

impl Ports {
    /// Registers `port` under its type (`Arc<dyn Journal>`), replacing any before.
    pub fn insert<P: Any + Send + Sync>(&mut self, port: P) -> &mut Self {
        self.by_type.insert(TypeId::of::<P>(), Box::new(port));
        self
    }

    /// The port registered under type `P`.
    pub fn get<P: Any + Send + Sync>(&self) -> Option<&P> {
        self.by_type.get(&TypeId::of::<P>())?.downcast_ref::<P>()
    }
}

/// A store that offers ports: the journal and the audit log at least, and whatever
/// else it implements (operation claims, a governance or evidence store).
pub trait Store: Send + Sync + 'static {
    /// Registers every port this store implements.
    fn register(self: Arc<Self>, ports: &mut Ports);
}

/// Registers a store's kernel ports: journal and audit log.
pub fn register_core<S: Journal + AuditLog + 'static>(store: &Arc<S>, ports: &mut Ports) {
    ports.insert::<Arc<dyn Journal>>(Arc::clone(store) as Arc<dyn Journal>);
    ports.insert::<Arc<dyn AuditLog>>(Arc::clone(store) as Arc<dyn AuditLog>);
}
