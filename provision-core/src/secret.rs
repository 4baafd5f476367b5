//! Secrets: credentials live in [`SecretString`], whose `Debug` prints a
//! placeholder and which is zeroed on drop. Read one with
//! [`ExposeSecret::expose_secret`] only where it goes on the wire.

pub use secrecy::{ExposeSecret, SecretString};
