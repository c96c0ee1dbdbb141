//! RFC 6570 URI templates, the subset resources use: `{var}` (one segment), `{+var}` (may cross
//! `/`) and `{?a,b}` (form-style query). Parsed once at registration, by the grammar the macros
//! check templates with (the `mcp-grammar` crate), and matched without regular expressions:
//! literals must match exactly, variables are percent-decoded.

use std::collections::HashMap;

use mcp_grammar::uri_template::{Operator, Part, Template};

/// A parsed URI template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriTemplate {
    template: Template,
}

/// Why a URI that fits a template was still refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A variable climbs out with `..`, or holds a NUL byte.
    Unsafe(String),
}

impl UriTemplate {
    /// Parses a template; an operator other than `+` and `?`, an unclosed brace, a name that is not
    /// `[A-Za-z0-9_]+`, or several names outside `{?a,b}` is an error, worded as the macros word it.
    pub fn parse(source: &str) -> Result<Self, String> {
        Template::parse(source)
            .map(|template| Self { template })
            .map_err(|e| e.to_string())
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        self.template.as_str()
    }

    /// The variables, in order.
    pub fn variables(&self) -> Vec<&str> {
        self.template.variables().collect()
    }

    /// Whether the template has no variables.
    pub fn is_fixed(&self) -> bool {
        self.template.is_fixed()
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
        let parts = self.template.parts();
        for (i, part) in parts.iter().enumerate() {
            let expr = match part {
                Part::Literal(l) => {
                    rest = rest.strip_prefix(l.as_str())?;
                    continue;
                }
                Part::Expression(expr) => expr,
            };
            match expr.operator() {
                op @ (Operator::Simple | Operator::Reserved) => {
                    // The parser gives these exactly one variable.
                    let name = &expr.variables()[0];
                    let end = match parts.get(i + 1) {
                        Some(Part::Literal(l)) => rest.find(l.as_str())?,
                        Some(Part::Expression(next)) if next.operator() == Operator::FormQuery => {
                            rest.find('?').unwrap_or(rest.len())
                        }
                        _ => rest.len(),
                    };
                    let raw = &rest[..end];
                    if raw.is_empty() || (op == Operator::Simple && raw.contains(['/', '?', '#'])) {
                        return None;
                    }
                    vars.insert(name.clone(), percent_decode(raw)?);
                    rest = &rest[end..];
                }
                Operator::FormQuery => {
                    if let Some(query) = rest.strip_prefix('?') {
                        for pair in query.split('&').filter(|p| !p.is_empty()) {
                            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                            let k = percent_decode(k)?;
                            if expr.variables().contains(&k) {
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
    fn parse_gives_the_grammar_and_its_messages() {
        // Parsing itself is tested in `mcp-grammar`; this wrapper keeps its text, its variables,
        // and the grammar's messages.
        let t = UriTemplate::parse("a://{x}/{+y}{?z}").unwrap();
        assert_eq!(
            (t.as_str(), t.variables(), t.is_fixed()),
            ("a://{x}/{+y}{?z}", vec!["x", "y", "z"], false)
        );
        assert!(UriTemplate::parse("a://fixed").unwrap().is_fixed());
        assert_eq!(
            UriTemplate::parse("a://{x").unwrap_err(),
            "`a://{x`: a `{` is never closed"
        );
    }
}
