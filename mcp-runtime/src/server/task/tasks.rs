//! The tasks of a server: their records and inboxes in the [`Store`], the ones running here,
//! and how a replica reaches the one running a task.
//!
//! Keys (each expires with its task):
//! - `task:{id}`: the [`Record`], written by the replica running the task;
//! - `task:{id}:inbox`: what clients sent the task (answers, a cancellation), from any replica;
//!   the runner reads it when woken, and a replica that adopts the task replays from it;
//! - `replica:{name}`: a replica's lease, renewed while it runs tasks (shared stores only);
//! - channel `tasks:{name}`: wakes a task's runner on its own replica.

use super::record::{Record, Status, now_ms};
use crate::server::engine::seal::{hex, random};
use crate::server::store::{Store, StoreError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::Notify;

/// How tasks are kept, set on the [`Server`](crate::Server).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskOptions {
    /// How long a task is kept after it is created, unless the client asks for less.
    pub(crate) ttl: Duration,
    /// The longest a client may ask a task to be kept (2025-11-25 `params.task.ttl`).
    pub(crate) max_ttl: Duration,
    /// How often clients are told to poll.
    pub(crate) poll: Duration,
    /// How long a replica's lease lasts without renewal: a task whose replica has not renewed
    /// it for this long is picked up by another.
    pub(crate) lease: Duration,
    /// Tasks running on one replica at once; more are refused.
    pub(crate) max_running: usize,
}

impl Default for TaskOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(24 * 3600),
            poll: Duration::from_millis(500),
            lease: Duration::from_secs(6),
            max_running: 100_000,
        }
    }
}

/// Events a task's inbox holds: answers to its input requests, or its cancellation.
pub(crate) const INBOX_KEEP: usize = 1024;

/// A task running on this replica: how its runner is reached.
pub(crate) struct Running {
    pub(crate) id: String,
    /// Its inbox has something new.
    pub(crate) wake: Notify,
    /// What `tasks/get` shows changed here (a status message, a request to the client).
    pub(crate) changed: Notify,
    /// The task ended.
    pub(crate) done: Notify,
    pub(crate) status_message: Mutex<Option<String>>,
    /// Handshake era: requests sent to the client and not yet answered.
    pub(crate) asking: AtomicUsize,
    /// Handshake era: `tasks/result` requests waiting on this replica, whose streams can carry
    /// the task's requests to the client.
    pub(crate) waiting: Mutex<Vec<crate::protocol::RequestId>>,
    /// A `tasks/result` started waiting.
    pub(crate) waiter: Notify,
}

impl Running {
    pub(crate) fn new(id: String) -> Self {
        Self {
            id,
            wake: Notify::new(),
            changed: Notify::new(),
            done: Notify::new(),
            status_message: Mutex::new(None),
            asking: AtomicUsize::new(0),
            waiting: Mutex::new(Vec::new()),
            waiter: Notify::new(),
        }
    }

    /// Sets the status message `tasks/get` shows (from `ctx.progress`).
    pub(crate) fn set_message(&self, message: String) {
        *self.status_message.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
        self.changed.notify_one();
    }

    pub(crate) fn message(&self) -> Option<String> {
        self.status_message
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Who is told when a task changes (a connection: the handshake-era one that created the task,
/// or one whose `subscriptions/listen` names it). Held weakly: a watcher that is gone is forgotten.
pub(crate) trait Watcher: Send + Sync {
    /// Task `record` was saved with a change.
    fn task_changed(&self, record: &Record);
}

/// The tasks of one server.
pub(crate) struct Tasks {
    pub(crate) store: Arc<dyn Store>,
    /// This replica's name in the records of the tasks it runs.
    pub(crate) replica: String,
    pub(crate) options: TaskOptions,
    running: Mutex<HashMap<String, Arc<Running>>>,
    /// The lease and the inbox listener of a replica sharing its store, once it runs a task.
    fleet_started: OnceLock<()>,
    /// The lease was written once: before this replica's first task is, so that no other
    /// replica takes a task for orphaned in the moment between.
    leased: tokio::sync::OnceCell<()>,
    /// Connections here to tell when a task changes: the handshake-era one that created it,
    /// and the `subscriptions/listen` requests that name it. Only they are told: a save costs
    /// nothing for connections that do not care.
    watchers: Mutex<HashMap<String, Vec<Weak<dyn Watcher>>>>,
}

impl Tasks {
    pub(crate) fn new(store: Arc<dyn Store>, options: TaskOptions) -> Self {
        Self {
            store,
            replica: hex(&random::<8>()),
            options,
            running: Mutex::new(HashMap::new()),
            fleet_started: OnceLock::new(),
            leased: tokio::sync::OnceCell::new(),
            watchers: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh task id: 128 random bits, so nobody guesses another's.
    pub(crate) fn new_id() -> String {
        hex(&random::<16>())
    }

    fn record_key(id: &str) -> String {
        format!("task:{id}")
    }

    fn inbox_key(id: &str) -> String {
        format!("task:{id}:inbox")
    }

    fn lease_key(replica: &str) -> String {
        format!("replica:{replica}")
    }

    fn channel(replica: &str) -> String {
        format!("tasks:{replica}")
    }

    /// How long the store keeps a task's keys from now.
    fn keep_for(record: &Record) -> Duration {
        Duration::from_millis(record.expires_ms().saturating_sub(now_ms()).max(1000))
    }

    /// Runs here from now on: registers the task's handle (and, with a shared store, keeps
    /// this replica's lease and listens for its tasks' inboxes).
    pub(crate) fn register(self: &Arc<Self>, id: &str, running: Arc<Running>) -> Result<(), String> {
        {
            let mut map = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            if map.len() >= self.options.max_running {
                return Err(format!(
                    "this server runs {} tasks already, its limit; try again later",
                    map.len()
                ));
            }
            map.insert(id.to_owned(), running);
        }
        if self.store.is_shared() {
            self.fleet_started.get_or_init(|| self.start_fleet());
        }
        Ok(())
    }

    /// The task ends here.
    pub(crate) fn unregister(&self, id: &str) {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    pub(crate) fn local(&self, id: &str) -> Option<Arc<Running>> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    /// How many tasks run here now.
    #[allow(dead_code)] // read by tests and the benchmark's memory figures
    pub(crate) fn running_count(&self) -> usize {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Keeps this replica's lease while it lives, and wakes its tasks when another replica
    /// posts to their inboxes.
    fn start_fleet(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        let store = Arc::clone(&self.store);
        let key = Self::lease_key(&self.replica);
        let lease = self.options.lease;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lease / 3);
            loop {
                tick.tick().await;
                if weak.strong_count() == 0 {
                    let _ = store.delete(key).await;
                    return;
                }
                if let Err(e) = store.put(key.clone(), b"1".to_vec(), lease).await {
                    tracing::warn!(error = %e, "could not renew this replica's task lease");
                }
            }
        });
        let mut inbox = self.store.subscribe(Self::channel(&self.replica));
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(message) = inbox.recv().await {
                let Some(tasks) = weak.upgrade() else { return };
                if let Ok(id) = std::str::from_utf8(&message)
                    && let Some(running) = tasks.local(id)
                {
                    running.wake.notify_one();
                }
            }
        });
    }

    /// Whether the replica running `record` still does: this one if the task is registered
    /// here; another while its lease lasts.
    pub(crate) async fn runner_alive(&self, record: &Record) -> Result<bool, StoreError> {
        if record.runner == self.replica {
            return Ok(self.local(&record.id).is_some());
        }
        if !self.store.is_shared() {
            return Ok(false);
        }
        Ok(self.store.get(Self::lease_key(&record.runner)).await?.is_some())
    }

    /// Claims the right to pick up `record`'s task after its runner stopped: one replica wins.
    pub(crate) async fn claim_adoption(&self, record: &Record) -> Result<bool, StoreError> {
        let key = format!("task:{}:adopt:{}:{}", record.id, record.runner, record.updated_ms);
        self.store.claim_once(key, record.expires_ms() / 1000 + 1).await
    }

    /// Writes the record (stamped now) and tells subscribers. With a shared store, this
    /// replica's lease is in the store first.
    pub(crate) async fn save(&self, record: &mut Record) -> Result<(), StoreError> {
        if self.store.is_shared() {
            self.leased
                .get_or_try_init(|| {
                    self.store
                        .put(Self::lease_key(&self.replica), b"1".to_vec(), self.options.lease)
                })
                .await?;
        }
        record.updated_ms = now_ms().max(record.updated_ms);
        let bytes = serde_json::to_vec(record).expect("task records serialise");
        self.store
            .put(Self::record_key(&record.id), bytes, Self::keep_for(record))
            .await?;
        self.tell(record);
        Ok(())
    }

    /// The task `id`, if it exists, has not expired, and belongs to `owner`. Another
    /// principal's task is "not found", as if it did not exist.
    pub(crate) async fn load(&self, id: &str, owner: Option<&str>) -> Result<Option<Record>, StoreError> {
        Ok(self.fetch(id).await?.filter(|r| r.owner.as_deref() == owner))
    }

    /// The task `id`, whoever owns it, unless it is absent or expired.
    pub(crate) async fn fetch(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let Some(bytes) = self.store.get(Self::record_key(id)).await? else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_slice::<Record>(&bytes) else {
            tracing::warn!(
                task = id,
                "a task record in the store does not decode; treated as absent"
            );
            return Ok(None);
        };
        Ok(Some(record).filter(|r| r.expires_ms() > now_ms()))
    }

    /// Tells `watcher` of each change of task `id` saved here, from now until it ends.
    pub(crate) fn watch<W: Watcher + 'static>(&self, id: &str, watcher: &Arc<W>) {
        let watcher: Weak<W> = Arc::downgrade(watcher);
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id.to_owned())
            .or_default()
            .push(watcher);
    }

    /// Tells the connections watching `record`'s task that it changed; forgets them once it
    /// ended.
    fn tell(&self, record: &Record) {
        let watching: Vec<Arc<dyn Watcher>> = {
            let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(list) = watchers.get_mut(&record.id) else {
                return;
            };
            list.retain(|w| w.strong_count() > 0);
            let live = list.iter().filter_map(Weak::upgrade).collect();
            if record.status.is_terminal() || list.is_empty() {
                watchers.remove(&record.id);
            }
            live
        };
        for watcher in watching {
            watcher.task_changed(record);
        }
    }

    /// Forgets who watches task `id` (it ended or expired).
    pub(crate) fn unwatch(&self, id: &str) {
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// Everything posted to the task's inbox: answers merged by key (first answer wins), and
    /// whether it was cancelled.
    pub(crate) async fn inbox(&self, id: &str) -> Result<Inbox, StoreError> {
        let events = self.store.read_after(Self::inbox_key(id), 0).await?;
        let mut inbox = Inbox::default();
        for (_, bytes) in events {
            let Ok(Value::Object(mut event)) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if event.get("cancel").and_then(Value::as_bool) == Some(true) {
                inbox.cancelled = true;
            }
            if let Some(Value::Object(answers)) = event.remove("answers") {
                for (k, v) in answers {
                    inbox.answers.entry(k).or_insert(v);
                }
            }
        }
        Ok(inbox)
    }

    /// Posts `event` to the task's inbox and wakes its runner, wherever it runs.
    pub(crate) async fn post(&self, record: &Record, event: &Value) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(event).expect("serialises");
        let seq = now_ms();
        self.store
            .append(
                Self::inbox_key(&record.id),
                seq,
                bytes,
                INBOX_KEEP,
                Self::keep_for(record),
            )
            .await?;
        if let Some(running) = self.local(&record.id) {
            running.wake.notify_one();
        } else if self.store.is_shared() {
            self.store
                .publish(Self::channel(&record.runner), record.id.clone().into_bytes())
                .await?;
        }
        Ok(())
    }

    /// Posts answers to the task's inbox.
    pub(crate) async fn answer(&self, record: &Record, answers: Map<String, Value>) -> Result<(), StoreError> {
        self.post(record, &json!({ "answers": answers })).await
    }

    /// Posts the task's cancellation.
    pub(crate) async fn cancel(&self, record: &Record) -> Result<(), StoreError> {
        self.post(record, &json!({ "cancel": true })).await
    }

    /// Ends a task nobody runs any more, with `status` (and `error` if it failed).
    pub(crate) async fn settle(
        &self,
        record: &mut Record,
        status: Status,
        error: Option<Value>,
    ) -> Result<(), StoreError> {
        record.status = status;
        record.error = error;
        record.input_requests.clear();
        record.runner = self.replica.clone();
        self.save(record).await
    }
}

/// What clients sent a task.
#[derive(Default, Debug)]
pub(crate) struct Inbox {
    pub(crate) answers: Map<String, Value>,
    pub(crate) cancelled: bool,
}
