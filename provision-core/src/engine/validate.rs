//! Validation without credentials: each system's descriptor from its factory (or
//! from an adapter given to the builder), every dependency's kind, and the policies
//! against the descriptors.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::dependency_kinds::check_dependency_kinds;
use crate::adapter::{Adapter, FactoryRegistry, SystemSpec};
use crate::config::DeploymentConfig;
use crate::model::{PolicySet, SystemName};
use crate::planner::Descriptors;

use super::EngineError;
use super::sources::{Deployment, LoadedDeployment, Policies};

/// A deployment and its policies that passed validation: what
/// [`Engine::validate`](super::Engine::validate) returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validated {
    /// The deployment.
    pub config: DeploymentConfig,
    /// Each system's credential-free descriptor.
    pub descriptors: Descriptors,
    /// The policies, validated against the descriptors.
    pub policies: PolicySet,
    /// The file or directory the policies were read from (none when they were built
    /// in code): the extension crates read their own sections there
    /// (`separation_of_duties:`).
    pub policies_path: Option<std::path::PathBuf>,
}

/// Each system's descriptor: the adapter's own when the builder was given one, else
/// its factory's credential-free one. An unknown `adapter:` names the known ones.
pub(crate) fn describe(
    config: &DeploymentConfig,
    factories: &FactoryRegistry,
    given: &BTreeMap<SystemName, Arc<dyn Adapter>>,
) -> Result<Descriptors, EngineError> {
    let mut descriptors = Descriptors::new();
    for (name, system) in &config.systems {
        let descriptor = match given.get(name) {
            Some(adapter) => adapter.descriptor().clone(),
            None => factories.descriptor(SystemSpec {
                name,
                config: system,
            })?,
        };
        descriptors.insert(name.clone(), descriptor);
    }
    Ok(descriptors)
}

/// Loads and checks everything that needs no credential.
pub(crate) fn validate_sources(
    deployment: LoadedDeployment,
    policies: Policies,
    factories: &FactoryRegistry,
    given: &BTreeMap<SystemName, Arc<dyn Adapter>>,
) -> Result<Validated, EngineError> {
    let descriptors = describe(&deployment.config, factories, given)?;
    check_dependency_kinds(&deployment.config, &descriptors, deployment.source())?;
    let path = match &policies {
        Policies::Path(path) => Some(path.clone()),
        Policies::Set(_) => None,
    };
    let policies = policies.load(&deployment.config, &descriptors)?;
    Ok(Validated {
        config: deployment.config,
        descriptors,
        policies,
        policies_path: path,
    })
}

/// [`Engine::validate`](super::Engine::validate).
pub(crate) fn validate(
    deployment: Deployment,
    policies: Policies,
    factories: &FactoryRegistry,
) -> Result<Validated, EngineError> {
    let deployment = deployment.load()?;
    validate_sources(deployment, policies, factories, &BTreeMap::new())
}
