//! ide-agentsd: one long-running MCP server per user for IDE agents, over a Unix socket.
//!
//! See ARCHITECTURE.md for the map of this crate.

pub mod actors;
pub mod approvals;
pub mod backend;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod prompts;
pub mod protocol;
pub mod reload;
pub mod resources;
pub mod shared;
pub mod status;
pub mod telemetry;
pub mod tools;
pub mod visible;
