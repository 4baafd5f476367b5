//! A hook's own failure.

/// A hook could not do its part (its store failed): the plan is not made.
#[derive(Debug, thiserror::Error)]
#[error("{hook}: {source}")]
pub struct HookError {
    /// The hook.
    pub hook: String,
    /// What failed, with the hook's own error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl HookError {
    /// A failure of `hook`.
    pub fn new(
        hook: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            hook: hook.into(),
            source: source.into(),
        }
    }
}
