//! Example programs for provision; see the `examples` targets.
