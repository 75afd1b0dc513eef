//! Storage: one `Store` trait, a Redis implementation and an embedded one.
