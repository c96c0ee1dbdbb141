//! The server's URL: checked once, split into what is sent (a URL without credentials, and
//! any `user:password@` as an `Authorization: Basic` header) and what may be shown (in errors,
//! logs and `Debug`: scheme, host, port and path, never credentials or the query).

use crate::protocol::base64;
use hyper::Uri;
use hyper::header::HeaderValue;

/// Where the transport sends its requests.
#[derive(Clone)]
pub(super) struct Target {
    /// The URL requests go to, without user information.
    pub(super) uri: Uri,
    /// The URL as it may be shown: no user information, no query.
    pub(super) shown: String,
    /// `Authorization: Basic …` from the URL's user information, if it had any.
    pub(super) basic: Option<HeaderValue>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Target").field(&self.shown).finish()
    }
}

impl Target {
    /// Parses `url`. The error never repeats the URL, which may hold a password.
    pub(super) fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| format!("the MCP server URL is not a valid URL ({e})"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(
                    "the MCP server URL is https, and this transport has no TLS: reach the server over \
                            http (on loopback or a trusted network), or through a TLS-terminating proxy"
                        .to_owned(),
                );
            }
            _ => return Err("the MCP server URL must start with http://".to_owned()),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| "the MCP server URL has no host".to_owned())?
            .as_str();
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err("the MCP server URL has no host".to_owned());
        }
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        let clean: Uri = format!("http://{host}{path_and_query}")
            .parse()
            .map_err(|e| format!("the MCP server URL is not a valid URL ({e})"))?;
        let basic = userinfo.map(|info| {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            let credentials = [percent_decode(user), b":".to_vec(), percent_decode(password)].concat();
            let mut value = HeaderValue::from_str(&format!("Basic {}", base64::encode(&credentials)))
                .expect("base64 is a valid header value");
            value.set_sensitive(true);
            value
        });
        Ok(Self {
            shown: format!("http://{host}{}", clean.path()),
            uri: clean,
            basic,
        })
    }
}

/// `%XX` sequences decoded; anything else as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::client::http::target::Target;

    #[test]
    fn credentials_become_a_header_and_are_never_shown() {
        let t = Target::parse("http://al%40ice:s%3Acret@127.0.0.1:8080/mcp?key=hidden").unwrap();
        assert_eq!(t.uri.to_string(), "http://127.0.0.1:8080/mcp?key=hidden");
        assert_eq!(t.shown, "http://127.0.0.1:8080/mcp");
        // base64("al@ice:s:cret")
        assert_eq!(t.basic.unwrap().to_str().unwrap(), "Basic YWxAaWNlOnM6Y3JldA==");
        let t = Target::parse(" http://localhost:3000 ").unwrap();
        assert_eq!((t.uri.path(), t.shown.as_str()), ("/", "http://localhost:3000/"));
        assert!(t.basic.is_none());
        for bad in [
            "https://u:secret@example.com/mcp",
            "ftp://u:secret@h/",
            "u:secret@h",
            "http://u:secret@/x",
        ] {
            let e = Target::parse(bad).err().unwrap();
            assert!(!e.contains("secret"), "{e}");
        }
        assert!(Target::parse("https://h/mcp").unwrap_err().contains("TLS"));
    }
}
