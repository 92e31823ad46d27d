//! A worker's tool-group actors. Core, GitHub and ULTRA (when enabled) start with the worker; ML starts on
//! the worker's first need of it — its first ML tool call, or a `tools/list` page that
//! shows ML tools — and at most once per worker (the router's thread is the only one that
//! asks, so a `OnceCell` is enough). Sessions of the worker then get
//! `notifications/tools/list_changed`.

use super::backend_pool::BackendPool;
use super::router::Router;
use super::session::Notify;
use super::telemetry::AuditLog;
use super::tool_group::{RunTool, ToolGroupActor};
use crate::shared::Shared;
use crate::tools::GroupId;
use crate::tools::core::CoreTools;
use crate::tools::github::GithubTools;
use crate::tools::ml::MlTools;
use crate::tools::ultra::UltraTools;
use actix::{Actor, Addr, Context, Handler, Message, Recipient};
use serde_json::json;
use std::cell::OnceCell;
// foldhash: these maps are read on every request, and SipHash was a visible share of it.
use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Default)]
pub struct Groups {
    started: HashMap<GroupId, Recipient<RunTool>>,
    /// Present when the catalog lists ML tools.
    ml: Option<LazyGroup>,
}

/// What starting the ML group needs, and the actor once started.
struct LazyGroup {
    shared: Arc<Shared>,
    pool: Addr<BackendPool>,
    router: Addr<Router>,
    actor: OnceCell<Recipient<RunTool>>,
}

impl Groups {
    /// Starts the worker's pool and eager groups; call from the router's `started`, so they
    /// live on the router's thread.
    pub fn start(
        shared: &Arc<Shared>,
        index: usize,
        router: Addr<Router>,
        audit: Option<AuditLog>,
    ) -> Groups {
        let pool = BackendPool::new(shared.clone(), index == 0).start();
        let mut started = HashMap::new();
        let core = ToolGroupActor::new(CoreTools::new(shared.clone(), pool.clone(), audit)).start();
        started.insert(GroupId::Core, core.recipient());
        let github = ToolGroupActor::new(GithubTools::new(shared.clone(), pool.clone())).start();
        started.insert(GroupId::Github, github.recipient());
        if shared.catalog.has_group(GroupId::Ultra) {
            let ultra = ToolGroupActor::new(UltraTools::new(pool.clone())).start();
            started.insert(GroupId::Ultra, ultra.recipient());
        }
        let ml = shared.catalog.has_group(GroupId::Ml).then(|| LazyGroup {
            shared: shared.clone(),
            pool,
            router,
            actor: OnceCell::new(),
        });
        Groups { started, ml }
    }

    /// The actor running `group` on this worker, starting ML on first need.
    pub fn get(&self, group: &GroupId) -> Option<&Recipient<RunTool>> {
        match group {
            GroupId::Ml => self.ml.as_ref().map(LazyGroup::get),
            other => self.started.get(other),
        }
    }

    /// A `tools/list` page showing tools of `groups` is about to be answered.
    pub fn listed(&self, groups: &[GroupId]) {
        if groups.contains(&GroupId::Ml) {
            self.get(&GroupId::Ml);
        }
    }
}

impl LazyGroup {
    fn get(&self) -> &Recipient<RunTool> {
        self.actor.get_or_init(|| {
            let begun = Instant::now();
            let actor = ToolGroupActor::new(MlTools::new(self.pool.clone())).start();
            let cost = begun.elapsed().as_nanos() as u64;
            let shared = &self.shared;
            shared.ml_start_ns.store(cost, Ordering::Relaxed);
            shared.ml_starts.fetch_add(1, Ordering::Relaxed);
            shared.ml_loaded.store(true, Ordering::Relaxed);
            log::info!("ml tool group started ({} µs)", cost / 1000);
            self.router.do_send(GroupStarted(GroupId::Ml));
            actor.recipient()
        })
    }
}

/// A lazy group started on this worker: its sessions' tool list changed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GroupStarted(pub GroupId);

impl Handler<GroupStarted> for Router {
    type Result = ();

    fn handle(&mut self, msg: GroupStarted, _ctx: &mut Context<Self>) {
        log::debug!(
            "{} group started; telling this worker's sessions",
            msg.0.as_str()
        );
        for session in self.sessions.all() {
            session.do_send(Notify {
                method: "notifications/tools/list_changed",
                params: json!({}),
            });
        }
    }
}
