//! Fluent Forward protocol input.
