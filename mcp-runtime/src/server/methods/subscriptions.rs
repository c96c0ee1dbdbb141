//! Subscriptions in both eras: `resources/subscribe` and `resources/unsubscribe` on a
//! handshake-era connection, `subscriptions/listen` in the stateless era, and the fan-out of
//! server events to both.

use crate::protocol::jsonrpc::{self, encode_result};
use crate::protocol::params::{ListenParams, SubscribeParams};
use crate::protocol::types::meta_keys;
use crate::protocol::{Method, RequestId};
use crate::server::connection::{Connection, Listen};
use crate::server::events::{Event, ListKind};
use crate::server::peer::Peer;
use crate::server::task::record::{Era, Record};
use crate::server::task::tasks::Watcher;
use serde_json::{Map, Value, json};
use std::sync::{Arc, PoisonError};

impl Connection {
    pub(crate) fn subscribe(&self, id: &RequestId, on: bool, params: SubscribeParams) -> Vec<u8> {
        let mut subs = self.subscriptions.lock().unwrap_or_else(PoisonError::into_inner);
        if on {
            subs.insert(params.uri);
        } else {
            subs.remove(&params.uri);
        }
        encode_result(id, b"{}")
    }

    /// `subscriptions/listen` (stateless era): acknowledge what is honoured, then stream it.
    pub(crate) fn listen(self: &Arc<Self>, id: &RequestId, params: ListenParams) -> Vec<u8> {
        let capabilities = &self.core.capabilities;
        let mut honoured = Map::new();
        let mut listen = Listen::default();
        for kind in ListKind::ALL {
            let (asked, offered) = match kind {
                ListKind::Tools => (params.tools_list_changed, capabilities.tools.is_some()),
                ListKind::Prompts => (params.prompts_list_changed, capabilities.prompts.is_some()),
                ListKind::Resources => (params.resources_list_changed, capabilities.resources.is_some()),
            };
            if asked && offered {
                honoured.insert(kind.listen_flag().into(), json!(true));
                listen.lists.push(kind);
            }
        }
        if capabilities.resources.is_some() {
            listen.uris = params.resource_subscriptions;
            if !listen.uris.is_empty() {
                honoured.insert("resourceSubscriptions".into(), json!(listen.uris));
            }
        }
        if capabilities.tasks.is_some() && !params.task_ids.is_empty() {
            honoured.insert("taskIds".into(), json!(params.task_ids));
            for task in &params.task_ids {
                self.core.tasks.watch(task, self);
            }
            self.follow_tasks(id.clone(), params.task_ids.clone());
            listen.tasks = params.task_ids;
        }
        self.listens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), listen);
        let params = json!({
            "notifications": honoured,
            "_meta": { meta_keys::SUBSCRIPTION_ID: id },
        });
        jsonrpc::encode_notification(Method::SubscriptionsAcknowledged.as_str(), &params)
    }

    /// The open `subscriptions/listen` requests that want an event.
    fn listeners(&self, wants: impl Fn(&Listen) -> bool) -> Vec<RequestId> {
        let listens = self.listens.lock().unwrap_or_else(PoisonError::into_inner);
        listens
            .iter()
            .filter(|(_, l)| wants(l))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// For a `subscriptions/listen` naming tasks: once its acknowledgement is out (it is written
    /// as soon as `listen` returns), the current state of each task, so that a change made
    /// before the listen is not missed. With a shared store, the tasks another replica runs are
    /// then followed at their poll interval, while the listen lasts and they run.
    fn follow_tasks(self: &Arc<Self>, listener: RequestId, ids: Vec<String>) {
        let conn = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
            loop {
                let Some(conn) = conn.upgrade() else { return };
                let listening = conn
                    .listens
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains_key(&listener);
                if !listening {
                    return;
                }
                let tasks = &conn.core.tasks;
                let mut poll = None;
                for id in &ids {
                    let Ok(Some(record)) = tasks.fetch(id).await else {
                        continue;
                    };
                    if seen.get(id) != Some(&record.updated_ms) {
                        seen.insert(id.clone(), record.updated_ms);
                        conn.task_changed(&record);
                    }
                    let remote = record.runner != tasks.replica && tasks.store.is_shared();
                    if remote && !record.status.is_terminal() {
                        poll = Some(std::time::Duration::from_millis(record.poll_ms.max(50)));
                    }
                }
                let Some(poll) = poll else { return };
                drop(conn);
                tokio::time::sleep(poll).await;
            }
        });
    }

    /// Forwards server events to this connection's subscribers until the task is aborted.
    pub(crate) async fn forward_events(self: Arc<Self>) {
        let mut rx = self.core.events.subscribe();
        let updated = Method::ResourceUpdated.as_str();
        loop {
            match rx.recv().await.map(Event::local) {
                Ok(Event::ResourceUpdated(uri)) => {
                    if self
                        .subscriptions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .contains(&uri)
                    {
                        let params = json!({ "uri": uri });
                        self.link.notify(jsonrpc::encode_notification(updated, &params), None);
                    }
                    for listener in self.listeners(|l| l.uris.contains(&uri)) {
                        let params = json!({ "uri": uri, "_meta": { meta_keys::SUBSCRIPTION_ID: listener } });
                        self.link
                            .notify(jsonrpc::encode_notification(updated, &params), Some(&listener));
                    }
                }
                Ok(Event::ListChanged(kind)) => {
                    let method = kind.notification().as_str();
                    if self.session.get().is_some() {
                        self.link.notify(jsonrpc::encode_notification(method, &json!({})), None);
                    }
                    for listener in self.listeners(|l| l.lists.contains(&kind)) {
                        let params = json!({ "_meta": { meta_keys::SUBSCRIPTION_ID: listener } });
                        self.link
                            .notify(jsonrpc::encode_notification(method, &params), Some(&listener));
                    }
                }
                Ok(Event::FromPeer(_)) => {} // unwrapped by `Event::local`
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

impl Watcher for Connection {
    /// Tells this connection's client that a task of its own changed: `notifications/tasks` on
    /// the `subscriptions/listen` requests that follow it (stateless era), or
    /// `notifications/tasks/status` to the handshake-era connection that created it.
    fn task_changed(&self, record: &Record) {
        if record.owner != self.task_owner(record.era) {
            return;
        }
        match record.era {
            Era::Stateless => {
                for listener in self.listeners(|l| l.tasks.contains(&record.id)) {
                    let mut params = record.detailed(&|_| false);
                    params.insert("_meta".into(), json!({ meta_keys::SUBSCRIPTION_ID: listener }));
                    let method = Method::TaskNotification.as_str();
                    self.link.notify(
                        jsonrpc::encode_notification(method, &Value::Object(params)),
                        Some(&listener),
                    );
                }
            }
            Era::Handshake => {
                if self.session.get().is_some()
                    && self
                        .tasks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .contains(&record.id)
                {
                    let params = Value::Object(record.task());
                    let method = Method::TaskStatus.as_str();
                    self.link.notify(jsonrpc::encode_notification(method, &params), None);
                }
            }
        }
    }
}
