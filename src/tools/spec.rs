//! What a tool advertises: name, description, input schema and behaviour hints.

use serde_json::{Value, json};

/// The tool groups; each is served by its own actor on every worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupId {
    Core,
    Github,
    Ultra,
    Ml,
}

impl GroupId {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupId::Core => "core",
            GroupId::Github => "github",
            GroupId::Ultra => "ultra",
            GroupId::Ml => "ml",
        }
    }
}

/// MCP tool annotations: hints for the client about side effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
}

impl Annotations {
    /// Reads local state only.
    pub const LOCAL_READ: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
    /// Reads from a remote service.
    pub const REMOTE_READ: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    };
    /// Changes something remote, may not be repeated safely.
    pub const REMOTE_WRITE: Annotations = Annotations {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    };
}

#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub group: GroupId,
    pub description: &'static str,
    pub input_schema: Value,
    pub annotations: Annotations,
}

impl ToolSpec {
    /// The `tools/list` entry.
    pub fn to_json(&self) -> Value {
        let a = self.annotations;
        json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": {
                "readOnlyHint": a.read_only,
                "destructiveHint": a.destructive,
                "idempotentHint": a.idempotent,
                "openWorldHint": a.open_world,
            },
        })
    }
}

/// A closed object schema: `properties`, `required`, no other keys.
pub fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The schema of a tool without arguments.
pub fn no_arguments() -> Value {
    object_schema(json!({}), &[])
}
