//! Embedded time-series engine: series and points, write-ahead log, compressed blocks, queries.
