//! Running as a daemon: the socket, who may connect, and the serve loop.

pub mod peer;
pub mod serve;
pub mod socket;
