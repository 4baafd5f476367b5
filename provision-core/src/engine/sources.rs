//! Where the deployment and the policies come from: a file or directory, or values
//! built in code.

use std::path::{Path, PathBuf};

use crate::config::DeploymentConfig;
use crate::config::{ConfigError, parse_config};
use crate::model::PolicySet;
use crate::planner::Descriptors;
use crate::policy::{PolicyError, load_policies};

/// The deployment (`provision.yaml`): a file to load, or a configuration built in
/// code. `&str`, `&Path`, `PathBuf` and [`DeploymentConfig`] convert into it.
#[derive(Debug, Clone)]
pub enum Deployment {
    /// A `provision.yaml` to load.
    File(PathBuf),
    /// A configuration built in code (boxed: it is much larger than a path).
    Config(Box<DeploymentConfig>),
}

impl From<&str> for Deployment {
    fn from(path: &str) -> Self {
        Deployment::File(PathBuf::from(path))
    }
}

impl From<&Path> for Deployment {
    fn from(path: &Path) -> Self {
        Deployment::File(path.to_owned())
    }
}

impl From<PathBuf> for Deployment {
    fn from(path: PathBuf) -> Self {
        Deployment::File(path)
    }
}

impl From<&PathBuf> for Deployment {
    fn from(path: &PathBuf) -> Self {
        Deployment::File(path.clone())
    }
}

impl From<DeploymentConfig> for Deployment {
    fn from(config: DeploymentConfig) -> Self {
        Deployment::Config(Box::new(config))
    }
}

/// A loaded deployment, with the file's name and text when it came from a file (for
/// the file:line of problems found later).
pub(crate) struct LoadedDeployment {
    pub(crate) config: DeploymentConfig,
    pub(crate) source: Option<(String, String)>,
}

impl LoadedDeployment {
    pub(crate) fn source(&self) -> Option<(&str, &str)> {
        self.source
            .as_ref()
            .map(|(file, text)| (file.as_str(), text.as_str()))
    }
}

impl Deployment {
    pub(crate) fn load(self) -> Result<LoadedDeployment, ConfigError> {
        match self {
            Deployment::Config(config) => Ok(LoadedDeployment {
                config: *config,
                source: None,
            }),
            Deployment::File(path) => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
                    path: path.clone(),
                    source,
                })?;
                let file = path.display().to_string();
                let config = parse_config(&file, &text)?;
                Ok(LoadedDeployment {
                    config,
                    source: Some((file, text)),
                })
            }
        }
    }
}

/// The policies: a file or directory of YAML files to load (validated against what
/// the systems understand), or a [`PolicySet`] built in code. `&str`, `&Path`,
/// `PathBuf` and [`PolicySet`] convert into it.
#[derive(Debug, Clone)]
pub enum Policies {
    /// A policy file, or a directory of them.
    Path(PathBuf),
    /// Policies built in code (taken as they are).
    Set(PolicySet),
}

impl From<&str> for Policies {
    fn from(path: &str) -> Self {
        Policies::Path(PathBuf::from(path))
    }
}

impl From<&Path> for Policies {
    fn from(path: &Path) -> Self {
        Policies::Path(path.to_owned())
    }
}

impl From<PathBuf> for Policies {
    fn from(path: PathBuf) -> Self {
        Policies::Path(path)
    }
}

impl From<&PathBuf> for Policies {
    fn from(path: &PathBuf) -> Self {
        Policies::Path(path.clone())
    }
}

impl From<PolicySet> for Policies {
    fn from(set: PolicySet) -> Self {
        Policies::Set(set)
    }
}

impl Policies {
    pub(crate) fn load(
        self,
        config: &DeploymentConfig,
        descriptors: &Descriptors,
    ) -> Result<PolicySet, PolicyError> {
        match self {
            Policies::Set(set) => Ok(set),
            Policies::Path(path) => load_policies(&path, config, descriptors),
        }
    }
}
