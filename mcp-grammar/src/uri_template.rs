//! RFC 6570 URI templates, the subset resources use: `{var}` (one segment), `{+var}` (may cross
//! `/`) and `{?a,b}` (form-style query). [`Template::parse`] turns the text into literal parts and
//! expressions, or a [`ParseError`] whose message names the template and what is wrong with it.
//! Matching a URI against a template is the runtime's business, not this module's.

use std::fmt;

/// A parsed URI template: the text as written, and its parts in order.
///
/// ```
/// use mcp_grammar::uri_template::{Operator, Part, Template};
///
/// let t = Template::parse("file:///{+path}{?rev}").unwrap();
/// assert_eq!(t.variables().collect::<Vec<_>>(), ["path", "rev"]);
/// let Part::Expression(e) = &t.parts()[1] else { unreachable!() };
/// assert_eq!(e.operator(), Operator::Reserved);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// One part of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text a URI must hold as is; never empty, and never two in a row.
    Literal(String),
    /// A `{…}` expression.
    Expression(Expression),
}

/// A `{…}` expression: its operator and the variables it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    operator: Operator,
    variables: Vec<String>,
}

/// The operator of an [`Expression`]: the first character inside the braces, if it is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `{var}`: one variable, within one path segment.
    Simple,
    /// `{+var}`: one variable, which may cross `/`.
    Reserved,
    /// `{?a,b}`: one or more variables, as a form-style query.
    FormQuery,
}

/// Why a text is not a template of the supported subset. Its `Display` is the whole message,
/// starting with the template in backquotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A `{` with no `}` after it.
    Unclosed {
        /// The template as written.
        template: String,
    },
    /// An RFC 6570 operator outside the subset: `#`, `.`, `/`, `;` or `&`.
    UnsupportedOperator {
        /// The template as written.
        template: String,
        /// The operator.
        operator: char,
    },
    /// An expression whose names are not all non-empty runs of `[A-Za-z0-9_]`: `{}`, `{?}`,
    /// `{a-b}`.
    NotVariableNames {
        /// The template as written.
        template: String,
        /// The expression, without its braces.
        expression: String,
    },
    /// Several variables in an expression other than `{?a,b}`.
    SeveralVariables {
        /// The template as written.
        template: String,
        /// The expression, without its braces.
        expression: String,
    },
}

impl Template {
    /// Parses a template; an operator other than `+` and `?`, an unclosed brace, a name that is
    /// not `[A-Za-z0-9_]+`, or several names outside `{?…}` is an error.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let close = rest[open..].find('}').ok_or_else(|| ParseError::Unclosed {
                template: source.to_owned(),
            })? + open;
            let expr = &rest[open + 1..close];
            let (operator, names) = match expr.chars().next() {
                Some('+') => (Operator::Reserved, &expr[1..]),
                Some('?') => (Operator::FormQuery, &expr[1..]),
                Some(c @ ('#' | '.' | '/' | ';' | '&')) => {
                    return Err(ParseError::UnsupportedOperator {
                        template: source.to_owned(),
                        operator: c,
                    });
                }
                _ => (Operator::Simple, expr),
            };
            let variables: Vec<String> = names.split(',').map(|n| n.trim().to_owned()).collect();
            if variables
                .iter()
                .any(|n| n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(ParseError::NotVariableNames {
                    template: source.to_owned(),
                    expression: expr.to_owned(),
                });
            }
            if variables.len() > 1 && operator != Operator::FormQuery {
                return Err(ParseError::SeveralVariables {
                    template: source.to_owned(),
                    expression: expr.to_owned(),
                });
            }
            parts.push(Part::Expression(Expression { operator, variables }));
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

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The variables of every expression, in order.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts
            .iter()
            .flat_map(|p| match p {
                Part::Expression(e) => e.variables.as_slice(),
                Part::Literal(_) => &[],
            })
            .map(String::as_str)
    }

    /// Whether the template has no expressions: it names exactly one URI.
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }
}

impl Expression {
    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The variables, in order: never empty, and exactly one unless the operator is
    /// [`Operator::FormQuery`].
    pub fn variables(&self) -> &[String] {
        &self.variables
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unclosed { template } => write!(f, "`{template}`: a `{{` is never closed"),
            Self::UnsupportedOperator { template, operator } => write!(
                f,
                "`{template}`: the `{operator}` operator is not supported; use {{var}}, {{+var}} or {{?a,b}}"
            ),
            Self::NotVariableNames { template, expression } => {
                write!(f, "`{template}`: `{{{expression}}}` is not a list of variable names")
            }
            Self::SeveralVariables { template, expression } => write!(
                f,
                "`{template}`: `{{{expression}}}` names several variables; only {{?a,b}} may"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(operator: Operator, variables: &[&str]) -> Part {
        Part::Expression(Expression {
            operator,
            variables: variables.iter().map(|&v| v.to_owned()).collect(),
        })
    }

    fn lit(s: &str) -> Part {
        Part::Literal(s.to_owned())
    }

    fn message(template: &str) -> String {
        Template::parse(template).unwrap_err().to_string()
    }

    #[test]
    fn parts_in_order() {
        let t = Template::parse("a://{x}/{+y}{?z, w}").unwrap();
        assert_eq!(
            t.parts(),
            [
                lit("a://"),
                expr(Operator::Simple, &["x"]),
                lit("/"),
                expr(Operator::Reserved, &["y"]),
                expr(Operator::FormQuery, &["z", "w"]),
            ]
        );
        assert_eq!(t.as_str(), "a://{x}/{+y}{?z, w}");
        assert_eq!(t.variables().collect::<Vec<_>>(), ["x", "y", "z", "w"]);
        assert!(!t.is_fixed());

        let fixed = Template::parse("a://fixed}").unwrap();
        assert_eq!(fixed.parts(), [lit("a://fixed}")]);
        assert!(fixed.is_fixed());
        assert_eq!(fixed.variables().count(), 0);
        assert!(Template::parse("").unwrap().parts().is_empty());
        assert_eq!(
            Template::parse("{id}.txt").unwrap().parts(),
            [expr(Operator::Simple, &["id"]), lit(".txt")]
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            Template::parse("a://{x").unwrap_err(),
            ParseError::Unclosed {
                template: "a://{x".into()
            }
        );
        assert_eq!(message("a://{x"), "`a://{x`: a `{` is never closed");
        assert_eq!(
            message("a://{#x}"),
            "`a://{#x}`: the `#` operator is not supported; use {var}, {+var} or {?a,b}"
        );
        for op in ['.', '/', ';', '&'] {
            assert!(matches!(
                Template::parse(&format!("a://{{{op}x}}")),
                Err(ParseError::UnsupportedOperator { operator, .. }) if operator == op
            ));
        }
        assert_eq!(
            message("a://{x,y}"),
            "`a://{x,y}`: `{x,y}` names several variables; only {?a,b} may"
        );
        assert!(matches!(
            Template::parse("a://{+x,y}"),
            Err(ParseError::SeveralVariables { .. })
        ));
        assert_eq!(message("a://{}"), "`a://{}`: `{}` is not a list of variable names");
        for bad in ["a://{?}", "a://{a-b}", "a://{x,}", "a://{+}", "a://{é}"] {
            assert!(
                matches!(Template::parse(bad), Err(ParseError::NotVariableNames { .. })),
                "{bad}"
            );
        }
    }
}
