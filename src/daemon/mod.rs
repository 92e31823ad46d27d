//! Running as a daemon: the socket (bound or passed by systemd), who may connect, signals,
//! systemd notifications, and the serve loop.

pub mod activation;
pub mod listener;
pub mod log_relay;
pub mod notify;
pub mod peer;
pub mod serve;
pub mod signals;
pub mod socket;
