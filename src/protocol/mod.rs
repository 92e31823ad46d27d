//! The MCP protocol layer: framing, JSON-RPC, versions, argument handling.
//! Pure code: no actors, no I/O.

pub mod batch;
pub mod cursor;
pub mod elicitation;
pub mod envelope;
pub mod framing;
pub mod fuzz;
pub mod json_text;
pub mod jsonrpc;
pub mod lifecycle;
pub mod params;
pub mod salvage;
pub mod schema;
pub mod version;
