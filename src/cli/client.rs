//! A small blocking client for the CLI subcommands: one connection, stateless-era requests.

use crate::protocol::version::{META_VERSION_KEY, MODERN_VERSION};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Exit codes shared by the client subcommands.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_UNREACHABLE: i32 = 3;

pub struct Client {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    next_id: u64,
}

/// The one-line explanation printed when the daemon cannot be reached.
pub fn unreachable_message(path: &Path, err: &std::io::Error) -> String {
    format!(
        "ide-agentsd: cannot reach the daemon at {}: {err}. Start it with `ide-agentsd serve` \
         (or `systemctl --user start ide-agentsd.socket`), or pass --socket PATH.",
        path.display()
    )
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, std::io::Error> {
        let stream = UnixStream::connect(path)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Client {
            writer: stream,
            reader,
            next_id: 1,
        })
    }

    /// Sends one request and returns its `result`, or the JSON-RPC error as text.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut params = match params {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        params.insert(
            "_meta".into(),
            json!({ META_VERSION_KEY: MODERN_VERSION, "io.modelcontextprotocol/clientCapabilities": {} }),
        );
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut line = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.writer
            .write_all(&line)
            .map_err(|e| format!("cannot send to the daemon: {e}"))?;
        loop {
            let mut buf = String::new();
            let n = self
                .reader
                .read_line(&mut buf)
                .map_err(|e| format!("cannot read from the daemon: {e}"))?;
            if n == 0 {
                return Err("the daemon closed the connection".into());
            }
            let reply: Value = serde_json::from_str(&buf)
                .map_err(|e| format!("the daemon sent invalid JSON: {e}"))?;
            if reply.get("id") != Some(&json!(id)) {
                continue; // a notification
            }
            if let Some(result) = reply.get("result") {
                return Ok(result.clone());
            }
            let err = &reply["error"];
            return Err(format!(
                "{} (code {})",
                err["message"].as_str().unwrap_or("unknown error"),
                err["code"]
            ));
        }
    }
}
