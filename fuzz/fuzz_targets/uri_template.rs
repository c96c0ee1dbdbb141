//! RFC 6570 template parsing: any text is a template or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp::server::uri_template::UriTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match UriTemplate::parse(text) {
        Ok(template) => {
            assert_eq!(template.as_str(), text);
            let _ = (template.variables(), template.is_fixed());
        }
        Err(reason) => assert!(!reason.is_empty()),
    }
});
