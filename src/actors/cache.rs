//! The cache actor: the background half of the cache. It lives on the main thread and
//! never sits on a request's path: it expires entries, and polls the files behind
//! subscribed resources, invalidating their cached value early and sending
//! `notifications/resources/updated` to every subscribed session when one changes. It also
//! polls the kb directory, and when snippets come or go every worker tells its sessions
//! (`notifications/resources/list_changed`, which the capabilities offer to all).
//!
//! Change detection is a `stat` per subscribed resource per poll (mtime, length, inode):
//! no watcher thread, no inotify limits, and at one poll a second the cost is a few
//! microseconds. Reads compare the same fingerprint on their own, so a read is fresh even
//! between polls.

use super::router::Router;
use super::session::Notify;
use crate::cache::Kind;
use crate::resources::{self, Target};
use crate::shared::Shared;
use actix::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How often subscribed resources are checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Expired entries are swept every this many polls (the sweep takes each shard's lock).
const PURGE_EVERY: u32 = 10;

struct Watched {
    target: Target,
    fingerprint: Value,
    /// Each subscriber, with the URIs as it wrote them (`…/intro.md` and `…/intro` name one
    /// snippet): a client is told about each URI it subscribed to.
    sessions: HashMap<u64, (Recipient<Notify>, BTreeSet<String>)>,
}

pub struct CacheActor {
    shared: Arc<Shared>,
    /// By URI, so notifications go out in a stable order.
    watched: BTreeMap<String, Watched>,
    /// The kb directory's fingerprint: when it changes, snippets were added or removed.
    kb_dir: Value,
    /// Every worker's router, to tell its sessions the list changed.
    routers: Vec<Addr<Router>>,
    polls: u32,
}

impl CacheActor {
    pub fn new(shared: Arc<Shared>, routers: Vec<Addr<Router>>) -> Self {
        let kb_dir = resources::fingerprint(&shared.config, &Target::KbIndex).unwrap_or_default();
        CacheActor {
            shared,
            watched: BTreeMap::new(),
            kb_dir,
            routers,
            polls: 0,
        }
    }

    fn poll(&mut self) {
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(PURGE_EVERY) {
            self.shared.cache.purge_expired();
        }
        let config = &self.shared.config;
        let cache = &self.shared.cache;
        self.watched.retain(|uri, w| {
            // Sessions that closed are dropped here rather than told on their way out.
            w.sessions.retain(|_, (r, _)| r.connected());
            if w.sessions.is_empty() {
                return false;
            }
            let now = resources::fingerprint(config, &w.target).unwrap_or(Value::Null);
            if now != w.fingerprint {
                w.fingerprint = now;
                cache.invalidate(Kind::Resource, uri);
                log::debug!(
                    "resource {uri} changed; telling {} session(s)",
                    w.sessions.len()
                );
                for (r, spellings) in w.sessions.values() {
                    for uri in spellings {
                        r.do_send(Notify {
                            method: "notifications/resources/updated",
                            params: json!({"uri": uri}),
                        });
                    }
                }
            }
            true
        });
        self.poll_list();
    }

    /// Tells every session when the resource list changed (a snippet was added or removed).
    fn poll_list(&mut self) {
        let now = resources::fingerprint(&self.shared.config, &Target::KbIndex).unwrap_or_default();
        if now == self.kb_dir {
            return;
        }
        self.kb_dir = now;
        for router in &self.routers {
            router.do_send(ResourceListChanged);
        }
    }
}

/// Snippets were added or removed: the router tells its worker's sessions.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ResourceListChanged;

impl Handler<ResourceListChanged> for Router {
    type Result = ();

    fn handle(&mut self, _: ResourceListChanged, _ctx: &mut Context<Self>) {
        for session in self.sessions.all() {
            session.do_send(Notify {
                method: "notifications/resources/list_changed",
                params: json!({}),
            });
        }
    }
}

impl Actor for CacheActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(POLL_INTERVAL, |act, _| act.poll());
    }
}

/// A session subscribes to a resource; `fingerprint` is the source's state when the
/// subscription was answered, so a change made right after is still noticed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub session: u64,
    /// As the client wrote it.
    pub uri: String,
    pub target: Target,
    pub fingerprint: Value,
    pub notify: Recipient<Notify>,
}

impl Handler<Subscribe> for CacheActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) {
        let watched = self
            .watched
            .entry(msg.target.uri())
            .or_insert_with(|| Watched {
                target: msg.target,
                fingerprint: msg.fingerprint,
                sessions: HashMap::new(),
            });
        let (_, spellings) = watched
            .sessions
            .entry(msg.session)
            .or_insert_with(|| (msg.notify, BTreeSet::new()));
        spellings.insert(msg.uri);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session: u64,
    /// The resource's own URI (`Target::uri`), whichever spelling the client used.
    pub uri: String,
}

/// Unsubscribing under any spelling ends the session's subscription to the resource.
impl Handler<Unsubscribe> for CacheActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Context<Self>) {
        if let Some(w) = self.watched.get_mut(&msg.uri) {
            w.sessions.remove(&msg.session);
            if w.sessions.is_empty() {
                self.watched.remove(&msg.uri);
            }
        }
    }
}
