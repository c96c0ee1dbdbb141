//! Reading server-sent events: the `data` of each `message` event, and the `id` and `retry`
//! fields that resuming a stream needs, from a body whose chunks may split anywhere (even
//! between the `\r` and `\n` of one line ending).

use std::time::Duration;

/// An event stream being read. The last event id and the retry delay outlive one connection:
/// a stream reopened with `Last-Event-ID` goes on with the same reader, after
/// [`reconnected`](Self::reconnected).
#[derive(Debug)]
pub(super) struct SseReader {
    /// The line read so far.
    line: Vec<u8>,
    /// The line went over the limit: it is being skipped.
    line_too_long: bool,
    /// The current event's data, one `\n` after each `data:` line.
    data: Vec<u8>,
    /// Whether the current event had a `data:` line at all.
    has_data: bool,
    /// The current event's type (`event:`), empty for the default, `message`.
    kind: Vec<u8>,
    /// The current event went over the limit: it is dropped when it ends.
    too_large: bool,
    /// The last chunk ended with `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// The largest event accepted, in bytes.
    max: usize,
    /// The last event id the server sent (`id:`), to resume from.
    pub(super) last_id: Option<String>,
    /// How long the server asked the client to wait before reconnecting (`retry:`).
    pub(super) retry: Option<Duration>,
}

impl SseReader {
    /// A reader that drops events over `max` bytes.
    pub(super) fn new(max: usize) -> Self {
        Self {
            line: Vec::new(),
            line_too_long: false,
            data: Vec::new(),
            has_data: false,
            kind: Vec::new(),
            too_large: false,
            after_cr: false,
            max,
            last_id: None,
            retry: None,
        }
    }

    /// Forgets a partial event: the connection it came on is gone (an event is dispatched
    /// only at its blank line). The last id and the retry delay stay.
    pub(super) fn reconnected(&mut self) {
        self.line.clear();
        self.line_too_long = false;
        self.end_event();
        self.after_cr = false;
    }

    /// Reads `chunk`, pushing the data of every `message` event it completes onto `out`.
    pub(super) fn feed(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut rest = chunk;
        if std::mem::take(&mut self.after_cr) && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_line_bytes(&rest[..i]);
            let cr = rest[i] == b'\r';
            rest = &rest[i + 1..];
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            if std::mem::take(&mut self.line_too_long) {
                self.too_large = true;
            } else {
                self.field(&line, out);
            }
            // Keep the buffer's room for the next line.
            self.line = line;
            self.line.clear();
        }
        self.push_line_bytes(rest);
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) {
        if self.line_too_long {
            return;
        }
        // `data: ` and the like come before the payload: a little room over the limit.
        if self.line.len() + bytes.len() > self.max + 16 {
            self.line_too_long = true;
            self.line = Vec::new();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    /// One line: a field of the current event, a comment, or the blank line that ends it.
    fn field(&mut self, line: &[u8], out: &mut Vec<Vec<u8>>) {
        if line.is_empty() {
            if self.has_data && !self.too_large && (self.kind.is_empty() || self.kind == b"message") {
                let mut data = std::mem::take(&mut self.data);
                data.pop(); // the `\n` after the last data line
                if !data.is_empty() {
                    out.push(data);
                }
            } else if self.too_large {
                tracing::warn!(
                    limit = self.max,
                    "an event from the MCP server was over the size limit and was dropped"
                );
            }
            self.end_event();
            return;
        }
        if line[0] == b':' {
            return; // a comment: a keep-alive
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.too_large {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.max + 1 {
                    self.too_large = true;
                    self.data = Vec::new();
                    return;
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            b"event" => {
                self.kind.clear();
                self.kind.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.last_id = match std::str::from_utf8(value) {
                    Ok("") | Err(_) => None,
                    Ok(id) => Some(id.to_owned()),
                };
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn end_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.kind.clear();
        self.too_large = false;
    }
}

#[cfg(test)]
mod tests {
    use crate::client::http::sse::SseReader;
    use std::time::Duration;

    fn read(reader: &mut SseReader, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in chunks {
            reader.feed(chunk, &mut out);
        }
        out.into_iter().map(|d| String::from_utf8(d).unwrap()).collect()
    }

    #[test]
    fn events_split_anywhere_read_whole() {
        let stream = b"id: s1-0\nretry: 1000\ndata: \n\n: keep-alive\n\nevent: message\r\ndata: {\"a\":1}\r\n\r\nid: s1-2\ndata: {\"b\":\ndata: 2}\r\r";
        let whole = read(&mut SseReader::new(1024), &[stream]);
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\n2}"]);
        // Every split, including between `\r` and `\n`, reads the same.
        for at in 0..stream.len() {
            let mut reader = SseReader::new(1024);
            assert_eq!(
                read(&mut reader, &[&stream[..at], &stream[at..]]),
                whole,
                "split at {at}"
            );
            assert_eq!(reader.last_id.as_deref(), Some("s1-2"));
            assert_eq!(reader.retry, Some(Duration::from_millis(1000)));
        }
    }

    #[test]
    fn other_events_oversized_events_and_partial_events_are_dropped() {
        let mut reader = SseReader::new(8);
        let out = read(
            &mut reader,
            &[b"event: endpoint\ndata: /x\n\ndata: 0123456789\n\ndata: 01234\ndata: 56789\n\ndata: ok\n\ndata: cut"],
        );
        assert_eq!(out, ["ok"]);
        reader.reconnected();
        assert_eq!(read(&mut reader, &[b"\ndata: next\n\n"]), ["next"]);
    }
}
