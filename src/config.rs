//! Configuration: environment variables and their `serve` flag twins, into one validated value.
//!
//! Every setting is named once in [`SETTINGS`]; the CLI builds a `--flag` for each, and
//! [`Config::load`] reads flags first, then the environment, then the built-in default.
//! A malformed value is an error that names the variable (or flag) and what it expects.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// One configurable setting: its environment variable, flag twin and help text.
pub struct Setting {
    pub env: &'static str,
    pub flag: &'static str,
    pub help: &'static str,
}

macro_rules! settings {
    ($($env:literal, $flag:literal, $help:literal;)*) => {
        /// Every setting `serve` understands, in the order `--help` shows them.
        pub const SETTINGS: &[Setting] = &[$(Setting { env: $env, flag: $flag, help: $help }),*];
    };
}

settings! {
    "IDE_AGENTS_SOCKET", "socket", "Unix socket path [default: $XDG_RUNTIME_DIR/ide-agents/mcp.sock, else /tmp/ide-agents-$UID/mcp.sock]";
    "IDE_AGENTS_WORKERS", "workers", "worker threads [default: number of cores]";
    "IDE_AGENTS_MAX_MESSAGE_BYTES", "max-message-bytes", "longest accepted message line [default: 4194304]";
    "IDE_AGENTS_PAGE_SIZE", "page-size", "items per page of list results [default: 100]";
    "IDE_AGENTS_WRITE_STALL_SECS", "write-stall-secs", "seconds a client may leave over 1 MiB of answers unread before it is disconnected [default: 60]";
    "IDE_AGENTS_PROGRESS_INTERVAL_SECS", "progress-interval-secs", "seconds between notifications/progress of a call that asked for them [default: 1]";
    "IDE_AGENTS_BACKEND_URL", "backend-url", "agents backend base URL [default: http://127.0.0.1:8001]";
    "IDE_AGENTS_ULTRA_ENABLED", "ultra-enabled", "serve the ULTRA and ML tool groups [default: false]";
    "IDE_AGENTS_ULTRA_URL", "ultra-url", "base URL for the ULTRA tools [default: the backend URL]";
    "IDE_AGENTS_POOL_MAX_IDLE", "pool-max-idle", "0 opens a backend connection per call; otherwise idle connections are kept 30 s, bounded (by awc) only by --pool-max-connections [default: 20]";
    "IDE_AGENTS_POOL_MAX_CONNECTIONS", "pool-max-connections", "backend connections per worker [default: 50]";
    "IDE_AGENTS_REQUEST_TIMEOUT", "request-timeout", "backend request timeout, seconds [default: 30]";
    "IDE_AGENTS_RETRY_ATTEMPTS", "retry-attempts", "attempts for idempotent backend calls [default: 3]";
    "IDE_AGENTS_RETRY_BACKOFF_BASE", "retry-backoff-base", "first retry delay, seconds [default: 0.25]";
    "IDE_AGENTS_RETRY_BACKOFF_FACTOR", "retry-backoff-factor", "retry delay growth factor [default: 2]";
    "IDE_AGENTS_RETRY_BACKOFF_MAX", "retry-backoff-max", "longest retry delay, seconds [default: 4]";
    "IDE_AGENTS_HEALTH_INTERVAL_SECS", "health-interval-secs", "seconds between background backend health probes [default: 10]";
    "IDE_AGENTS_BREAKER_FAIL_THRESHOLD", "breaker-fail-threshold", "consecutive failures that open the breaker [default: 5]";
    "IDE_AGENTS_BREAKER_RESET_TIMEOUT", "breaker-reset-timeout", "seconds the breaker stays open [default: 20]";
    "IDE_AGENTS_BREAKER_HALF_OPEN_MAX_CALLS", "breaker-half-open-max-calls", "probe calls while half-open [default: 1]";
    "IDE_AGENTS_CACHE_MAX_BYTES", "cache-max-bytes", "cache size bound in bytes [default: 67108864]";
    "IDE_AGENTS_CACHE_ENABLED", "cache-enabled", "cache backend lookups [default: true]";
    "IDE_AGENTS_RESOURCE_TTL_SECS", "resource-ttl-secs", "resource and prompt cache TTL, seconds [default: 60]";
    "IDE_AGENTS_WORKSPACE", "workspace", "workspace root for repo.graph [default: the working directory]";
    "IDE_AGENTS_REPO_GRAPH_MAX_NODES", "repo-graph-max-nodes", "node cap of repo.graph [default: 5000]";
    "IDE_AGENTS_BUILD_LOG", "build-log", "file served as build.logs [default: none]";
    "IDE_AGENTS_BUILD_LOG_TAIL_BYTES", "build-log-tail-bytes", "bytes of the build log served [default: 65536]";
    "IDE_AGENTS_KB_DIR", "kb-dir", "directory of markdown kb.snippet files [default: none]";
    "IDE_AGENTS_PROMPTS_DIR", "prompts-dir", "directory overriding the built-in prompts [default: none]";
    "MCP_TOOL_SPANS_DIR", "logs-dir", "directory of span and audit logs [default: ./logs]";
    "IDE_AGENTS_TELEMETRY_ENABLED", "telemetry-enabled", "write telemetry spans [default: true]";
    "IDE_AGENTS_TELEMETRY_BATCH", "telemetry-batch", "spans per write batch [default: 100]";
    "IDE_AGENTS_TELEMETRY_FLUSH_SECS", "telemetry-flush-secs", "longest wait before spans are written [default: 10]";
    "IDE_AGENTS_TELEMETRY_MAX_BYTES", "telemetry-max-bytes", "span file size that triggers rotation [default: 67108864]";
    "IDE_AGENTS_TELEMETRY_KEEP", "telemetry-keep", "rotated span files kept [default: 5]";
    "ANOMALY_THRESHOLD_RATE_LIMITED", "anomaly-threshold-rate-limited", "rate_limited events that make an anomaly [default: 10]";
    "ANOMALY_THRESHOLD_APPROVAL_REQUESTED", "anomaly-threshold-approval-requested", "approval_requested events that make an anomaly [default: 20]";
    "ANOMALY_THRESHOLD_TOOL_FAILURE", "anomaly-threshold-tool-failure", "tool_failure events that make an anomaly [default: 15]";
    "IDE_AGENTS_RATE_PER_SEC", "rate-per-sec", "tool calls per second per connection and tool, 0 for no limit [default: 20]";
    "IDE_AGENTS_RATE_BURST", "rate-burst", "burst of tool calls per connection and tool [default: 40]";
    "IDE_AGENTS_AUTO_APPROVE", "auto-approve", "command prefixes run without approval, comma-separated [default: none]";
    "IDE_AGENTS_SHUTDOWN_GRACE_SECS", "shutdown-grace-secs", "seconds in-flight requests get on stop [default: 10]";
    "IDE_AGENTS_GITHUB_API_URL", "github-api-url", "GitHub API base URL [default: https://api.github.com]";
}

#[derive(Debug, Clone)]
pub struct Config {
    pub socket: PathBuf,
    pub workers: usize,
    pub max_message_bytes: usize,
    pub page_size: usize,
    pub write_stall: Duration,
    pub progress_interval: Duration,
    pub backend_url: String,
    pub ultra_enabled: bool,
    pub ultra_url: Option<String>,
    pub pool_max_idle: usize,
    pub pool_max_connections: usize,
    pub request_timeout: Duration,
    pub retry_attempts: u32,
    pub retry_backoff_base: Duration,
    pub retry_backoff_factor: f64,
    pub retry_backoff_max: Duration,
    pub health_interval: Duration,
    pub breaker_fail_threshold: u32,
    pub breaker_reset_timeout: Duration,
    pub breaker_half_open_max_calls: u32,
    pub cache_max_bytes: usize,
    pub cache_enabled: bool,
    pub resource_ttl: Duration,
    pub workspace: PathBuf,
    pub repo_graph_max_nodes: usize,
    pub build_log: Option<PathBuf>,
    pub build_log_tail_bytes: u64,
    pub kb_dir: Option<PathBuf>,
    pub prompts_dir: Option<PathBuf>,
    pub logs_dir: PathBuf,
    pub telemetry_enabled: bool,
    pub telemetry_batch: usize,
    pub telemetry_flush: Duration,
    pub telemetry_max_bytes: u64,
    pub telemetry_keep: usize,
    pub anomaly_rate_limited: u64,
    pub anomaly_approval_requested: u64,
    pub anomaly_tool_failure: u64,
    pub rate_per_sec: f64,
    pub rate_burst: f64,
    pub auto_approve: Vec<String>,
    pub shutdown_grace: Duration,
    pub github_api_url: String,
    /// From `GITHUB_TOKEN` or `GITHUB_PERSONAL_ACCESS_TOKEN`; environment only, since a flag
    /// would show the secret in the process list.
    pub github_token: Option<String>,
}

/// Where raw setting values come from: flags (by env name) over the environment.
pub struct Sources<'a> {
    pub flags: &'a HashMap<String, String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Sources<'_> {
    fn raw(&self, env: &str) -> Option<(String, String)> {
        if let Some(v) = self.flags.get(env) {
            let flag = SETTINGS
                .iter()
                .find(|s| s.env == env)
                .map_or(env, |s| s.flag);
            return Some((v.clone(), format!("--{flag}")));
        }
        (self.env)(env)
            .filter(|v| !v.is_empty())
            .map(|v| (v, env.to_string()))
    }

    fn parse<T>(
        &self,
        env: &str,
        default: T,
        expects: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, String> {
        match self.raw(env) {
            None => Ok(default),
            Some((value, origin)) => parse(value.trim())
                .ok_or_else(|| format!("invalid {origin}={value:?}: expected {expects}")),
        }
    }

    fn count(&self, env: &str, default: usize) -> Result<usize, String> {
        self.parse(env, default, "a positive whole number", |v| {
            v.parse::<usize>().ok().filter(|n| *n > 0)
        })
    }

    fn whole(&self, env: &str, default: usize) -> Result<usize, String> {
        self.parse(env, default, "a whole number", |v| v.parse::<usize>().ok())
    }

    fn number(&self, env: &str, default: f64) -> Result<f64, String> {
        self.parse(env, default, "a non-negative number", |v| {
            v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
        })
    }

    fn seconds(&self, env: &str, default: f64) -> Result<Duration, String> {
        let expects = format!("a number of seconds from 0 to {MAX_SECONDS}");
        self.parse(env, Duration::from_secs_f64(default), &expects, |v| {
            parse_seconds(v)
        })
    }

    /// For intervals and timeouts, where zero would spin, flood or fail everything.
    fn positive_seconds(&self, env: &str, default: f64) -> Result<Duration, String> {
        let expects = format!("a positive number of seconds, at most {MAX_SECONDS}");
        self.parse(env, Duration::from_secs_f64(default), &expects, |v| {
            // Too small to be a duration (1e-10) is zero, and zero is what is refused.
            parse_seconds(v).filter(|d| !d.is_zero())
        })
    }

    fn bounded_count(&self, env: &str, default: usize, max: usize) -> Result<usize, String> {
        let expects = format!("a whole number from 1 to {max}");
        self.parse(env, default, &expects, |v| {
            v.parse::<usize>().ok().filter(|n| (1..=max).contains(n))
        })
    }

    fn flag(&self, env: &str, default: bool) -> Result<bool, String> {
        self.parse(
            env,
            default,
            "one of 1/true/yes/on or 0/false/no/off",
            parse_bool,
        )
    }

    fn text(&self, env: &str) -> Option<String> {
        self.raw(env).map(|(v, _)| v)
    }

    fn url(&self, env: &str, default: &str) -> Result<String, String> {
        let url = self.parse(
            env,
            default.to_string(),
            "an http:// or https:// base URL with a host, such as http://127.0.0.1:8001 (no \
             query)",
            base_url,
        )?;
        Ok(url.trim_end_matches('/').to_string())
    }
}

/// A base URL requests can be made on: caught here, a mistyped one is a start-up error
/// naming its variable instead of every call failing later.
fn base_url(v: &str) -> Option<String> {
    let uri: awc::http::Uri = v.parse().ok()?;
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    let host = uri.host().is_some_and(|h| !h.is_empty());
    (web && host && uri.query().is_none() && !v.contains('#')).then(|| v.to_string())
}

pub fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Longer than a year is a typo for any of the daemon's intervals, timeouts and TTLs; it
/// also keeps deadlines (`Instant` + the setting) from overflowing.
pub const MAX_SECONDS: f64 = 31_536_000.0;

/// A number of seconds within 0..=[`MAX_SECONDS`].
fn parse_seconds(v: &str) -> Option<Duration> {
    let n = v.parse::<f64>().ok()?;
    (0.0..=MAX_SECONDS)
        .contains(&n)
        .then(|| Duration::from_secs_f64(n))
}

/// More worker threads than this is a typo, not a machine: each costs a thread and its
/// descriptors at start-up.
pub const MAX_WORKERS: usize = 1024;

impl Config {
    /// Reads every setting; `cwd` anchors the relative defaults (workspace, logs).
    pub fn load(src: &Sources<'_>, cwd: &std::path::Path) -> Result<Config, String> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let ultra_url = match src.text("IDE_AGENTS_ULTRA_URL") {
            Some(_) => Some(src.url("IDE_AGENTS_ULTRA_URL", "")?),
            None => None,
        };
        // An empty or blank variable is no token (`GITHUB_TOKEN=` in a .env template), and
        // the line end a CRLF file leaves on a value is not part of it.
        let token = |name| {
            (src.env)(name)
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        };
        let github_token = token("GITHUB_TOKEN").or_else(|| token("GITHUB_PERSONAL_ACCESS_TOKEN"));
        let path = |env: &str| src.text(env).map(|p| cwd.join(p));
        Ok(Config {
            socket: path("IDE_AGENTS_SOCKET").unwrap_or_else(|| default_socket_path(src.env)),
            workers: src.bounded_count(
                "IDE_AGENTS_WORKERS",
                cores.min(MAX_WORKERS),
                MAX_WORKERS,
            )?,
            max_message_bytes: src.count("IDE_AGENTS_MAX_MESSAGE_BYTES", 4 * 1024 * 1024)?,
            page_size: src.count("IDE_AGENTS_PAGE_SIZE", 100)?,
            write_stall: src.seconds("IDE_AGENTS_WRITE_STALL_SECS", 60.0)?,
            // A tiny interval would flood the client.
            progress_interval: src
                .positive_seconds("IDE_AGENTS_PROGRESS_INTERVAL_SECS", 1.0)?
                .max(Duration::from_millis(10)),
            backend_url: src.url("IDE_AGENTS_BACKEND_URL", "http://127.0.0.1:8001")?,
            ultra_enabled: src.flag("IDE_AGENTS_ULTRA_ENABLED", false)?,
            ultra_url,
            pool_max_idle: src.whole("IDE_AGENTS_POOL_MAX_IDLE", 20)?,
            pool_max_connections: src.count("IDE_AGENTS_POOL_MAX_CONNECTIONS", 50)?,
            request_timeout: src.positive_seconds("IDE_AGENTS_REQUEST_TIMEOUT", 30.0)?,
            retry_attempts: src.count("IDE_AGENTS_RETRY_ATTEMPTS", 3)? as u32,
            retry_backoff_base: src.seconds("IDE_AGENTS_RETRY_BACKOFF_BASE", 0.25)?,
            retry_backoff_factor: src.number("IDE_AGENTS_RETRY_BACKOFF_FACTOR", 2.0)?,
            retry_backoff_max: src.seconds("IDE_AGENTS_RETRY_BACKOFF_MAX", 4.0)?,
            // A zero interval would spin the prober.
            health_interval: src
                .positive_seconds("IDE_AGENTS_HEALTH_INTERVAL_SECS", 10.0)?
                .max(Duration::from_millis(100)),
            breaker_fail_threshold: src.count("IDE_AGENTS_BREAKER_FAIL_THRESHOLD", 5)? as u32,
            breaker_reset_timeout: src.seconds("IDE_AGENTS_BREAKER_RESET_TIMEOUT", 20.0)?,
            breaker_half_open_max_calls: src.count("IDE_AGENTS_BREAKER_HALF_OPEN_MAX_CALLS", 1)?
                as u32,
            cache_max_bytes: src.count("IDE_AGENTS_CACHE_MAX_BYTES", 64 * 1024 * 1024)?,
            cache_enabled: src.flag("IDE_AGENTS_CACHE_ENABLED", true)?,
            resource_ttl: src.seconds("IDE_AGENTS_RESOURCE_TTL_SECS", 60.0)?,
            workspace: path("IDE_AGENTS_WORKSPACE").unwrap_or_else(|| cwd.to_path_buf()),
            repo_graph_max_nodes: src.count("IDE_AGENTS_REPO_GRAPH_MAX_NODES", 5000)?,
            build_log: path("IDE_AGENTS_BUILD_LOG"),
            build_log_tail_bytes: src.count("IDE_AGENTS_BUILD_LOG_TAIL_BYTES", 64 * 1024)? as u64,
            kb_dir: path("IDE_AGENTS_KB_DIR"),
            prompts_dir: path("IDE_AGENTS_PROMPTS_DIR"),
            logs_dir: path("MCP_TOOL_SPANS_DIR").unwrap_or_else(|| cwd.join("logs")),
            telemetry_enabled: src.flag("IDE_AGENTS_TELEMETRY_ENABLED", true)?,
            telemetry_batch: src.count("IDE_AGENTS_TELEMETRY_BATCH", 100)?,
            telemetry_flush: src.positive_seconds("IDE_AGENTS_TELEMETRY_FLUSH_SECS", 10.0)?,
            telemetry_max_bytes: src.count("IDE_AGENTS_TELEMETRY_MAX_BYTES", 64 * 1024 * 1024)?
                as u64,
            telemetry_keep: src.count("IDE_AGENTS_TELEMETRY_KEEP", 5)?,
            anomaly_rate_limited: src.count("ANOMALY_THRESHOLD_RATE_LIMITED", 10)? as u64,
            anomaly_approval_requested: src.count("ANOMALY_THRESHOLD_APPROVAL_REQUESTED", 20)?
                as u64,
            anomaly_tool_failure: src.count("ANOMALY_THRESHOLD_TOOL_FAILURE", 15)? as u64,
            rate_per_sec: src.number("IDE_AGENTS_RATE_PER_SEC", 20.0)?,
            // Under one call of burst no call could ever pass.
            rate_burst: src.parse(
                "IDE_AGENTS_RATE_BURST",
                40.0,
                "a number of at least 1",
                |v| v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 1.0),
            )?,
            auto_approve: src
                .text("IDE_AGENTS_AUTO_APPROVE")
                .map(|v| split_list(&v))
                .unwrap_or_default(),
            shutdown_grace: src.seconds("IDE_AGENTS_SHUTDOWN_GRACE_SECS", 10.0)?,
            github_api_url: src.url("IDE_AGENTS_GITHUB_API_URL", "https://api.github.com")?,
            github_token,
        })
    }

    /// Loads from the process environment and the given flag values.
    pub fn from_process(flags: &HashMap<String, String>) -> Result<Config, String> {
        let env = |k: &str| std::env::var(k).ok();
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read working dir: {e}"))?;
        Config::load(&Sources { flags, env: &env }, &cwd)
    }
}

/// The socket path a client uses when none is given: flag, then env, then the default.
pub fn client_socket_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("IDE_AGENTS_SOCKET")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| default_socket_path(&|k| std::env::var(k).ok()))
}

/// `$XDG_RUNTIME_DIR/ide-agents/mcp.sock`, else `/tmp/ide-agents-$UID/mcp.sock`.
pub fn default_socket_path(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("ide-agents").join("mcp.sock"),
        None => {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            PathBuf::from(format!("/tmp/ide-agents-{uid}")).join("mcp.sock")
        }
    }
}

/// A JSON array of strings, or a comma-separated list.
fn split_list(v: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        return list;
    }
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(flags: &[(&str, &str)], env: &[(&str, &str)]) -> Result<Config, String> {
        let flags: HashMap<String, String> = flags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.get(k).cloned();
        Config::load(
            &Sources {
                flags: &flags,
                env: &lookup,
            },
            std::path::Path::new("/work"),
        )
    }

    #[test]
    fn defaults_need_nothing() {
        let c = load(&[], &[("XDG_RUNTIME_DIR", "/run/user/7")]).unwrap();
        assert_eq!(c.socket, PathBuf::from("/run/user/7/ide-agents/mcp.sock"));
        assert_eq!(c.max_message_bytes, 4 * 1024 * 1024);
        assert_eq!(c.backend_url, "http://127.0.0.1:8001");
        assert!(!c.ultra_enabled);
        assert_eq!(c.logs_dir, PathBuf::from("/work/logs"));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.retry_backoff_base, Duration::from_millis(250));
    }

    #[test]
    fn seconds_past_a_year_are_start_up_errors_not_panics() {
        let vars = [
            "IDE_AGENTS_SHUTDOWN_GRACE_SECS",
            "IDE_AGENTS_RETRY_BACKOFF_BASE",
            "IDE_AGENTS_RETRY_BACKOFF_MAX",
            "IDE_AGENTS_BREAKER_RESET_TIMEOUT",
            "IDE_AGENTS_WRITE_STALL_SECS",
            "IDE_AGENTS_RESOURCE_TTL_SECS",
            "IDE_AGENTS_REQUEST_TIMEOUT",
        ];
        for var in vars {
            for huge in ["1e300", "1e19", "31536001", "inf", "nan"] {
                let e = load(&[], &[(var, huge)]).expect_err(var);
                assert!(
                    e.contains(var) && e.contains("31536000"),
                    "{var}={huge}: {e}"
                );
            }
            assert!(load(&[], &[(var, "31536000")]).is_ok(), "{var}");
        }
    }

    #[test]
    fn a_blank_github_token_gives_way_to_the_personal_access_token() {
        let pat = [("GITHUB_PERSONAL_ACCESS_TOKEN", "tok_pat")];
        for blank in ["", "  ", "\r\n"] {
            let c = load(&[], &[("GITHUB_TOKEN", blank), pat[0]]).unwrap();
            assert_eq!(c.github_token.as_deref(), Some("tok_pat"), "{blank:?}");
        }
        let c = load(&[], &[("GITHUB_TOKEN", "tok_main\r\n"), pat[0]]).unwrap();
        assert_eq!(c.github_token.as_deref(), Some("tok_main"));
        assert_eq!(
            load(&[], &[("GITHUB_TOKEN", " ")]).unwrap().github_token,
            None
        );
    }

    #[test]
    fn falls_back_to_tmp_without_runtime_dir() {
        let c = load(&[], &[]).unwrap();
        let s = c.socket.to_string_lossy().into_owned();
        assert!(
            s.starts_with("/tmp/ide-agents-") && s.ends_with("/mcp.sock"),
            "{s}"
        );
    }

    #[test]
    fn booleans_take_every_spelling() {
        for (v, want) in [
            ("1", true),
            ("YES", true),
            ("on", true),
            ("off", false),
            ("0", false),
        ] {
            let c = load(&[], &[("IDE_AGENTS_ULTRA_ENABLED", v)]).unwrap();
            assert_eq!(c.ultra_enabled, want, "{v}");
        }
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let e = load(&[], &[("IDE_AGENTS_ULTRA_ENABLED", "maybe")]).unwrap_err();
        assert!(e.contains("IDE_AGENTS_ULTRA_ENABLED=\"maybe\""), "{e}");
        let e = load(&[], &[("IDE_AGENTS_WORKERS", "0")]).unwrap_err();
        assert!(e.contains("IDE_AGENTS_WORKERS"), "{e}");
        let e = load(&[], &[("IDE_AGENTS_WORKERS", "12000")]).unwrap_err();
        assert!(e.contains("from 1 to 1024"), "{e}");
        for (env, zero) in [
            ("IDE_AGENTS_PROGRESS_INTERVAL_SECS", "0"),
            ("IDE_AGENTS_REQUEST_TIMEOUT", "0"),
            ("IDE_AGENTS_REQUEST_TIMEOUT", "1e-10"),
            ("IDE_AGENTS_REQUEST_TIMEOUT", "1e300"),
            ("IDE_AGENTS_HEALTH_INTERVAL_SECS", "0"),
            ("IDE_AGENTS_TELEMETRY_FLUSH_SECS", "0"),
            ("IDE_AGENTS_RATE_BURST", "0.5"),
        ] {
            let e = load(&[], &[(env, zero)]).unwrap_err();
            assert!(e.contains(env), "{env}: {e}");
        }
        assert_eq!(
            load(&[], &[("IDE_AGENTS_RATE_BURST", "1")])
                .unwrap()
                .rate_burst,
            1.0
        );
        let e = load(&[("IDE_AGENTS_PAGE_SIZE", "x")], &[]).unwrap_err();
        assert!(e.contains("--page-size=\"x\""), "{e}");
        for bad in [
            "localhost:8001",
            "http://",
            "http:// bad host",
            "http://h/?q=1",
            "http://h/#x",
            "ftp://h",
        ] {
            let e = load(&[], &[("IDE_AGENTS_BACKEND_URL", bad)]).unwrap_err();
            assert!(e.contains("IDE_AGENTS_BACKEND_URL"), "{bad}: {e}");
        }
        for good in [
            "http://127.0.0.1:8001",
            "https://api.github.com/",
            "http://h/api/v3",
        ] {
            let c = load(&[], &[("IDE_AGENTS_GITHUB_API_URL", good)]).unwrap();
            assert_eq!(c.github_api_url, good.trim_end_matches('/'));
        }
    }

    #[test]
    fn flags_win_over_environment() {
        let c = load(
            &[("IDE_AGENTS_WORKERS", "3")],
            &[("IDE_AGENTS_WORKERS", "5")],
        )
        .unwrap();
        assert_eq!(c.workers, 3);
    }

    #[test]
    fn relative_paths_are_anchored_and_lists_split() {
        let c = load(
            &[],
            &[
                ("IDE_AGENTS_SOCKET", "run/x.sock"),
                ("IDE_AGENTS_AUTO_APPROVE", "echo , ls -l"),
            ],
        )
        .unwrap();
        assert_eq!(c.socket, PathBuf::from("/work/run/x.sock"));
        assert_eq!(
            c.auto_approve,
            vec!["echo".to_string(), "ls -l".to_string()]
        );
    }

    #[test]
    fn every_setting_has_a_unique_flag() {
        let mut flags: Vec<_> = SETTINGS.iter().map(|s| s.flag).collect();
        flags.sort_unstable();
        let before = flags.len();
        flags.dedup();
        assert_eq!(before, flags.len());
    }
}
