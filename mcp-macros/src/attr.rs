//! The keys of `#[mcp::tool(..)]`, `#[mcp::prompt(..)]` and `#[mcp::resource(..)]`, each kept
//! with the tokens it came from.

use crate::ctxt::Ctxt;
use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Expr, LitBool, LitStr, Path};

/// A key of the attribute.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const TITLE: Symbol = Symbol("title");
pub(crate) const DESCRIPTION: Symbol = Symbol("description");
pub(crate) const READ_ONLY: Symbol = Symbol("read_only");
pub(crate) const DESTRUCTIVE: Symbol = Symbol("destructive");
pub(crate) const IDEMPOTENT: Symbol = Symbol("idempotent");
pub(crate) const OPEN_WORLD: Symbol = Symbol("open_world");
pub(crate) const ICONS: Symbol = Symbol("icons");
pub(crate) const META: Symbol = Symbol("meta");
pub(crate) const INPUT_SCHEMA: Symbol = Symbol("input_schema");
pub(crate) const ARGS: Symbol = Symbol("args");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const MIME: Symbol = Symbol("mime");
pub(crate) const SIZE: Symbol = Symbol("size");
pub(crate) const COMPLETE: Symbol = Symbol("complete");
pub(crate) const ALLOW_TRAVERSAL: Symbol = Symbol("allow_traversal");
pub(crate) const HEADERS: Symbol = Symbol("headers");
pub(crate) const AUDIENCE: Symbol = Symbol("audience");
pub(crate) const PRIORITY: Symbol = Symbol("priority");
pub(crate) const TASK: Symbol = Symbol("task");
pub(crate) const SCOPES: Symbol = Symbol("scopes");
pub(crate) const DEFAULTS: Symbol = Symbol("defaults");

/// What the attribute is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Tool,
    Prompt,
    Resource,
}

impl Kind {
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Tool => "#[mcp::tool]",
            Kind::Prompt => "#[mcp::prompt]",
            Kind::Resource => "#[mcp::resource]",
        }
    }

    /// The word for it in messages and generated names.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Prompt => "prompt",
            Kind::Resource => "resource",
        }
    }

    fn keys(self) -> &'static [Symbol] {
        match self {
            Kind::Tool => &[
                NAME,
                TITLE,
                DESCRIPTION,
                READ_ONLY,
                DESTRUCTIVE,
                IDEMPOTENT,
                OPEN_WORLD,
                ICONS,
                META,
                INPUT_SCHEMA,
                ARGS,
                DEFAULTS,
                HEADERS,
                TASK,
                SCOPES,
                CRATE,
            ],
            Kind::Prompt => &[NAME, TITLE, DESCRIPTION, ICONS, META, ARGS, COMPLETE, CRATE],
            Kind::Resource => &[
                NAME,
                TITLE,
                DESCRIPTION,
                MIME,
                SIZE,
                ICONS,
                META,
                COMPLETE,
                ALLOW_TRAVERSAL,
                AUDIENCE,
                PRIORITY,
                CRATE,
            ],
        }
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

/// One key's value, remembered with its span; a second setting is an error.
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<(T, Span)>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self { cx, name, value: None }
    }

    fn set(&mut self, span: Span, value: T) {
        if self.value.is_some() {
            self.cx.error_at(span, format!("duplicate `{}` key", self.name.0));
        } else {
            self.value = Some((value, span));
        }
    }

    pub(crate) fn get(self) -> Option<(T, Span)> {
        self.value
    }
}

/// The parsed attribute.
pub(crate) struct Attrs {
    pub(crate) name: Option<(LitStr, Span)>,
    pub(crate) title: Option<(LitStr, Span)>,
    pub(crate) description: Option<(LitStr, Span)>,
    pub(crate) read_only: Option<(bool, Span)>,
    pub(crate) destructive: Option<(bool, Span)>,
    pub(crate) idempotent: Option<(bool, Span)>,
    pub(crate) open_world: Option<(bool, Span)>,
    pub(crate) icons: Vec<LitStr>,
    pub(crate) meta: Option<(Expr, Span)>,
    pub(crate) input_schema: Option<(Expr, Span)>,
    pub(crate) args: Vec<(syn::Ident, LitStr)>,
    pub(crate) krate: Option<(Path, Span)>,
    pub(crate) mime: Option<(LitStr, Span)>,
    pub(crate) size: Option<(syn::LitInt, Span)>,
    pub(crate) complete: Vec<(syn::Ident, Path)>,
    /// A resource's `audience = ["user", "assistant"]`.
    pub(crate) audience: Vec<LitStr>,
    /// A resource's `priority = 0.8` (0 to 1).
    pub(crate) priority: Option<(f64, Span)>,
    /// `headers(arg = "Name")`: arguments mirrored into `Mcp-Param-Name` on HTTP.
    pub(crate) headers: Vec<(syn::Ident, LitStr)>,
    pub(crate) allow_traversal: Option<(bool, Span)>,
    /// A resource's URI or URI template (the attribute's first, positional, argument).
    pub(crate) uri: Option<LitStr>,
    /// A tool's `task = "optional"` (or `"required"`, `"forbidden"`): the variant's name.
    pub(crate) task: Option<(&'static str, Span)>,
    /// A tool's `scopes = ["…"]`: what the caller's token must grant.
    pub(crate) scopes: Vec<LitStr>,
    /// A tool's `defaults(limit = 10)`: arguments' default values, as JSON-serialisable
    /// expressions.
    pub(crate) defaults: Vec<(syn::Ident, Expr)>,
}

/// `key = ["a", "b"]`: string literals only, else `message` on the offending element.
fn string_list(meta: &ParseNestedMeta<'_>, message: &str) -> syn::Result<Vec<LitStr>> {
    let array: syn::ExprArray = meta.value()?.parse()?;
    let mut list = Vec::new();
    for e in array.elems {
        match e {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s), ..
            }) => list.push(s),
            other => return Err(syn::Error::new_spanned(other, message)),
        }
    }
    Ok(list)
}

impl Attrs {
    pub(crate) fn parse(cx: &Ctxt, kind: Kind, args: proc_macro2::TokenStream) -> Self {
        let (uri, args) = if kind == Kind::Resource {
            leading_literal(cx, args)
        } else {
            (None, args)
        };
        let mut name = Attr::none(cx, NAME);
        let mut title = Attr::none(cx, TITLE);
        let mut description = Attr::none(cx, DESCRIPTION);
        let mut read_only = Attr::none(cx, READ_ONLY);
        let mut destructive = Attr::none(cx, DESTRUCTIVE);
        let mut idempotent = Attr::none(cx, IDEMPOTENT);
        let mut open_world = Attr::none(cx, OPEN_WORLD);
        let mut icons = Attr::none(cx, ICONS);
        let mut meta_attr = Attr::none(cx, META);
        let mut input_schema = Attr::none(cx, INPUT_SCHEMA);
        let mut arg_docs: Attr<'_, Vec<(syn::Ident, LitStr)>> = Attr::none(cx, ARGS);
        let mut krate = Attr::none(cx, CRATE);
        let mut mime = Attr::none(cx, MIME);
        let mut size = Attr::none(cx, SIZE);
        let mut complete: Attr<'_, Vec<(syn::Ident, Path)>> = Attr::none(cx, COMPLETE);
        let mut allow_traversal = Attr::none(cx, ALLOW_TRAVERSAL);
        let mut headers: Attr<'_, Vec<(syn::Ident, LitStr)>> = Attr::none(cx, HEADERS);
        let mut audience: Attr<'_, Vec<LitStr>> = Attr::none(cx, AUDIENCE);
        let mut priority = Attr::none(cx, PRIORITY);
        let mut task = Attr::none(cx, TASK);
        let mut scopes: Attr<'_, Vec<LitStr>> = Attr::none(cx, SCOPES);
        let mut defaults: Attr<'_, Vec<(syn::Ident, Expr)>> = Attr::none(cx, DEFAULTS);

        let allowed = kind.keys();
        let parser = syn::meta::parser(|meta: ParseNestedMeta<'_>| {
            let span = meta.path.span_of_key();
            if !allowed.iter().any(|k| meta.path == *k) {
                let shown = meta
                    .path
                    .get_ident()
                    .map_or_else(|| "?".to_owned(), ToString::to_string);
                let hint = match nearest(&shown, allowed.iter().map(|k| k.0)) {
                    Some(key) => format!("did you mean `{key}`?"),
                    None => {
                        let valid = allowed
                            .iter()
                            .map(|s| format!("`{}`", s.0))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!("expected one of: {valid}")
                    }
                };
                // Recorded, not returned: the keys after it are still read and checked.
                cx.push(meta.error(format!("unknown key `{shown}` in {}; {hint}", kind.attribute())));
                return skip_value(&meta);
            }
            if meta.path == NAME {
                name.set(span, meta.value()?.parse::<LitStr>()?);
            } else if meta.path == TITLE {
                title.set(span, meta.value()?.parse::<LitStr>()?);
            } else if meta.path == DESCRIPTION {
                description.set(span, meta.value()?.parse::<LitStr>()?);
            } else if meta.path == READ_ONLY {
                read_only.set(span, flag(&meta)?);
            } else if meta.path == DESTRUCTIVE {
                destructive.set(span, flag(&meta)?);
            } else if meta.path == IDEMPOTENT {
                idempotent.set(span, flag(&meta)?);
            } else if meta.path == OPEN_WORLD {
                open_world.set(span, flag(&meta)?);
            } else if meta.path == ALLOW_TRAVERSAL {
                allow_traversal.set(span, flag(&meta)?);
            } else if meta.path == ICONS {
                let list = string_list(&meta, "`icons` takes string literals: icons = [\"https://…/icon.png\"]")?;
                icons.set(span, list);
            } else if meta.path == SCOPES {
                let list = string_list(&meta, "`scopes` takes string literals: scopes = [\"admin\"]")?;
                scopes.set(span, list);
            } else if meta.path == META {
                meta_attr.set(span, meta.value()?.parse::<Expr>()?);
            } else if meta.path == INPUT_SCHEMA {
                input_schema.set(span, meta.value()?.parse::<Expr>()?);
            } else if meta.path == TASK {
                let lit: LitStr = meta.value()?.parse()?;
                match lit.value().as_str() {
                    "optional" => task.set(span, "Optional"),
                    "required" => task.set(span, "Required"),
                    "forbidden" => task.set(span, "Forbidden"),
                    other => cx.error_at(
                        lit.span(),
                        format!("`task = \"{other}\"` is not a task mode; expected \"optional\", \"required\" or \"forbidden\""),
                    ),
                }
            } else if meta.path == MIME {
                mime.set(span, meta.value()?.parse::<LitStr>()?);
            } else if meta.path == SIZE {
                size.set(span, meta.value()?.parse::<syn::LitInt>()?);
            } else if meta.path == ARGS {
                let mut list = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident().cloned() else {
                        return Err(inner.error("expected an argument name: args(name = \"description\")"));
                    };
                    list.push((ident, inner.value()?.parse::<LitStr>()?));
                    Ok(())
                })?;
                arg_docs.set(span, list);
            } else if meta.path == DEFAULTS {
                let mut list: Vec<(syn::Ident, Expr)> = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident().cloned() else {
                        return Err(inner.error("expected an argument name: defaults(limit = 10)"));
                    };
                    if !inner.input.peek(syn::Token![=]) {
                        return Err(inner.error(format_args!("expected a default value: defaults({ident} = 10)")));
                    }
                    let value: Expr = inner.value()?.parse()?;
                    if list.iter().any(|(seen, _)| *seen == ident) {
                        cx.error_spanned_by(&ident, format!("`{ident}` has two defaults"));
                    } else {
                        list.push((ident, value));
                    }
                    Ok(())
                })?;
                defaults.set(span, list);
            } else if meta.path == AUDIENCE {
                let array: syn::ExprArray = meta.value()?.parse()?;
                let mut list = Vec::new();
                for e in array.elems {
                    match e {
                        Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s), ..
                        }) if s.value() == "user" || s.value() == "assistant" => list.push(s),
                        other => {
                            return Err(syn::Error::new_spanned(
                                other,
                                "`audience` takes \"user\" and/or \"assistant\"",
                            ));
                        }
                    }
                }
                audience.set(span, list);
            } else if meta.path == PRIORITY {
                let lit: syn::Lit = meta.value()?.parse()?;
                let value = match &lit {
                    syn::Lit::Float(f) => f.base10_parse::<f64>()?,
                    syn::Lit::Int(i) => i.base10_parse::<f64>()?,
                    other => return Err(syn::Error::new_spanned(other, "`priority` is a number from 0 to 1")),
                };
                if !(0.0..=1.0).contains(&value) {
                    return Err(syn::Error::new_spanned(lit, "`priority` is a number from 0 to 1"));
                }
                priority.set(span, value);
            } else if meta.path == HEADERS {
                let mut list = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident().cloned() else {
                        return Err(inner.error("expected an argument name: headers(region = \"Region\")"));
                    };
                    let name: LitStr = inner.value()?.parse()?;
                    let ok = !name.value().is_empty()
                        && name
                            .value()
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                    if !ok {
                        return Err(syn::Error::new_spanned(
                            &name,
                            "a header name is an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~",
                        ));
                    }
                    list.push((ident, name));
                    Ok(())
                })?;
                headers.set(span, list);
            } else if meta.path == COMPLETE {
                let mut list = Vec::new();
                meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident().cloned() else {
                        return Err(inner.error("expected an argument name: complete(name = completer_fn)"));
                    };
                    list.push((ident, inner.value()?.parse::<Path>()?));
                    Ok(())
                })?;
                complete.set(span, list);
            } else if meta.path == CRATE {
                let lit: LitStr = meta.value()?.parse()?;
                krate.set(span, lit.parse::<Path>()?);
            }
            Ok(())
        });
        if let Err(e) = syn::parse::Parser::parse2(parser, args) {
            cx.push(e);
        }
        Self {
            name: name.get(),
            title: title.get(),
            description: description.get(),
            read_only: read_only.get(),
            destructive: destructive.get(),
            idempotent: idempotent.get(),
            open_world: open_world.get(),
            icons: icons.get().map(|(v, _)| v).unwrap_or_default(),
            meta: meta_attr.get(),
            input_schema: input_schema.get(),
            args: arg_docs.get().map(|(v, _)| v).unwrap_or_default(),
            krate: krate.get(),
            mime: mime.get(),
            size: size.get(),
            complete: complete.get().map(|(v, _)| v).unwrap_or_default(),
            headers: headers.get().map(|(v, _)| v).unwrap_or_default(),
            audience: audience.get().map(|(v, _)| v).unwrap_or_default(),
            priority: priority.get(),
            allow_traversal: allow_traversal.get(),
            uri,
            task: task.get(),
            scopes: scopes.get().map(|(v, _)| v).unwrap_or_default(),
            defaults: defaults.get().map(|(v, _)| v).unwrap_or_default(),
        }
    }
}

/// Splits off a resource's leading URI literal: `("notes://{id}", mime = "…")`.
fn leading_literal(cx: &Ctxt, args: proc_macro2::TokenStream) -> (Option<LitStr>, proc_macro2::TokenStream) {
    let mut tokens = args.into_iter();
    let first = tokens.next();
    let lit = first
        .as_ref()
        .and_then(|t| syn::parse2::<LitStr>(t.clone().into()).ok());
    let Some(lit) = lit else {
        let span = first.map_or_else(Span::call_site, |t| t.span());
        cx.error_at(
            span,
            "#[mcp::resource] needs the resource's URI first: #[mcp::resource(\"notes://{id}\")]",
        );
        return (None, proc_macro2::TokenStream::new());
    };
    match tokens.next() {
        None => (Some(lit), proc_macro2::TokenStream::new()),
        Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ',' => (Some(lit), tokens.collect()),
        Some(other) => {
            cx.error_spanned_by(other, "expected `,` after the resource's URI");
            (Some(lit), proc_macro2::TokenStream::new())
        }
    }
}

/// The candidate nearest to a mistyped `word`, if one is near enough to be what was meant: at
/// most one edit per three letters (an edit inserts, deletes or replaces a letter, or swaps two
/// neighbours), case ignored. Ties go to the first candidate.
pub(crate) fn nearest<'k>(word: &str, candidates: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let word = word.to_lowercase();
    let limit = word.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus transposition of neighbours.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: the distance between a[..i] and b[..j].
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Consumes whatever follows an unknown key: `= expr` or `(..)`.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

/// `read_only` alone means true; `read_only = false` is allowed.
fn flag(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        Ok(meta.value()?.parse::<LitBool>()?.value)
    } else {
        Ok(true)
    }
}

trait SpanOfKey {
    fn span_of_key(&self) -> Span;
}

impl SpanOfKey for Path {
    fn span_of_key(&self) -> Span {
        syn::spanned::Spanned::span(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, nearest};

    #[test]
    fn distances() {
        assert_eq!(edit_distance("readonly", "read_only"), 1);
        assert_eq!(edit_distance("titel", "title"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_what_is_near() {
        let keys = ["name", "title", "read_only", "destructive", "mime"];
        assert_eq!(nearest("readonly", keys), Some("read_only"));
        assert_eq!(nearest("ReadOnly", keys), Some("read_only"));
        assert_eq!(nearest("titel", keys), Some("title"));
        assert_eq!(nearest("mim", keys), Some("mime"));
        assert_eq!(nearest("destructve", keys), Some("destructive"));
        assert_eq!(nearest("cheap", keys), None);
        assert_eq!(nearest("x", keys), None);
    }
}
