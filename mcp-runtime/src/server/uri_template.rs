//! RFC 6570 URI templates, the subset resources use: `{var}` (one segment), `{+var}` (may cross
//! `/`) and `{?a,b}` (form-style query). Parsed once at registration and matched without
//! regular expressions: literals must match exactly, variables are percent-decoded.

use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Var { name: String, reserved: bool },
    Query(Vec<String>),
}

/// A parsed URI template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

/// Why a URI that fits a template was still refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A variable climbs out with `..`, or holds a NUL byte.
    Unsafe(String),
}

impl UriTemplate {
    /// Parses a template; an operator other than `+` and `?`, or an unclosed brace, is an error.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("`{source}`: a `{{` is never closed"))?
                + open;
            let expr = &rest[open + 1..close];
            let (op, names) = match expr.chars().next() {
                Some(c @ ('+' | '?')) => (Some(c), &expr[1..]),
                Some(c @ ('#' | '.' | '/' | ';' | '&')) => {
                    return Err(format!(
                        "`{source}`: the `{c}` operator is not supported; use {{var}}, {{+var}} or {{?a,b}}"
                    ));
                }
                _ => (None, expr),
            };
            let names: Vec<String> = names.split(',').map(|n| n.trim().to_owned()).collect();
            if names
                .iter()
                .any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(format!("`{source}`: `{{{expr}}}` is not a list of variable names"));
            }
            match op {
                Some('?') => parts.push(Part::Query(names)),
                _ if names.len() == 1 => parts.push(Part::Var {
                    name: names[0].clone(),
                    reserved: op == Some('+'),
                }),
                _ => {
                    return Err(format!(
                        "`{source}`: `{{{expr}}}` names several variables; only {{?a,b}} may"
                    ));
                }
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variables, in order.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Var { name, .. } => out.push(name.as_str()),
                Part::Query(names) => out.extend(names.iter().map(String::as_str)),
                Part::Literal(_) => {}
            }
        }
        out
    }

    /// Whether the template has no variables.
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Matches `uri`: `None` if it does not fit, else its variables (decoded), or why a fitting
    /// URI is refused. `allow_traversal` lets `..` segments through.
    pub(crate) fn match_uri(
        &self,
        uri: &str,
        allow_traversal: bool,
    ) -> Option<Result<HashMap<String, String>, Refused>> {
        let mut vars = HashMap::new();
        let mut rest = uri;
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Var { name, reserved } => {
                    let end = match self.parts.get(i + 1) {
                        Some(Part::Literal(l)) => rest.find(l.as_str())?,
                        Some(Part::Query(_)) => rest.find('?').unwrap_or(rest.len()),
                        _ => rest.len(),
                    };
                    let raw = &rest[..end];
                    if raw.is_empty() || (!reserved && raw.contains(['/', '?', '#'])) {
                        return None;
                    }
                    vars.insert(name.clone(), percent_decode(raw)?);
                    rest = &rest[end..];
                }
                Part::Query(names) => {
                    if let Some(query) = rest.strip_prefix('?') {
                        for pair in query.split('&').filter(|p| !p.is_empty()) {
                            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                            let k = percent_decode(k)?;
                            if names.contains(&k) {
                                vars.insert(k, percent_decode(v)?);
                            }
                        }
                        rest = "";
                    } else if !rest.is_empty() {
                        return None;
                    }
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        for (name, value) in &vars {
            let climbs = value.split(['/', '\\']).any(|segment| segment == "..");
            if value.contains('\0') || (climbs && !allow_traversal) {
                return Some(Err(Refused::Unsafe(name.clone())));
            }
        }
        Some(Ok(vars))
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(t: &str, uri: &str) -> Option<Vec<(String, String)>> {
        let t = UriTemplate::parse(t).unwrap();
        t.match_uri(uri, false).map(|r| {
            let mut v: Vec<_> = r.unwrap().into_iter().collect();
            v.sort();
            v
        })
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn simple_reserved_and_query_variables() {
        assert_eq!(vars("notes://{id}", "notes://42"), Some(vec![pair("id", "42")]));
        assert_eq!(
            vars("notes://{id}", "notes://a/b"),
            None,
            "a simple variable stays in its segment"
        );
        assert_eq!(vars("notes://{id}", "notes://"), None);
        assert_eq!(
            vars("test://template/{id}/data", "test://template/123/data"),
            Some(vec![pair("id", "123")])
        );
        assert_eq!(
            vars("file:///{+path}", "file:///a/b/c.txt"),
            Some(vec![pair("path", "a/b/c.txt")])
        );
        assert_eq!(
            vars("notes://{id}", "notes://hello%20world%2Fx"),
            Some(vec![pair("id", "hello world/x")])
        );
        assert_eq!(
            vars("search://q{?term,limit}", "search://q?limit=5&term=a%26b"),
            Some(vec![pair("limit", "5"), pair("term", "a&b")])
        );
        assert_eq!(vars("search://q{?term,limit}", "search://q"), Some(vec![]));
        assert_eq!(
            vars("a://{x}-{y}", "a://1-2"),
            Some(vec![pair("x", "1"), pair("y", "2")])
        );
        assert_eq!(vars("a://fixed", "a://fixed"), Some(vec![]));
        assert_eq!(vars("a://fixed", "a://fixedx"), None);
        assert_eq!(vars("notes://{id}", "notes://%ZZ"), None);
    }

    #[test]
    fn traversal_and_nul_are_refused_unless_allowed() {
        let t = UriTemplate::parse("file:///{+path}").unwrap();
        assert_eq!(
            t.match_uri("file:///a/../../etc/passwd", false),
            Some(Err(Refused::Unsafe("path".into())))
        );
        assert_eq!(
            t.match_uri("file:///a/%2e%2e/etc", false),
            Some(Err(Refused::Unsafe("path".into())))
        );
        assert_eq!(
            t.match_uri("file:///a%00b", false),
            Some(Err(Refused::Unsafe("path".into())))
        );
        assert!(matches!(t.match_uri("file:///a/../b", true), Some(Ok(_))));
        let simple = UriTemplate::parse("notes://{id}").unwrap();
        assert_eq!(
            simple.match_uri("notes://..%2F..%2Fsecret", false),
            Some(Err(Refused::Unsafe("id".into())))
        );
        assert!(
            matches!(simple.match_uri("notes://a..b", false), Some(Ok(_))),
            "`..` inside a name is fine"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(UriTemplate::parse("a://{x").is_err());
        assert!(UriTemplate::parse("a://{#x}").is_err());
        assert!(UriTemplate::parse("a://{x,y}").is_err());
        assert!(UriTemplate::parse("a://{}").is_err());
        assert_eq!(
            UriTemplate::parse("a://{x}/{+y}{?z}").unwrap().variables(),
            ["x", "y", "z"]
        );
    }
}
