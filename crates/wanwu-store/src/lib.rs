//! Metadata repositories: one trait, SQLite (embedded default) and PostgreSQL implementations.
