//! The model of a `#[mcp::tool]`, `#[mcp::prompt]` or `#[mcp::resource]` function, built from
//! syn's tree and checked.

use crate::attr::{Attrs, Kind};
use crate::ctxt::Ctxt;
use crate::doc::{self, Description};
use mcp_grammar::uri_template::Template;
use mcp_grammar::{TOOL_NAME_RULE, is_valid_tool_name};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Type, Visibility};

/// A checked handler function.
pub(crate) struct HandlerFn<'a> {
    pub(crate) kind: Kind,
    pub(crate) original: &'a ItemFn,
    pub(crate) ident: &'a Ident,
    pub(crate) vis: &'a Visibility,
    pub(crate) is_async: bool,
    /// `&self`: a method of a state type.
    pub(crate) is_method: bool,
    pub(crate) params: Vec<Param<'a>>,
    /// The declared return type; `None` for `()`.
    pub(crate) ret: Option<&'a Type>,
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) description: Option<Description>,
    pub(crate) attrs: Attrs,
    pub(crate) krate: Path,
}

/// One parameter: an argument or an extractor (the runtime tells which, by trait).
pub(crate) struct Param<'a> {
    /// The name clients see: the identifier without `r#`.
    pub(crate) name: String,
    /// The type extracted: `T` for a parameter declared `&T`.
    pub(crate) ty: &'a Type,
    pub(crate) by_ref: bool,
    pub(crate) description: Option<String>,
    /// A resource parameter named after a URI template variable (else it is an extractor).
    pub(crate) is_var: bool,
    /// A tool argument's default (`defaults(name = value)`): the name as written there, and
    /// the value.
    pub(crate) default: Option<(Ident, syn::Expr)>,
}

impl<'a> HandlerFn<'a> {
    pub(crate) fn from_syn(cx: &Ctxt, kind: Kind, item: &'a ItemFn, attrs: Attrs) -> Self {
        let sig = &item.sig;
        let word = kind.word();
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            cx.error_spanned_by(
                &sig.generics,
                format!("a {word} cannot be generic: its parameter types make what clients see"),
            );
        }
        if let Some(t) = &sig.unsafety {
            cx.error_spanned_by(t, format!("a {word} cannot be an `unsafe fn`"));
        }
        if let Some(abi) = &sig.abi {
            cx.error_spanned_by(abi, format!("a {word} cannot have an `extern` ABI"));
        }
        if let Some(v) = &sig.variadic {
            cx.error_spanned_by(v, format!("a {word} cannot be variadic"));
        }

        let docs = doc::parse(&item.attrs);
        let mut is_method = false;
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() {
                        is_method = true;
                    } else {
                        cx.error_spanned_by(
                            r,
                            format!("a {word} method takes `&self`: the server shares one value of the type (use interior mutability to change it)"),
                        );
                    }
                }
                FnArg::Typed(pt) => {
                    let Pat::Ident(pi) = &*pt.pat else {
                        cx.error_spanned_by(
                            &pt.pat,
                            format!("a {word} parameter must be a plain name: its name is the argument's name"),
                        );
                        continue;
                    };
                    if pi.by_ref.is_some() || pi.subpat.is_some() {
                        cx.error_spanned_by(
                            &pt.pat,
                            format!("a {word} parameter must be a plain name: its name is the argument's name"),
                        );
                        continue;
                    }
                    let (ty, by_ref) = match &*pt.ty {
                        Type::Reference(r) => {
                            if r.mutability.is_some() {
                                cx.error_spanned_by(
                                    &pt.ty,
                                    format!("a {word} parameter cannot be `&mut`: take it by value or by `&`"),
                                );
                            }
                            if is_unsized(&r.elem) {
                                cx.error_spanned_by(
                                    &pt.ty,
                                    format!("a {word} argument is owned: use `String` for `&str`, `Vec<T>` for `&[T]`"),
                                );
                            }
                            (&*r.elem, true)
                        }
                        other => (other, false),
                    };
                    if let Type::ImplTrait(_) = ty {
                        cx.error_spanned_by(ty, format!("a {word} parameter cannot be `impl Trait`: name the type"));
                    }
                    let name = pi.ident.to_string().trim_start_matches("r#").to_owned();
                    params.push(Param {
                        name,
                        ty,
                        by_ref,
                        description: None,
                        is_var: false,
                        default: None,
                    });
                }
            }
        }

        // Argument descriptions: `args(..)` in the attribute wins over the doc comment's list.
        for (name, text, span) in &docs.arguments {
            match params.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.description = Some(text.clone()),
                None => cx.error_at(
                    *span,
                    format!("the doc comment describes argument `{name}`, but the function has no such parameter"),
                ),
            }
        }
        for (ident, text) in &attrs.args {
            match params.iter_mut().find(|p| ident == &p.name) {
                Some(p) => p.description = Some(text.value()),
                None => cx.error_spanned_by(
                    ident,
                    format!("`args` describes `{ident}`, but the function has no such parameter"),
                ),
            }
        }

        for (ident, value) in &attrs.defaults {
            match params.iter_mut().find(|p| ident == &p.name) {
                None => {
                    let hint = crate::attr::nearest(&ident.to_string(), params.iter().map(|p| p.name.as_str()))
                        .map(|near| format!("; did you mean `{near}`?"))
                        .unwrap_or_default();
                    cx.error_spanned_by(
                        ident,
                        format!("`defaults` names `{ident}`, but the function has no such parameter{hint}"),
                    );
                }
                Some(p) if is_option(p.ty) => cx.error_spanned_by(
                    ident,
                    format!(
                        "`{ident}` is an `Option`, so it is already optional (absent is `None`): \
                         give the parameter its inner type to have a default"
                    ),
                ),
                Some(p) => p.default = Some((ident.clone(), value.clone())),
            }
        }

        let ret = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => {
                if let Type::ImplTrait(_) = &**ty {
                    cx.error_spanned_by(ty, format!("a {word}'s return type must be named, not `impl Trait`"));
                }
                Some(&**ty)
            }
        };

        let (name, name_span) = match &attrs.name {
            Some((lit, _)) => (lit.value(), lit.span()),
            None => (
                sig.ident.to_string().trim_start_matches("r#").to_owned(),
                sig.ident.span(),
            ),
        };
        if kind == Kind::Tool && !is_valid_tool_name(&name) {
            cx.error_at(name_span, format!("invalid tool name `{name}`: use {TOOL_NAME_RULE}"));
        }
        if name.is_empty() {
            cx.error_at(name_span, format!("a {word} name cannot be empty"));
        }

        // Resources: the URI template's variables and the parameters must agree.
        let mut variables = Vec::new();
        if let (Kind::Resource, Some(uri)) = (kind, &attrs.uri) {
            match Template::parse(&uri.value()) {
                Err(why) => cx.error_spanned_by(uri, why),
                Ok(template) => {
                    let vars: Vec<String> = template.variables().map(str::to_owned).collect();
                    for var in &vars {
                        match params.iter_mut().find(|p| &p.name == var) {
                            Some(p) => p.is_var = true,
                            None => cx.error_spanned_by(
                                uri,
                                format!("the URI template's variable `{var}` has no parameter: add `{var}: T` to the function"),
                            ),
                        }
                    }
                    variables = vars;
                }
            }
        }
        for (ident, _) in &attrs.headers {
            if !params.iter().any(|p| ident == &p.name) {
                cx.error_spanned_by(
                    ident,
                    format!("`headers` names `{ident}`, which is no argument of this tool"),
                );
            }
        }
        for (ident, _) in &attrs.complete {
            let known = match kind {
                Kind::Resource => variables.iter().any(|v| ident == v),
                _ => params.iter().any(|p| ident == &p.name),
            };
            if !known {
                let what = if kind == Kind::Resource {
                    "URI template variable"
                } else {
                    "argument"
                };
                cx.error_spanned_by(
                    ident,
                    format!("`complete` names `{ident}`, which is no {what} of this {word}"),
                );
            }
        }

        let description = match &attrs.description {
            Some((lit, _)) => Some(Description::Text(lit.value())),
            None => docs.description,
        };
        let krate = attrs
            .krate
            .as_ref()
            .map_or_else(|| syn::parse_quote!(::mcp), |(p, _)| p.clone());
        Self {
            kind,
            original: item,
            ident: &sig.ident,
            vis: &item.vis,
            is_async: sig.asyncness.is_some(),
            is_method,
            params,
            ret,
            name,
            name_span,
            description,
            attrs,
            krate,
        }
    }

    /// A span for errors about the whole function: its `fn` token.
    pub(crate) fn fn_span(&self) -> Span {
        self.original.sig.fn_token.span()
    }

    pub(crate) fn title(&self) -> Option<&LitStr> {
        self.attrs.title.as_ref().map(|(l, _)| l)
    }
}

/// Whether a type is written `Option<..>` (or `std::option::Option<..>`): a default on it has
/// no meaning. An alias hides it, and then the default is `Some(value)`'s JSON, still correct.
fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}

fn is_unsized(ty: &Type) -> bool {
    match ty {
        Type::Slice(_) | Type::TraitObject(_) => true,
        Type::Path(p) => p.qself.is_none() && p.path.is_ident("str"),
        _ => false,
    }
}
