//! The actors: a root supervisor on the main thread; on every worker thread a router
//! (the worker's supervisor), its tool-group actors, and one session per connection.

pub mod ask_client;
pub mod backend_pool;
pub mod batch;
pub mod cache;
pub mod content;
pub mod control;
pub mod drain;
pub mod groups;
pub mod outbox;
pub mod rate_limit;
pub mod read_gate;
pub mod respond;
pub mod router;
pub mod session;
pub mod shutdown;
pub mod subscriptions;
pub mod supervisor;
pub mod telemetry;
pub mod tool_group;
pub mod watchdog;
