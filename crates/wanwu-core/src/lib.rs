//! The platform: device registry, ingest pipeline, twin, commands, rules and alarms.
