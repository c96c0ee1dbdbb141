//! Sealed `requestState`: integrity-protected, expiring, bound to one request, used once.
//!
//! The protocol treats `requestState` as attacker-controlled. Ours is
//! `base64(payload) "." base64(HMAC-SHA256(key, payload))`, where the payload names the parked
//! continuation, carries the answers given so far (so any replica holding the key can replay
//! the handler), an expiry, a digest of the method and parameters it belongs to, and a nonce
//! that is accepted once.
//!
//! The payload is binary ([`Payload::to_bytes`]): every call of the stateless era that asks
//! the client seals one and opens one, and JSON cost half again as many bytes to hash and
//! encode, and a parse. Since version 3 its ids are bytes, not hex. A payload of version 2 (ids
//! as text) or 1 (JSON) still opens, so that a state sealed by an older replica of a fleet is
//! good on a newer one.

use crate::protocol::base64;
use crate::protocol::params::InputResponses;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = hmac::Hmac<Sha256>;

/// What a sealed state says.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// Format version.
    #[serde(rename = "v")]
    pub(crate) version: u8,
    /// Expiry, in seconds since the Unix epoch.
    #[serde(rename = "x")]
    pub(crate) expires: u64,
    /// Digest of the method and parameters this state belongs to.
    #[serde(rename = "d")]
    pub(crate) digest: Digest,
    /// Accepted once.
    #[serde(rename = "n")]
    pub(crate) nonce: String,
    /// The parked continuation, if the server keeps one.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub(crate) continuation: Option<Continuation>,
    /// Every answer given so far, by input-request key (for replay).
    #[serde(rename = "a", default, skip_serializing_if = "InputResponses::is_empty")]
    pub(crate) answers: InputResponses,
    /// State a handler returned by hand with an `InputRequired`.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
}

/// The name a suspended call is parked under: one of this process's unique ids, as its 128
/// bits, kept as a number from its making to the table of parked calls (no text to write, hash
/// or parse). A state an older replica sealed names it in text: read as the same bits when it
/// is one of our ids, else as all zeros, which no call is parked under (our ids start with 64
/// random bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Continuation(u128);

impl Continuation {
    /// A name no other call has had ([`next_id`]).
    pub(crate) fn next() -> Self {
        Self(next_id())
    }

    /// The continuation an older state names in `text`.
    fn from_text(text: &str) -> Self {
        Self(id_bits(text).unwrap_or(0))
    }
}

/// As text in a version 1 state (JSON): its hex.
impl Serialize for Continuation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex(&self.0.to_be_bytes()))
    }
}

impl<'de> Deserialize<'de> for Continuation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from_text(&text))
    }
}

/// The SHA-256 of a request's method, identifying parameters and principal: what binds a
/// sealed state to its request ([`request_digest`]). All zeros when none was needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Digest(pub(crate) [u8; 32]);

impl Digest {
    /// The digest in hex.
    pub(crate) fn to_hex(self) -> String {
        hex(&self.0)
    }
}

/// As hex, in a payload of version 1 (JSON).
impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let invalid = || serde::de::Error::custom("a digest is 64 hex digits");
        if text.len() != 64 {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or_else(invalid)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| invalid())?;
        }
        Ok(Self(bytes))
    }
}

/// The version of a payload [`Payload::to_bytes`] writes.
const VERSION: u8 = 3;
/// The version before: the nonce and the continuation as text.
const VERSION_2: u8 = 2;
/// A continuation as text (version 2, and version 3 as sealed before it was always an id).
const HAS_CONTINUATION: u8 = 1;
const HAS_ANSWERS: u8 = 2;
const HAS_USER: u8 = 4;
/// Version 3: the continuation is one of our ids, as its 16 bytes.
const CONTINUATION_ID: u8 = 8;

impl Payload {
    /// Version 3: `[version] [flags] [expires: u64] [digest: 32 bytes] [nonce: 16 bytes]`, then,
    /// as `flags` say, the continuation (its 16 bytes; a state sealed before may have it as
    /// `[length: u32] [text]`), the answers (`[length: u32]` and JSON) and the user's state (`[length:
    /// u32] [text]`); numbers big-endian. The nonce is `nonce`, written as it is (the
    /// payload's own is read back from the bytes). Ids as bytes are half the length of their
    /// hex, and every stateless round trip seals, encodes and parses them.
    fn to_bytes(&self, nonce: u128) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let flags = match self.continuation {
            None => 0,
            Some(_) => CONTINUATION_ID,
        } + u8::from(!self.answers.is_empty()) * HAS_ANSWERS
            + u8::from(self.user.is_some()) * HAS_USER;
        let mut out = Vec::with_capacity(96 + self.user.as_ref().map_or(0, String::len));
        out.extend_from_slice(&[VERSION, flags]);
        out.extend_from_slice(&self.expires.to_be_bytes());
        out.extend_from_slice(&self.digest.0);
        out.extend_from_slice(&nonce.to_be_bytes());
        if let Some(Continuation(bits)) = self.continuation {
            out.extend_from_slice(&bits.to_be_bytes());
        }
        if !self.answers.is_empty() {
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            serde_json::to_writer(&mut out, &self.answers).expect("JSON texts serialise");
            let len = u32::try_from(out.len() - at - 4).unwrap_or(u32::MAX);
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        if let Some(user) = &self.user {
            put(&mut out, user.as_bytes());
        }
        out
    }

    /// Reads what [`Payload::to_bytes`] wrote, or a payload of version 2 (ids as text) or 1
    /// (JSON), as older replicas of a fleet sealed them.
    fn from_bytes(body: &[u8]) -> Option<Self> {
        if body.first() == Some(&b'{') {
            return serde_json::from_slice(body).ok();
        }
        /// The rest of a payload, read field by field.
        struct Rest<'a>(&'a [u8]);
        impl<'a> Rest<'a> {
            fn take<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
                let (taken, after) = self.0.split_first_chunk::<N>()?;
                self.0 = after;
                Some(taken)
            }
            fn bytes(&mut self) -> Option<&'a [u8]> {
                let len = u32::from_be_bytes(*self.take::<4>()?);
                let (bytes, after) = self.0.split_at_checked(usize::try_from(len).ok()?)?;
                self.0 = after;
                Some(bytes)
            }
            fn text(&mut self) -> Option<String> {
                String::from_utf8(self.bytes()?.to_vec()).ok()
            }
            fn id(&mut self) -> Option<String> {
                Some(hex(self.take::<16>()?))
            }
        }
        let (&[version, flags], rest) = body.split_first_chunk::<2>()?;
        let (expires, rest) = rest.split_first_chunk::<8>()?;
        let mut rest = Rest(rest);
        let (digest, nonce) = match version {
            VERSION => (Digest(*rest.take::<32>()?), rest.id()?),
            VERSION_2 => (Digest(rest.bytes()?.try_into().ok()?), rest.text()?),
            _ => return None,
        };
        let continuation = if flags & CONTINUATION_ID != 0 && version == VERSION {
            Some(Continuation(u128::from_be_bytes(*rest.take::<16>()?)))
        } else if flags & HAS_CONTINUATION != 0 {
            Some(Continuation::from_text(std::str::from_utf8(rest.bytes()?).ok()?))
        } else {
            None
        };
        let answers = if flags & HAS_ANSWERS != 0 {
            serde_json::from_slice(rest.bytes()?).ok()?
        } else {
            InputResponses::new()
        };
        let user = if flags & HAS_USER != 0 {
            Some(rest.text()?)
        } else {
            None
        };
        rest.0.is_empty().then_some(Self {
            version,
            expires: u64::from_be_bytes(*expires),
            digest,
            nonce,
            continuation,
            answers,
            user,
        })
    }
}

/// The 128 bits of `id` when it is one of our ids as text ([`next_id`] as 32 lowercase hex digits),
/// which [`hex`] writes back the same.
fn id_bits(id: &str) -> Option<u128> {
    let digits = id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    digits.then(|| u128::from_str_radix(id, 16).ok()).flatten()
}

/// A sealed state, as [`Sealer::seal`] writes it: base64 and one `.`, so a JSON string as it is,
/// with nothing to escape.
#[derive(Debug)]
pub(crate) struct Sealed(String);

impl std::ops::Deref for Sealed {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// Why a `requestState` was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Malformed,
    Tampered,
    Expired,
    OtherRequest,
    Reused,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "invalid requestState: not a state this server issued",
            Self::Tampered => "invalid requestState: its integrity check failed",
            Self::Expired => "invalid requestState: it has expired; call again without requestState",
            Self::OtherRequest => "invalid requestState: it was issued for a different request",
            Self::Reused => "invalid requestState: it was already used",
        })
    }
}

/// Seals and opens request states with one key. That a state is used once is checked apart,
/// against the server's store (`Payload::nonce`), so that it holds across replicas.
pub(crate) struct Sealer {
    /// HMAC-SHA256 keyed once: each seal and open clones it rather than hashing the key again.
    keyed: HmacSha256,
    ttl: Duration,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system provides randomness");
    b
}

/// The next of this process's unique ids: a name no other call of this process has had, nor,
/// with 64 random bits in it, any other replica's: a state's nonce (its 32 hex digits when it
/// is claimed), a parked call's [`Continuation`]. Neither is a secret: a sealed state carries
/// both in the clear, under its MAC, and one can be used only through a state this server
/// sealed. So a counter serves, with no system call (unlike [`random`]).
fn next_id() -> u128 {
    (u128::from(unique_prefix()) << 64) | u128::from(NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A unique id as a nonce is written: 32 hex digits.
#[cfg(test)]
pub(crate) fn unique_id() -> String {
    hex(&next_id().to_be_bytes())
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The random first half of this process's unique ids ([`next_id`]).
fn unique_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| u64::from_be_bytes(random()))
}

/// The counter of `id` (its 128 bits), when it is one of this process's unique ids.
pub(crate) fn own_counter(id: u128) -> Option<u64> {
    #[allow(clippy::cast_possible_truncation)] // the halves of 128 bits
    let (high, low) = ((id >> 64) as u64, id as u64);
    (high == unique_prefix()).then_some(low)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
    }
    String::from_utf8(s).expect("hex digits are ASCII")
}

/// The digest that binds a state to its request: the method, the parameters that identify it
/// (never `inputResponses`, `requestState` or `_meta`) and who asks. The parameters are
/// serialised straight into the hash: JSON holds no raw newline, so the parts cannot run into
/// each other.
pub(crate) fn request_digest(method: &str, identity: &(impl Serialize + ?Sized), principal: Option<&str>) -> Digest {
    /// Feeds what serde_json writes to the hash, with no buffer between.
    struct Hashing<'a>(&'a mut Sha256);
    impl std::io::Write for Hashing<'_> {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    serde_json::to_writer(Hashing(&mut h), identity).expect("JSON serialises");
    match principal {
        None => h.update(b"\n-"),
        Some(subject) => {
            h.update(b"\n+");
            h.update(subject.as_bytes());
        }
    }
    Digest(h.finalize().into())
}

impl Sealer {
    /// A sealer with `key` (a random one when `None`) whose states live `ttl`.
    pub(crate) fn new(key: Option<[u8; 32]>, ttl: Duration) -> Self {
        let key = key.unwrap_or_else(random);
        Self {
            keyed: <HmacSha256 as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length"),
            ttl,
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// Seals a payload, filling in its version, expiry and nonce.
    pub(crate) fn seal(&self, mut payload: Payload) -> Sealed {
        payload.version = VERSION;
        payload.expires = now() + self.ttl.as_secs().max(1);
        let body = payload.to_bytes(next_id());
        let mut mac = self.mac();
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        let mut token = Vec::with_capacity((body.len() + tag.len()).div_ceil(3) * 4 + 8);
        base64::encode_into(&body, &mut token);
        token.push(b'.');
        base64::encode_into(&tag, &mut token);
        Sealed(String::from_utf8(token).expect("base64 is ASCII"))
    }

    /// Opens a state: checks its integrity, expiry and request. The caller claims its nonce.
    pub(crate) fn open(&self, token: &str, digest: &Digest) -> Result<Payload, Refusal> {
        let (body, tag) = token.split_once('.').ok_or(Refusal::Malformed)?;
        // Both decoded into one buffer.
        let mut bytes = Vec::with_capacity((body.len() + tag.len()) * 3 / 4 + 3);
        base64::decode_into(body, &mut bytes).ok_or(Refusal::Malformed)?;
        let at = bytes.len();
        base64::decode_into(tag, &mut bytes).ok_or(Refusal::Malformed)?;
        let (body, tag) = bytes.split_at(at);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| Refusal::Tampered)?;
        let payload = Payload::from_bytes(body).ok_or(Refusal::Malformed)?;
        let now = now();
        if payload.expires <= now {
            return Err(Refusal::Expired);
        }
        if payload.digest != *digest {
            return Err(Refusal::OtherRequest);
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn unique_ids_never_repeat_and_read_as_128_bits_of_hex() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| unique_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && u128::from_str_radix(id, 16).is_ok())
        );
        let (a, b) = (sealer().seal(Payload::default()), sealer().seal(Payload::default()));
        let nonce = |s: &str| sealer().open(s, &Digest::default()).unwrap().nonce;
        assert_ne!(nonce(&a), nonce(&b), "two sealed states share a nonce");
    }

    fn sealer() -> Sealer {
        Sealer::new(Some([7; 32]), Duration::from_secs(60))
    }

    #[test]
    fn a_sealed_state_opens_for_its_own_request_only() {
        let s = sealer();
        let d = request_digest("tools/call", &json!({"name": "a"}), None);
        let token = s.seal(Payload {
            digest: d,
            answers: InputResponses::from_values(Map::from_iter([("k".into(), json!(1))])),
            ..Payload::default()
        });
        assert_eq!(
            s.open(&token, &request_digest("tools/call", &json!({"name": "b"}), None))
                .unwrap_err(),
            Refusal::OtherRequest
        );
        assert_eq!(
            s.open(
                &token,
                &request_digest("tools/call", &json!({"name": "a"}), Some("mallory"))
            )
            .unwrap_err(),
            Refusal::OtherRequest,
            "another principal's digest differs"
        );
        let p = s.open(&token, &d).unwrap();
        assert_eq!(p.answers.get("k").unwrap().get(), "1");
        assert_eq!(
            p.nonce.len(),
            32,
            "a nonce is 16 random bytes in hex: the store claims it"
        );
    }

    #[test]
    fn tampering_another_key_and_garbage_are_refused() {
        let s = sealer();
        let d = request_digest("tools/call", &json!({}), None);
        let token = s.seal(Payload {
            digest: d,
            ..Payload::default()
        });
        let (body, tag) = token.split_once('.').unwrap();
        let mut forged = base64::decode(body).unwrap();
        forged[9] ^= 1; // the expiry
        let forged = format!("{}.{tag}", base64::encode(&forged));
        assert_eq!(s.open(&forged, &d).unwrap_err(), Refusal::Tampered);
        let other = Sealer::new(Some([8; 32]), Duration::from_secs(60));
        assert_eq!(other.open(&token, &d).unwrap_err(), Refusal::Tampered);
        assert_eq!(s.open("not a state", &d).unwrap_err(), Refusal::Malformed);
    }

    #[test]
    fn every_field_survives_sealing_and_a_json_payload_of_version_1_still_opens() {
        let s = sealer();
        let d = request_digest("tools/call", &json!({"name": "a"}), None);
        let continuation = Continuation::next();
        let token = s.seal(Payload {
            digest: d,
            continuation: Some(continuation),
            answers: InputResponses::from_values(Map::from_iter([(
                "k".into(),
                json!({"role": "assistant", "n": [1, 2]}),
            )])),
            user: Some("ü".into()),
            ..Payload::default()
        });
        let p = s.open(&token, &d).unwrap();
        assert_eq!(
            (p.version, p.continuation, p.user.as_deref()),
            (3, Some(continuation), Some("ü"))
        );
        assert_eq!(p.answers.to_values()["k"], json!({"role": "assistant", "n": [1, 2]}));
        // A continuation goes as its 16 bytes.
        let token = s.seal(Payload {
            digest: d,
            continuation: Some(continuation),
            ..Payload::default()
        });
        assert_eq!(s.open(&token, &d).unwrap().continuation, Some(continuation));
        assert!(token.len() < 160, "{} bytes: {}", token.len(), &*token);
        // Version 3 as sealed before, with a continuation in text: one of our ids is read as
        // its bits; any other text as bits no call is parked under.
        let id = hex(&continuation.0.to_be_bytes());
        let v3_text = |text: &str| {
            let mut v3 = vec![VERSION, HAS_CONTINUATION];
            v3.extend_from_slice(&(now() + 60).to_be_bytes());
            v3.extend_from_slice(&d.0);
            v3.extend_from_slice(&next_id().to_be_bytes());
            v3.extend_from_slice(&u32::try_from(text.len()).unwrap().to_be_bytes());
            v3.extend_from_slice(text.as_bytes());
            s.open(&token_of(&s, &v3), &d).unwrap().continuation
        };
        assert_eq!(v3_text(&id), Some(continuation));
        for not_an_id in [
            "ABCDEF0123456789ABCDEF0123456789".to_owned(),
            format!("{}g", &id[..31]),
            format!("{id}0"),
            id[..31].to_owned(),
            "c".to_owned(),
        ] {
            assert_eq!(v3_text(&not_an_id), Some(Continuation(0)), "{not_an_id}");
        }
        // Version 2, as an older replica sealed it: the ids as text.
        let (nonce, continuation) = (unique_id(), Continuation::next());
        let mut v2 = vec![VERSION_2, HAS_CONTINUATION | HAS_USER];
        v2.extend_from_slice(&(now() + 60).to_be_bytes());
        let text = hex(&continuation.0.to_be_bytes());
        for part in [&d.0[..], nonce.as_bytes(), text.as_bytes(), "u".as_bytes()] {
            v2.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            v2.extend_from_slice(part);
        }
        let p = s.open(&token_of(&s, &v2), &d).unwrap();
        assert_eq!(
            (p.version, p.nonce, p.continuation, p.user.as_deref()),
            (2, nonce, Some(continuation), Some("u"))
        );
        // Version 1, as an older replica sealed it.
        let v1 = Payload {
            version: 1,
            expires: now() + 60,
            digest: d,
            nonce: unique_id(),
            user: Some("u".into()),
            ..Payload::default()
        };
        let token = v1_token(&s, &v1);
        let p = s.open(&token, &d).unwrap();
        assert_eq!((p.version, p.nonce, p.user.as_deref()), (1, v1.nonce, Some("u")));
        // A body cut short, or with bytes after its end, is malformed, even under a good MAC.
        for body in [
            &s.seal_bytes_for_test(&d)[..20],
            &[s.seal_bytes_for_test(&d), vec![0]].concat()[..],
        ] {
            let mut mac = s.mac();
            mac.update(body);
            let token = format!(
                "{}.{}",
                base64::encode(body),
                base64::encode(&mac.finalize().into_bytes())
            );
            assert_eq!(s.open(&token, &d).unwrap_err(), Refusal::Malformed);
        }
    }

    /// `payload` sealed as version 1 (JSON) was, by an older replica.
    fn v1_token(s: &Sealer, payload: &Payload) -> String {
        token_of(s, &serde_json::to_vec(payload).unwrap())
    }

    /// A state of `body`, under `s`'s MAC.
    fn token_of(s: &Sealer, body: &[u8]) -> String {
        let mut mac = s.mac();
        mac.update(body);
        format!(
            "{}.{}",
            base64::encode(body),
            base64::encode(&mac.finalize().into_bytes())
        )
    }

    impl Sealer {
        fn seal_bytes_for_test(&self, digest: &Digest) -> Vec<u8> {
            Payload {
                version: VERSION,
                expires: now() + 60,
                digest: *digest,
                ..Payload::default()
            }
            .to_bytes(next_id())
        }
    }

    #[test]
    fn an_expired_state_is_refused() {
        let s = sealer();
        let d = request_digest("tools/call", &json!({}), None);
        let p = Payload {
            version: 1,
            expires: now() - 1,
            digest: d,
            nonce: "n".into(),
            ..Payload::default()
        };
        assert_eq!(s.open(&v1_token(&s, &p), &d).unwrap_err(), Refusal::Expired);
    }
}
