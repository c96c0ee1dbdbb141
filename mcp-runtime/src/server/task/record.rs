//! A task as the store keeps it, and as each era shows it on the wire.

use crate::protocol::types::meta_keys;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a task is in its life. `working ⇄ input_required`, then one of the three terminal
/// statuses, which never change again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// The era a task was created in: it decides the task's wire shape and how it asks for input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Era {
    /// 2025-11-25 experimental tasks: `params.task`, `tasks/result`, input asked by requests.
    Handshake,
    /// The `io.modelcontextprotocol/tasks` extension: `tasks/update`, `inputRequests`.
    Stateless,
}

/// What is needed to run the call again from the top, on any replica: the tool, its arguments
/// and what the request said about its client.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Call {
    pub(crate) tool: String,
    pub(crate) arguments: Map<String, Value>,
    pub(crate) version: String,
    pub(crate) capabilities: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<Map<String, Value>>,
    /// A hand-written round's answers and state, when the call became a task after one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input_responses: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) user_state: Option<String>,
}

/// One task, as the store keeps it under `task:{id}`. The replica running it writes it; any
/// replica reads it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) era: Era,
    pub(crate) status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status_message: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    pub(crate) ttl_ms: u64,
    pub(crate) poll_ms: u64,
    /// The input requests the task waits for, by key, as its runner last saw them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) input_requests: Map<String, Value>,
    /// `completed`: the tool's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<Value>,
    /// `failed`: the JSON-RPC error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<Value>,
    /// The principal the task is bound to, when the transport verified one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<String>,
    /// The replica running it.
    pub(crate) runner: String,
    pub(crate) call: Call,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Record {
    /// When the task may be forgotten, in milliseconds since the epoch.
    pub(crate) fn expires_ms(&self) -> u64 {
        self.created_ms.saturating_add(self.ttl_ms)
    }

    /// The `Task` fields both eras share, and the era's names for the rest.
    fn task_fields(&self) -> Map<String, Value> {
        let mut task = Map::new();
        task.insert("taskId".into(), json!(self.id));
        task.insert("status".into(), json!(self.status));
        if let Some(m) = &self.status_message {
            task.insert("statusMessage".into(), json!(m));
        }
        task.insert("createdAt".into(), json!(iso8601(self.created_ms)));
        task.insert("lastUpdatedAt".into(), json!(iso8601(self.updated_ms)));
        match self.era {
            Era::Stateless => {
                task.insert("ttlMs".into(), json!(self.ttl_ms));
                task.insert("pollIntervalMs".into(), json!(self.poll_ms));
            }
            Era::Handshake => {
                task.insert("ttl".into(), json!(self.ttl_ms));
                task.insert("pollInterval".into(), json!(self.poll_ms));
            }
        }
        task
    }

    /// The `Task` object: the stateless era's `CreateTaskResult` fields, or the handshake
    /// era's `task`, its `tasks/get` and `tasks/list` entries and its status notifications.
    pub(crate) fn task(&self) -> Map<String, Value> {
        self.task_fields()
    }

    /// The stateless era's `DetailedTask`: the task, with its result, error or input requests.
    /// `answered` are keys the client answered that the runner may not have seen yet.
    pub(crate) fn detailed(&self, answered: &dyn Fn(&str) -> bool) -> Map<String, Value> {
        let mut task = self.task_fields();
        match self.status {
            Status::Completed => {
                if let Some(r) = &self.result {
                    task.insert("result".into(), r.clone());
                }
            }
            Status::Failed => {
                if let Some(e) = &self.error {
                    task.insert("error".into(), e.clone());
                }
            }
            Status::InputRequired => {
                let pending: Map<String, Value> = self
                    .input_requests
                    .iter()
                    .filter(|(k, _)| !answered(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if pending.is_empty() {
                    // Everything asked is answered: the runner is about to go on.
                    task.insert("status".into(), json!(Status::Working));
                } else {
                    task.insert("inputRequests".into(), Value::Object(pending));
                }
            }
            Status::Working | Status::Cancelled => {}
        }
        task
    }

    /// `_meta` naming this task, for the handshake era's messages about it.
    pub(crate) fn related_meta(&self) -> Value {
        json!({ meta_keys::RELATED_TASK: { "taskId": self.id } })
    }
}

/// `ms` since the Unix epoch as an ISO 8601 UTC timestamp with milliseconds.
pub(crate) fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_796_083_199_999), "2026-11-30T23:59:59.999Z");
    }
}
