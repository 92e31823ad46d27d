//! The shared cache: a bounded TTL store that every worker reads directly.
//!
//! A hit is a `DashMap` lookup plus an atomic "last used" stamp: it never waits on another
//! thread. A miss runs the caller's loader on the caller's own worker (backend loaders hold
//! `!Send` HTTP clients, so a load cannot move), and concurrent misses for the same key —
//! from any worker — wait on one shared `watch` slot instead of loading again (single
//! flight). Errors are handed to the waiters of that flight but never stored.
//!
//! The bound (entries and bytes) is kept on insert, evicting the least recently used
//! entries; the cache actor (`actors::cache`) sweeps expired entries in the background.

mod store;
mod striped;

pub use store::{Cache, CacheStats, Cached, Kind, Limits};

#[cfg(test)]
mod tests;
