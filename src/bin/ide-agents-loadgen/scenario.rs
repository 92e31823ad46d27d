//! What each connection sends: the scenario's request, serialized once as a template
//! into which only the id is spliced per request.

use clap::ValueEnum;
use serde_json::{Map, Value, json};

/// Protocol version offered in the `initialize` handshake.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Protocol version announced per request (`_meta`) in `--modern` mode.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";

/// Every request line starts with this; the id follows, then the template's suffix.
const PREFIX: &[u8] = br#"{"jsonrpc":"2.0","id":"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `ping` against a bare echo server: any JSON line carrying the same id is accepted.
    Echo,
    Ping,
    ToolsList,
    ToolsCall,
    ResourcesRead,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Echo => "echo",
            Scenario::Ping => "ping",
            Scenario::ToolsList => "tools-list",
            Scenario::ToolsCall => "tools-call",
            Scenario::ResourcesRead => "resources-read",
        }
    }

    /// The echo server speaks no MCP, so there is no session to set up.
    pub fn needs_session(self) -> bool {
        self != Scenario::Echo
    }
}

/// Scenario parameters as given on the command line.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub scenario: Scenario,
    pub tool: String,
    /// Tool arguments; always a JSON object.
    pub args: Value,
    pub uri: Option<String>,
    pub modern: bool,
}

impl RequestSpec {
    /// The load request of this scenario.
    pub fn template(&self) -> Template {
        let (method, params) = match self.scenario {
            // Echo stays the bare baseline: no params, whatever the flags.
            Scenario::Echo => return Template::new("ping", None),
            Scenario::Ping => ("ping", None),
            Scenario::ToolsList => ("tools/list", None),
            Scenario::ToolsCall => (
                "tools/call",
                Some(params([
                    ("name", self.tool.clone().into()),
                    ("arguments", self.args.clone()),
                ])),
            ),
            Scenario::ResourcesRead => (
                "resources/read",
                Some(params([(
                    "uri",
                    self.uri.clone().unwrap_or_default().into(),
                )])),
            ),
        };
        Template::new(method, self.with_meta(params))
    }

    /// In `--modern` mode every request carries its protocol version and capabilities.
    fn with_meta(&self, params: Option<Map<String, Value>>) -> Option<Value> {
        if !self.modern {
            return params.map(Value::Object);
        }
        let mut params = params.unwrap_or_default();
        params.insert(
            "_meta".into(),
            json!({
                "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            }),
        );
        Some(Value::Object(params))
    }
}

fn params<const N: usize>(entries: [(&str, Value); N]) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The `initialize` request (sent with id 0, before the load ids start at 1).
pub fn initialize_request() -> Template {
    Template::new(
        "initialize",
        Some(json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "ide-agents-loadgen", "version": "0.1"},
        })),
    )
}

pub const INITIALIZED_NOTIFICATION: &[u8] =
    b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

/// A request line with the id left out: `PREFIX + id + suffix` is one complete line.
#[derive(Clone, Debug)]
pub struct Template {
    suffix: Vec<u8>,
}

impl Template {
    pub fn new(method: &str, params: Option<Value>) -> Self {
        let mut suffix = String::from(",\"method\":");
        suffix.push_str(&Value::from(method).to_string());
        if let Some(params) = params {
            suffix.push_str(",\"params\":");
            suffix.push_str(&params.to_string());
        }
        suffix.push_str("}\n");
        Template {
            suffix: suffix.into_bytes(),
        }
    }

    /// Upper bound of one line's length, to size write buffers.
    pub fn max_len(&self) -> usize {
        PREFIX.len() + 20 + self.suffix.len()
    }

    /// Appends the request line (with its `\n`) for `id` to `out`.
    pub fn write(&self, id: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(PREFIX);
        push_decimal(id, out);
        out.extend_from_slice(&self.suffix);
    }
}

/// `id.to_string()` without the allocation and formatting machinery (hot path).
fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &Template, id: u64) -> Value {
        let mut out = Vec::new();
        t.write(id, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(out.len() <= t.max_len());
        serde_json::from_slice(&out).expect("template produces valid JSON")
    }

    fn spec(scenario: Scenario, modern: bool) -> RequestSpec {
        RequestSpec {
            scenario,
            tool: "ide_agents_healthz".into(),
            args: json!({"a": "x\"y\n"}),
            uri: Some("file:///tmp/a b".into()),
            modern,
        }
    }

    #[test]
    fn splices_ids() {
        let t = spec(Scenario::Echo, false).template();
        for id in [0, 1, 9, 10, 12345, u64::MAX] {
            assert_eq!(
                line(&t, id),
                json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
            );
        }
    }

    #[test]
    fn tools_call_escapes_arguments() {
        let t = spec(Scenario::ToolsCall, false).template();
        assert_eq!(
            line(&t, 7),
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                   "params": {"name": "ide_agents_healthz", "arguments": {"a": "x\"y\n"}}})
        );
    }

    #[test]
    fn modern_adds_meta_everywhere_but_echo() {
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let ping = line(&spec(Scenario::Ping, true).template(), 1);
        assert_eq!(ping["params"], json!({"_meta": meta}));
        let read = line(&spec(Scenario::ResourcesRead, true).template(), 1);
        assert_eq!(read["params"]["uri"], "file:///tmp/a b");
        assert_eq!(read["params"]["_meta"], meta);
        let echo = line(&spec(Scenario::Echo, true).template(), 1);
        assert!(echo.get("params").is_none());
    }

    #[test]
    fn initialize_is_well_formed() {
        let init = line(&initialize_request(), 0);
        assert_eq!(init["method"], "initialize");
        assert_eq!(init["params"]["protocolVersion"], PROTOCOL_VERSION);
        let note: Value = serde_json::from_slice(INITIALIZED_NOTIFICATION).unwrap();
        assert!(note.get("id").is_none());
    }
}
