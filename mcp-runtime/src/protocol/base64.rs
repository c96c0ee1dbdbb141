//! Standard base64 (RFC 4648, with padding), for image, audio and blob contents.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes bytes as standard, padded base64.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64, padded or not; `None` on any character outside the alphabet.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let input = input.trim_end_matches('=');
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in input.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
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
        assert_eq!(super::decode_strict("SGVsbG8=").unwrap(), b"Hello");
        assert_eq!(super::decode_strict("SGVsbG8"), None, "padding is required");
        assert_eq!(super::decode_strict("SGVs!!!bG8="), None);
        assert_eq!(super::decode_strict("S=VsbG8="), None);
    }
}
