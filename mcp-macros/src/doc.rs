//! Doc comments: the description, and the `# Arguments` list.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// What the doc comment says.
pub(crate) struct Docs {
    /// The description: text before the first `#` heading; or tokens when a doc attribute is not
    /// a literal (`#[doc = include_str!(..)]`), forwarded as they are.
    pub(crate) description: Option<Description>,
    /// `(name, text, span of the doc line)` from the `# Arguments` section.
    pub(crate) arguments: Vec<(String, String, Span)>,
}

pub(crate) enum Description {
    Text(String),
    Tokens(TokenStream),
}

pub(crate) fn parse(attrs: &[Attribute]) -> Docs {
    let mut lines: Vec<(String, Span)> = Vec::new();
    let mut exprs: Vec<TokenStream> = Vec::new();
    let mut literal_only = true;
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        match &nv.value {
            Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => {
                let value = s.value();
                for line in value.lines() {
                    lines.push((line.strip_prefix(' ').unwrap_or(line).to_owned(), s.span()));
                }
                exprs.push(quote!(#s));
            }
            other => {
                literal_only = false;
                exprs.push(quote!(#other));
            }
        }
    }
    if !literal_only {
        return Docs {
            description: Some(Description::Tokens(quote!(::core::concat!(#(#exprs, "\n"),*)))),
            arguments: Vec::new(),
        };
    }

    let mut description = Vec::new();
    let mut arguments: Vec<(String, String, Span)> = Vec::new();
    let mut section: Option<String> = None;
    for (line, span) in &lines {
        let trimmed = line.trim();
        if let Some(heading) = trimmed.strip_prefix('#') {
            section = Some(heading.trim_start_matches('#').trim().to_ascii_lowercase());
            continue;
        }
        match section.as_deref() {
            None => description.push(line.trim_end().to_owned()),
            Some("arguments" | "parameters" | "args") => {
                if let Some((name, text)) = argument_line(trimmed) {
                    arguments.push((name, text, *span));
                } else if !trimmed.is_empty()
                    && let Some(last) = arguments.last_mut()
                {
                    last.1.push(' ');
                    last.1.push_str(trimmed);
                }
            }
            Some(_) => {}
        }
    }
    let text = description.join("\n").trim().to_owned();
    Docs {
        description: (!text.is_empty()).then_some(Description::Text(text)),
        arguments,
    }
}

/// `* `name` - text`, `- name: text`, `* name — text`.
fn argument_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('*').or_else(|| line.strip_prefix('-'))?.trim_start();
    let (name, rest) = if let Some(r) = rest.strip_prefix('`') {
        let end = r.find('`')?;
        (&r[..end], &r[end + 1..])
    } else {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (&rest[..end], &rest[end..])
    };
    if name.is_empty() {
        return None;
    }
    let text = rest.trim_start().trim_start_matches(['-', ':', '–', '—']).trim();
    Some((name.to_owned(), text.to_owned()))
}
