//! Where the listening socket comes from: systemd (socket activation), or bound by the
//! daemon itself on the configured path. Only a socket file the daemon created is removed
//! on exit; a passed-in one belongs to systemd, which keeps listening while we restart.

use super::activation::{self, ListenEnv};
use super::socket::{self, BoundSocket, SocketFile};
use std::os::unix::net::UnixListener;
use std::path::Path;

pub enum Listening {
    Bound(BoundSocket),
    Activated(activation::Activated),
}

impl Listening {
    /// Adopts the socket systemd passed, or binds `configured`.
    pub fn open(configured: &Path, env: &ListenEnv) -> Result<Listening, String> {
        let Some(activated) = activation::take(env)? else {
            return socket::bind(configured).map(Listening::Bound);
        };
        match &activated.path {
            Some(p) if p != configured => log::warn!(
                "systemd passed the socket {}, but the configured socket is {}: clients using the \
                 default will not find the daemon; make IDE_AGENTS_SOCKET match the socket unit",
                p.display(),
                configured.display()
            ),
            _ => {}
        }
        Ok(Listening::Activated(activated))
    }

    /// The socket's path, when it has one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Listening::Bound(b) => Some(&b.path),
            Listening::Activated(a) => a.path.as_deref(),
        }
    }

    pub fn listener(&self) -> &UnixListener {
        match self {
            Listening::Bound(b) => &b.listener,
            Listening::Activated(a) => &a.listener,
        }
    }

    /// The socket's path as people should see it, and where it came from.
    pub fn describe(&self) -> String {
        match self {
            Listening::Bound(b) => b.path.display().to_string(),
            Listening::Activated(a) => {
                let path = a
                    .path
                    .as_ref()
                    .map_or("an unnamed socket".to_string(), |p| p.display().to_string());
                match &a.name {
                    Some(name) => format!("{path} (from systemd, {name})"),
                    None => format!("{path} (from systemd)"),
                }
            }
        }
    }

    /// The socket file, if this daemon created it (so removes it when it stops).
    pub fn own_file(&self) -> Option<&SocketFile> {
        match self {
            Listening::Bound(b) => Some(&b.file),
            Listening::Activated(_) => None,
        }
    }

    /// Removes the socket file if this daemon created it.
    pub fn remove_own_file(&self) {
        if let Listening::Bound(b) = self {
            b.remove_file();
        }
    }
}
