//! Standard base64 (RFC 4648, with padding), for image, audio and blob contents.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's value in the alphabet; `INVALID` for a byte outside it.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};
const INVALID: u8 = 0xFF;

/// Encodes bytes as standard, padded base64.
pub fn encode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    encode_into(input, &mut out);
    String::from_utf8(out).expect("the alphabet is ASCII")
}

/// [`encode`], appended to `out`.
pub(crate) fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    let sextet = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    out.reserve(input.len().div_ceil(3) * 4);
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), b'=', b'=']);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), b'=']);
        }
        _ => {}
    }
}

/// Decodes standard base64, padded or not; `None` on any character outside the alphabet.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    decode_into(input, &mut out)?;
    Some(out)
}

/// [`decode`], appended to `out`; on `None`, `out` may hold part of the input decoded.
pub(crate) fn decode_into(input: &str, out: &mut Vec<u8>) -> Option<()> {
    let input = input.trim_end_matches('=').as_bytes();
    out.reserve(input.len() * 3 / 4);
    let mut chunks = input.chunks_exact(4);
    for c in &mut chunks {
        let v = [
            DECODE[usize::from(c[0])],
            DECODE[usize::from(c[1])],
            DECODE[usize::from(c[2])],
            DECODE[usize::from(c[3])],
        ];
        // A value of the alphabet is below 64: any high bit marks a byte outside it.
        if (v[0] | v[1] | v[2] | v[3]) & 0xC0 != 0 {
            return None;
        }
        let n = (u32::from(v[0]) << 18) | (u32::from(v[1]) << 12) | (u32::from(v[2]) << 6) | u32::from(v[3]);
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let (mut acc, mut bits) = (0u32, 0);
    for &c in chunks.remainder() {
        let v = DECODE[usize::from(c)];
        if v == INVALID {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(())
}

/// Decodes standard base64 strictly: padded to a multiple of four, `=` only at the end, every
/// other character in the alphabet. `None` otherwise.
pub fn decode_strict(input: &str) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let body = input.trim_end_matches('=');
    if input.len() - body.len() > 2 || body.contains('=') {
        return None;
    }
    decode(input)
}

/// Encodes bytes as URL-safe base64 without padding (as JWTs do).
pub fn encode_url(input: &[u8]) -> String {
    encode(input).trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// Decodes URL-safe base64 without padding; `None` on any character outside its alphabet.
pub fn decode_url(input: &str) -> Option<Vec<u8>> {
    if input.contains(['+', '/', '=']) {
        return None;
    }
    decode(&input.replace('-', "+").replace('_', "/"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in cases {
            assert_eq!(super::encode(plain.as_bytes()), coded);
            assert_eq!(super::decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(super::decode("a$b"), None);
        assert_eq!(
            super::decode("ab$dabcd"),
            None,
            "outside the alphabet in a whole quantum"
        );
        // Every length round-trips, whole quanta and remainders alike.
        let bytes: Vec<u8> = (0..=255u8).rev().collect();
        for n in 0..70 {
            let coded = super::encode(&bytes[..n]);
            assert_eq!(coded.len(), n.div_ceil(3) * 4);
            assert_eq!(super::decode(&coded).unwrap(), &bytes[..n], "{n}");
        }
        assert_eq!(super::decode_strict("SGVsbG8=").unwrap(), b"Hello");
        assert_eq!(super::decode_strict("SGVsbG8"), None, "padding is required");
        assert_eq!(super::decode_strict("SGVs!!!bG8="), None);
        assert_eq!(super::decode_strict("S=VsbG8="), None);
    }
}
