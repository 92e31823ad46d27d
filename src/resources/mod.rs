//! MCP resources (SPEC §4): the workspace graph, the build log tail and the kb snippets.
//!
//! Every read goes through the shared cache (kind `Resource`). A cached value carries the
//! fingerprint (mtime, length, inode) of the file it came from; a read compares it with a
//! fresh `stat` of that file, so a changed file is never served stale, and the cache actor
//! polls subscribed resources the same way to notify subscribers.

pub mod confine;
pub mod graph;
pub mod percent;
pub mod regular_file;

use crate::cache::{Cache, Cached, Kind};
use crate::config::Config;
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

pub const SCHEME: &str = "ide-agents://";
pub const REPO_GRAPH: &str = "repo.graph";
pub const BUILD_LOGS: &str = "build.logs";
pub const KB_INDEX: &str = "kb.snippet";
pub const KB_TEMPLATE_URI: &str = "ide-agents://kb.snippet/{name}";
const KB_EXT: &str = ".md";
/// The cache key of the `resources/list` listing (resource keys are URIs, so no clash).
const LIST_KEY: &str = "list:resources";

/// A resource a URI or tool name points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    RepoGraph,
    BuildLogs,
    KbIndex,
    Kb(String),
}

impl Target {
    /// How long a client may reuse what it read (the stateless era's `ttlMs`): the cached
    /// item's time left, but nothing for the build log, a live tail that grows while a
    /// build runs (the daemon itself checks the file on every read).
    pub fn fresh_for(&self, ttl_left: Duration) -> Duration {
        match self {
            Target::BuildLogs => Duration::ZERO,
            _ => ttl_left,
        }
    }

    /// What an MCP method's `uri` names: only a full `ide-agents://` URI (the tool form takes
    /// bare names too, through [`Target::parse`]).
    pub fn from_uri(uri: &str) -> Option<Target> {
        uri.starts_with(SCHEME)
            .then(|| Target::parse(uri))
            .flatten()
    }

    /// Accepts a full URI (`ide-agents://kb.snippet/intro`) or a bare name (`kb.snippet/intro`).
    /// In a URI a snippet name may be percent-encoded (`with%20space`) or not (`with space`);
    /// a bare name is the file's name as the tool form lists it, taken as written, so a file
    /// called `Release%20notes.md` is not read as `Release notes.md`.
    pub fn parse(uri_or_name: &str) -> Option<Target> {
        let (name, in_uri) = match uri_or_name.strip_prefix(SCHEME) {
            Some(rest) => (rest, true),
            None => (uri_or_name, false),
        };
        match name {
            REPO_GRAPH => Some(Target::RepoGraph),
            BUILD_LOGS => Some(Target::BuildLogs),
            KB_INDEX => Some(Target::KbIndex),
            other => other.strip_prefix("kb.snippet/").map(|n| {
                let mut n = if in_uri {
                    percent::decode(n)
                } else {
                    n.to_string()
                };
                if n.ends_with(KB_EXT) {
                    n.truncate(n.len() - KB_EXT.len());
                }
                Target::Kb(n)
            }),
        }
    }

    /// The resource's name as people read it: a snippet's file name is not encoded.
    pub fn name(&self) -> String {
        let mut name = String::new();
        self.push_name(&mut name, false);
        name
    }

    /// Built by hand, not with `format!`: every resource read starts here.
    pub fn uri(&self) -> String {
        let mut uri = String::with_capacity(SCHEME.len() + 32);
        uri.push_str(SCHEME);
        self.push_name(&mut uri, true);
        uri
    }

    fn push_name(&self, out: &mut String, encoded: bool) {
        match self {
            Target::RepoGraph => out.push_str(REPO_GRAPH),
            Target::BuildLogs => out.push_str(BUILD_LOGS),
            Target::KbIndex => out.push_str(KB_INDEX),
            Target::Kb(n) => {
                out.push_str("kb.snippet/");
                if encoded {
                    crate::backend::encode::push_percent_encoded(out, n);
                } else {
                    out.push_str(n);
                }
            }
        }
    }

    fn mime_type(&self) -> &'static str {
        match self {
            Target::RepoGraph => "application/json",
            Target::BuildLogs => "text/plain",
            Target::KbIndex | Target::Kb(_) => "text/markdown",
        }
    }

    fn description(&self) -> String {
        match self {
            Target::RepoGraph => "The workspace as a JSON graph of directories and files \
                (containment edges), honouring .gitignore"
                .into(),
            Target::BuildLogs => "The tail of the build log (IDE_AGENTS_BUILD_LOG)".into(),
            Target::KbIndex => "Index of the knowledge-base snippets".into(),
            Target::Kb(n) => format!("Knowledge-base snippet {n}{KB_EXT}"),
        }
    }

    /// The `resources/list` entry.
    fn list_entry(&self) -> Value {
        json!({
            "uri": self.uri(),
            "name": self.name(),
            "description": self.description(),
            "mimeType": self.mime_type(),
        })
    }
}

/// Why a resource could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// No such resource, or a name that is refused (traversal, absolute, symlink escape).
    NotFound(String),
    /// The source exists but could not be read.
    Unreadable(String),
}

impl ResourceError {
    pub fn message(&self) -> &str {
        match self {
            ResourceError::NotFound(m) | ResourceError::Unreadable(m) => m,
        }
    }
}

/// The `resources/templates/list` entries.
pub fn templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": KB_TEMPLATE_URI,
        "name": "kb.snippet",
        "description": "A markdown snippet of the knowledge base (IDE_AGENTS_KB_DIR), by file name",
        "mimeType": "text/markdown",
    })]
}

/// The snippet names in the kb directory (file stems of `*.md`), sorted; files that fail
/// confinement (hidden, symlinks out of the directory) are left out.
pub fn kb_names(config: &Config) -> Vec<String> {
    let Some(dir) = &config.kb_dir else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            let stem = file.strip_suffix(KB_EXT)?.to_string();
            // `x.md.md` would be listed as `x.md`, which reads as `x.md`'s alias: not
            // addressable, so not listed.
            if stem.ends_with(KB_EXT) {
                return None;
            }
            // Listed only if this daemon can read it, so a listed snippet reads.
            let path = confine::resolve(dir, &stem, KB_EXT).ok()?;
            regular_file::open_confined(&path).ok().map(|_| stem)
        })
        .collect();
    names.sort();
    names
}

/// The names of the kb snippets in a [`list`] value, in order.
pub fn snippet_names(list: &Cached) -> Vec<String> {
    let entries = list.value["resources"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    entries
        .iter()
        .filter_map(|e| match Target::parse(e["uri"].as_str()?)? {
            Target::Kb(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// A `resources/list` entry's place in the listing, as a string that sorts like the list:
/// the three fixed resources in their order, then the snippets by name.
pub fn list_key(entry: &Value) -> String {
    let name = entry["name"].as_str().unwrap_or_default();
    let rank = match name {
        REPO_GRAPH => '0',
        BUILD_LOGS => '1',
        KB_INDEX => '2',
        _ => '3',
    };
    format!("{rank}{name}")
}

/// Every resource, in listing order: the three fixed ones, then each snippet by name.
/// The value is `{resources: [entry…], fp}`; cached until the kb directory changes.
pub async fn list(cache: &Cache, config: &Config) -> Cached {
    let fp = dir_fp(config.kb_dir.as_deref());
    let result = cache
        .fetch_valid(LIST_KEY, Kind::Resource, |v| v["fp"] == fp, async {
            let mut targets = vec![Target::RepoGraph, Target::BuildLogs, Target::KbIndex];
            targets.extend(kb_names(config).into_iter().map(Target::Kb));
            let entries: Vec<Value> = targets.iter().map(Target::list_entry).collect();
            Ok::<_, ResourceError>(json!({"resources": entries, "fp": fp.clone()}))
        })
        .await;
    // The loader cannot fail.
    result.unwrap_or_else(|_| Cached {
        value: std::sync::Arc::new(json!({"resources": []})),
        ttl_left: std::time::Duration::ZERO,
        hit: false,
    })
}

/// Reads a resource through the cache: `{uri, mimeType, text, sources, fp}`.
///
/// A stored value remembers the files it came from (`sources`, resolved and confined when
/// it was loaded) and their fingerprints, so a hit costs one `stat` per source and no path
/// resolution; a file replaced by anything else (a symlink out, say) changes its
/// fingerprint, and the reload resolves and confines the name again.
pub async fn read(
    cache: &Cache,
    config: &Config,
    target: &Target,
) -> Result<Cached, ResourceError> {
    let uri = target.uri();
    cache
        .fetch_valid(&uri, Kind::Resource, still_fresh, async {
            // The link before what it leads to: retargeted in between, the entry holds the
            // old link's fingerprint and is read afresh next time.
            let link =
                link_source(config, target).map(|l| (link_fp(Path::new(&l)), json!({ "link": l })));
            let files = sources(config, target)?;
            let mut fp: Vec<Value> = files.iter().map(|p| file_fp(Path::new(p))).collect();
            let mut sources: Vec<Value> = files.into_iter().map(Value::String).collect();
            if let Some((link_fp, link)) = link {
                fp.push(link_fp);
                sources.push(link);
            }
            let text = load_text(config, target)?;
            // Escaped once here, so a hit writes the text without escaping it again; kept
            // only escaped, so the cache holds one copy ([`text_of`] reads it back).
            let text_json = serde_json::to_string(&text).unwrap_or_default();
            Ok(json!({
                "uri": uri,
                "mimeType": target.mime_type(),
                "text_json": text_json,
                "sources": sources,
                "fp": fp,
            }))
        })
        .await
}

/// The text of a value [`read`] returned.
pub fn text_of(read: &Cached) -> String {
    let escaped = read.value["text_json"].as_str().unwrap_or("\"\"");
    serde_json::from_str(escaped).unwrap_or_default()
}

/// A snippet read through a symlink in the kb directory: the link itself, whose target
/// can change while the file it led to stays as it was. It is a source of its own,
/// written `{"link": path}` and fingerprinted by [`link_fp`].
fn link_source(config: &Config, target: &Target) -> Option<String> {
    let (Target::Kb(name), Some(dir)) = (target, &config.kb_dir) else {
        return None;
    };
    let link = dir
        .canonicalize()
        .ok()?
        .join(confine::file_name(name, KB_EXT));
    let is_link = link.symlink_metadata().ok()?.file_type().is_symlink();
    is_link.then(|| link.to_string_lossy().into_owned())
}

/// Whether the files a stored value came from are unchanged.
fn still_fresh(stored: &Value) -> bool {
    let (Some(sources), Some(fps)) = (stored["sources"].as_array(), stored["fp"].as_array()) else {
        return false;
    };
    // Runs on every hit: one `stat` per source, compared in place.
    sources.len() == fps.len()
        && sources.iter().zip(fps).all(|(source, fp)| match source {
            Value::String(path) => file_fp_matches(Path::new(path), fp),
            // A link retargeted or removed is a new link (or none): its `lstat` changed.
            Value::Object(link) => link["link"]
                .as_str()
                .is_some_and(|l| link_fp(Path::new(l)) == *fp),
            _ => false,
        })
}

fn file_fp_matches(path: &Path, fp: &Value) -> bool {
    match (path.metadata(), fp.as_array()) {
        (Ok(m), Some(fp)) => {
            let now = [m.mtime(), m.mtime_nsec(), m.len() as i64, m.ino() as i64];
            fp.len() == now.len() && fp.iter().zip(now).all(|(a, b)| a.as_i64() == Some(b))
        }
        (Err(_), None) => fp.is_null(),
        _ => false,
    }
}

fn fingerprints(sources: &[String]) -> Value {
    Value::Array(sources.iter().map(|p| file_fp(Path::new(p))).collect())
}

/// The files a resource is made from, for change detection. `NotFound` for names that do
/// not resolve inside their directory.
fn sources(config: &Config, target: &Target) -> Result<Vec<String>, ResourceError> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    Ok(match target {
        // Top-level additions and removals, and .gitignore edits; deeper changes wait for the TTL.
        Target::RepoGraph => vec![
            path(&config.workspace),
            path(&config.workspace.join(".gitignore")),
        ],
        Target::BuildLogs => config.build_log.iter().map(|p| path(p)).collect(),
        Target::KbIndex => config.kb_dir.iter().map(|p| path(p)).collect(),
        // The path as configured, not as resolved: its `stat` follows every link on the way
        // (a kb directory that is a symlink re-pointed, say), so any change along it shows.
        Target::Kb(name) => {
            kb_path(config, name)?;
            let dir = config.kb_dir.as_deref().unwrap_or(Path::new(""));
            vec![path(&dir.join(confine::file_name(name, KB_EXT)))]
        }
    })
}

/// A cheap identity of a resource's source: `stat` results, never the content. A resource
/// whose fingerprint changed is stale. `NotFound` for names that do not resolve.
pub fn fingerprint(config: &Config, target: &Target) -> Result<Value, ResourceError> {
    sources(config, target).map(|s| fingerprints(&s))
}

fn kb_path(config: &Config, name: &str) -> Result<std::path::PathBuf, ResourceError> {
    let Some(dir) = &config.kb_dir else {
        return Err(ResourceError::NotFound(format!(
            "no snippet {name:?}: no kb directory is configured (IDE_AGENTS_KB_DIR)"
        )));
    };
    confine::resolve(dir, name, KB_EXT).map_err(|e| ResourceError::NotFound(e.0))
}

fn load_text(config: &Config, target: &Target) -> Result<String, ResourceError> {
    match target {
        Target::RepoGraph => {
            let graph = graph::build(&config.workspace, config.repo_graph_max_nodes);
            serde_json::to_string_pretty(&graph)
                .map_err(|e| ResourceError::Unreadable(format!("repo.graph: {e}")))
        }
        Target::BuildLogs => Ok(build_log_tail(config)),
        Target::KbIndex => Ok(kb_index(config)),
        Target::Kb(name) => {
            let path = kb_path(config, name)?;
            regular_file::read_confined_text(&path).map_err(|e| {
                ResourceError::Unreadable(format!("cannot read snippet {name:?}: {e}"))
            })
        }
    }
}

fn kb_index(config: &Config) -> String {
    let names = kb_names(config);
    let mut text = String::from("# Knowledge-base snippets\n\n");
    if config.kb_dir.is_none() {
        text.push_str("No kb directory is configured: set IDE_AGENTS_KB_DIR to a directory of markdown files.\n");
    } else if names.is_empty() {
        text.push_str("The kb directory has no markdown files yet.\n");
    }
    for name in names {
        let uri = Target::Kb(name.clone()).uri();
        text.push_str(&format!("- [{name}]({uri})\n"));
    }
    text
}

/// The last `build_log_tail_bytes` of the build log, or a short note when there is none.
fn build_log_tail(config: &Config) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Some(path) = &config.build_log else {
        return "No build log is configured: set IDE_AGENTS_BUILD_LOG to the file your build \
                writes, and this resource shows its tail."
            .into();
    };
    let mut file = match regular_file::open(path) {
        Ok(f) => f,
        Err(e) => return format!("The build log {} cannot be read yet: {e}.", path.display()),
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(config.build_log_tail_bytes);
    let mut bytes = Vec::with_capacity((len - start) as usize);
    if file.seek(SeekFrom::Start(start)).is_err()
        || file
            .take(config.build_log_tail_bytes)
            .read_to_end(&mut bytes)
            .is_err()
    {
        return format!("The build log {} could not be read.", path.display());
    }
    // The cut may fall inside a UTF-8 sequence: skip its continuation bytes.
    let skip = bytes.iter().take_while(|b| (**b & 0xC0) == 0x80).count();
    String::from_utf8_lossy(&bytes[skip..]).into_owned()
}

fn file_fp(path: &Path) -> Value {
    stat_fp(path.metadata())
}

/// A symlink's own fingerprint: its `lstat` and where it leads (a link replaced at once can
/// reuse the inode and the clock tick, never the old target too).
fn link_fp(path: &Path) -> Value {
    match (stat_fp(path.symlink_metadata()), std::fs::read_link(path)) {
        (Value::Array(mut fp), Ok(to)) => {
            fp.push(Value::String(to.to_string_lossy().into_owned()));
            Value::Array(fp)
        }
        _ => Value::Null,
    }
}

/// A `stat` (or `lstat`) result as a fingerprint: mtime, length, inode; `null` for none.
fn stat_fp(meta: std::io::Result<std::fs::Metadata>) -> Value {
    match meta {
        Ok(m) => json!([m.mtime(), m.mtime_nsec(), m.len(), m.ino()]),
        Err(_) => Value::Null,
    }
}

fn dir_fp(dir: Option<&Path>) -> Value {
    dir.map_or(Value::Null, file_fp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(env: &[(&str, &str)], cwd: &Path) -> Config {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.get(k).cloned();
        let flags = std::collections::HashMap::new();
        Config::load(
            &crate::config::Sources {
                flags: &flags,
                env: &lookup,
            },
            cwd,
        )
        .expect("config")
    }

    #[test]
    fn the_build_log_tail_starts_on_a_character_boundary() {
        let dir = tempfile::tempdir().unwrap();
        // "é" is two bytes: the 5-byte tail of "aééxy" starts inside the first é.
        std::fs::write(dir.path().join("b.log"), "aééxy").unwrap();
        let c = config(
            &[
                ("IDE_AGENTS_BUILD_LOG", "b.log"),
                ("IDE_AGENTS_BUILD_LOG_TAIL_BYTES", "5"),
            ],
            dir.path(),
        );
        assert_eq!(build_log_tail(&c), "éxy");
        let c = config(&[("IDE_AGENTS_BUILD_LOG", "missing.log")], dir.path());
        assert!(build_log_tail(&c).contains("cannot be read yet"));
    }

    #[test]
    fn only_addressable_markdown_files_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("kb")).unwrap();
        for f in ["y.md", "x.md.md", "notes.txt", ".hidden.md"] {
            std::fs::write(dir.path().join("kb").join(f), "").unwrap();
        }
        let c = config(&[("IDE_AGENTS_KB_DIR", "kb")], dir.path());
        assert_eq!(kb_names(&c), ["y"]);
    }

    #[test]
    fn uris_and_names_parse_to_the_same_target() {
        assert_eq!(
            Target::parse("ide-agents://repo.graph"),
            Some(Target::RepoGraph)
        );
        assert_eq!(Target::parse("build.logs"), Some(Target::BuildLogs));
        assert_eq!(Target::parse("kb.snippet"), Some(Target::KbIndex));
        assert_eq!(
            Target::parse("ide-agents://kb.snippet/intro.md"),
            Some(Target::Kb("intro".into()))
        );
        assert_eq!(Target::parse("ide-agents://nope"), None);
        assert_eq!(Target::Kb("a".into()).uri(), "ide-agents://kb.snippet/a");
    }
}
