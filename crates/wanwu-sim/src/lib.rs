//! Smart-city device simulator and load generator.
