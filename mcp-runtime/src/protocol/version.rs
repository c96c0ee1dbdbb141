//! Protocol revisions and which era each belongs to.

use std::fmt;

/// A revision of the Model Context Protocol this runtime speaks.
///
/// Revisions up to [`V2025_11_25`](ProtocolVersion::V2025_11_25) belong to the *handshake era*
/// (`initialize` negotiates a version and capabilities for the connection); from
/// [`V2026_07_28`](ProtocolVersion::V2026_07_28) on, the protocol is *stateless*: every request
/// names its version and the client's capabilities in `params._meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// `2024-11-05`, the first published revision (HTTP+SSE transport).
    V2024_11_05,
    /// `2025-03-26`: Streamable HTTP, JSON-RPC batches, tool annotations.
    V2025_03_26,
    /// `2025-06-18`: structured tool output, elicitation; batches removed.
    V2025_06_18,
    /// `2025-11-25`: icons, URL elicitation, sampling with tools; the last handshake revision.
    V2025_11_25,
    /// `2026-07-28`: stateless requests, `server/discover`, multi round-trip requests.
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every revision this runtime speaks, newest first.
    pub const ALL: &'static [ProtocolVersion] = &[
        Self::V2026_07_28,
        Self::V2025_11_25,
        Self::V2025_06_18,
        Self::V2025_03_26,
        Self::V2024_11_05,
    ];

    /// The revisions served statelessly (per-request `_meta`), newest first.
    pub const STATELESS: &'static [ProtocolVersion] = &[Self::V2026_07_28];

    /// The newest revision overall.
    pub const LATEST: ProtocolVersion = Self::V2026_07_28;

    /// The newest handshake-era revision: what `initialize` answers when the client asks for a
    /// version this runtime does not know.
    pub const LATEST_HANDSHAKE: ProtocolVersion = Self::V2025_11_25;

    /// The revision's wire name, such as `"2025-11-25"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Parses a wire name; `None` for a revision this runtime does not speak.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// Whether this revision is served statelessly (no `initialize`, per-request `_meta`).
    pub const fn is_stateless(self) -> bool {
        matches!(self, Self::V2026_07_28)
    }

    /// Whether `structuredContent` and `outputSchema` exist in this revision.
    pub const fn has_structured_output(self) -> bool {
        !matches!(self, Self::V2024_11_05 | Self::V2025_03_26)
    }

    /// Whether JSON-RPC batches (arrays of messages) are part of this revision.
    pub const fn allows_batches(self) -> bool {
        matches!(self, Self::V2025_03_26)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ProtocolVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_name_and_orders_by_date() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(*v));
        }
        assert!(ProtocolVersion::V2024_11_05 < ProtocolVersion::V2026_07_28);
        assert_eq!(ProtocolVersion::parse("2099-01-01"), None);
        assert!(ProtocolVersion::LATEST.is_stateless());
        assert!(!ProtocolVersion::LATEST_HANDSHAKE.is_stateless());
    }
}
