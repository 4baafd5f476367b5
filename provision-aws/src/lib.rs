//! # provision-aws
//!
//! The AWS IAM Identity Center adapter for `provision`: identity-store **users**
//! (accounts), identity-store **group memberships**, and **permission-set
//! assignments** on AWS accounts, to a person's user or through a group.
//!
//! It speaks the two services' AWS JSON 1.1 APIs directly, signed with SigV4 by
//! `aws-sigv4` over the workspace's reqwest (no service SDK): the Identity Store
//! (signing name `identitystore`, `X-Amz-Target: AWSIdentityStore.*`) and SSO Admin
//! (signing name **`sso`**, `X-Amz-Target: SWBExternalService.*`). It never retries
//! or sleeps: errors are classified into [`provision_core::adapter::AdapterError`] and
//! the executor decides.
//!
//! ## Configuration
//!
//! In a deployment file:
//!
//! ```yaml
//! systems:
//!   aws:
//!     adapter: aws
//!     aliases: [aws-sso]
//!     delete_leavers: true          # DeleteUser after a leaver's access is revoked (the only switch)
//!     settings:
//!       region: eu-west-1
//!       # instance_arn / identity_store_id: discovered with ListInstances when omitted
//!       # and there is exactly one instance
//!       instance_arn: arn:aws:sso:::instance/ssoins-0123456789abcdef
//!       identity_store_id: d-0123456789
//!       accounts.production: "111122223333"   # policies may say account:production
//!       accounts.staging: "444455556666"
//!       # endpoint: http://127.0.0.1:5050     # a local implementation (moto)
//!     credentials:                 # optional: otherwise AWS_* variables / ~/.aws
//!       access_key_id: { env: AWS_ACCESS_KEY_ID }
//!       secret_access_key: { env: AWS_SECRET_ACCESS_KEY }
//! ```
//!
//! Without `credentials`, the adapter reads what the AWS CLI reads:
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, else the
//! `AWS_PROFILE` (or `default`) profile of `~/.aws/credentials`; the region from
//! `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile in `~/.aws/config`; the endpoint
//! from `AWS_ENDPOINT_URL`. With the `aws-config` cargo feature,
//! `AwsConfigBuilder::credentials_chain` takes the full AWS chain (SSO, web identity,
//! instance metadata).
//!
//! In code:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use provision_aws::{AwsAdapter, AwsConfig};
//! use provision_core::adapter::{read_all_accounts, Adapter};
//!
//! let config = AwsConfig::from_env()?; // or AwsConfig::builder()…build()?
//! // errors are provision_core's ConfigError, naming the system and the setting
//! let adapter = AwsAdapter::new(config)?;
//! let users = read_all_accounts(&adapter).await?;
//! println!("{} users in the identity store", users.len());
//! # Ok(()) }
//! ```
//!
//! ## Entitlements in policies
//!
//! ```yaml
//! provisions:
//!   - system: aws
//!     action: add_to_group
//!     resource: Engineering                      # identity-store group, by display name
//!   - system: aws
//!     action: assign_permission_set
//!     resource: EngineeringReadOnly              # permission set, by name
//!     scope: account:production                  # account by configured name or 12-digit id
//!   - system: aws
//!     action: assign_permission_set
//!     resource: group:Engineering/PowerUser      # held through the group Engineering
//!     scope: account:111122223333
//! ```
//!
//! From a deployment file, register the factory: its `descriptor()` reads nothing
//! secret (so `validate` runs in CI without credentials) and `build()` resolves the
//! credentials and checks every setting (URL, ARN and identity-store id shapes, a
//! region that exists), naming the system and the setting on error:
//!
//! ```no_run
//! # async fn demo(config: &provision_core::config::DeploymentConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use provision_core::adapter::{FactoryRegistry, SystemSpec};
//! let registry = FactoryRegistry::new().with(provision_aws::factory());
//! for (name, system) in &config.systems {
//!     let adapter = registry.build(SystemSpec { name, config: system }).await?;
//!     # let _ = adapter;
//! }
//! # Ok(()) }
//! ```
//!
//! See [`adapter`] for what each one does on grant and revoke, and how asynchronous
//! assignments are reported.

// `AdapterError` (the core contract) is large; it is returned as is, like every adapter does.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod client;
pub mod config;
pub mod credentials;
pub mod evidence;
pub mod factory;
pub mod model;

pub use adapter::{AwsAdapter, Instance};
pub use client::{AwsClient, AwsError, AwsErrors, Service};
pub use config::{AwsConfig, AwsConfigBuilder, ConfigError};
pub use credentials::StaticCredentials;
pub use factory::{AwsFactory, factory};
