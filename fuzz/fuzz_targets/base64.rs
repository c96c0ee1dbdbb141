//! Base64 (`Mcp-Param-*` header values, blob contents): decoding any text never panics, and
//! every encoding decodes back to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp::protocol::base64;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = base64::decode(text);
        let _ = base64::decode_strict(text);
        let _ = base64::decode_url(text);
    }
    assert_eq!(base64::decode(&base64::encode(data)).as_deref(), Some(data));
    assert_eq!(base64::decode_strict(&base64::encode(data)).as_deref(), Some(data));
    assert_eq!(base64::decode_url(&base64::encode_url(data)).as_deref(), Some(data));
});
