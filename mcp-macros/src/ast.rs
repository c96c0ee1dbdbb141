//! The model of a `#[mcp::tool]` function, built from syn's tree and checked.

use crate::attr::ToolAttrs;
use crate::ctxt::Ctxt;
use crate::doc::{self, Description};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Type, Visibility};

/// A checked tool function.
pub(crate) struct ToolFn<'a> {
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
    pub(crate) attrs: ToolAttrs,
    pub(crate) krate: Path,
}

/// One parameter: an argument or an extractor (the runtime tells which, by trait).
pub(crate) struct Param<'a> {
    pub(crate) ident: &'a Ident,
    /// The name clients see: the identifier without `r#`.
    pub(crate) name: String,
    /// The type extracted: `T` for a parameter declared `&T`.
    pub(crate) ty: &'a Type,
    pub(crate) by_ref: bool,
    pub(crate) description: Option<String>,
}

/// Tool names: 1–128 characters of `[A-Za-z0-9_.-]`.
pub(crate) fn valid_tool_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl<'a> ToolFn<'a> {
    pub(crate) fn from_syn(cx: &Ctxt, item: &'a ItemFn, attrs: ToolAttrs) -> Self {
        let sig = &item.sig;
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            cx.error_spanned_by(
                &sig.generics,
                "a tool cannot be generic: its parameter types make its input schema",
            );
        }
        if let Some(t) = &sig.unsafety {
            cx.error_spanned_by(t, "a tool cannot be an `unsafe fn`");
        }
        if let Some(abi) = &sig.abi {
            cx.error_spanned_by(abi, "a tool cannot have an `extern` ABI");
        }
        if let Some(v) = &sig.variadic {
            cx.error_spanned_by(v, "a tool cannot be variadic");
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
                            "a tool method takes `&self`: the server shares one value of the type (use interior mutability to change it)",
                        );
                    }
                }
                FnArg::Typed(pt) => {
                    let Pat::Ident(pi) = &*pt.pat else {
                        cx.error_spanned_by(&pt.pat, "a tool parameter must be a plain name: its name is the argument's name");
                        continue;
                    };
                    if pi.by_ref.is_some() || pi.subpat.is_some() {
                        cx.error_spanned_by(&pt.pat, "a tool parameter must be a plain name: its name is the argument's name");
                        continue;
                    }
                    let (ty, by_ref) = match &*pt.ty {
                        Type::Reference(r) => {
                            if r.mutability.is_some() {
                                cx.error_spanned_by(
                                    &pt.ty,
                                    "a tool parameter cannot be `&mut`: take it by value or by `&`",
                                );
                            }
                            if is_unsized(&r.elem) {
                                cx.error_spanned_by(
                                    &pt.ty,
                                    "a tool argument is owned: use `String` for `&str`, `Vec<T>` for `&[T]`",
                                );
                            }
                            (&*r.elem, true)
                        }
                        other => (other, false),
                    };
                    if let Type::ImplTrait(_) = ty {
                        cx.error_spanned_by(
                            ty,
                            "a tool parameter cannot be `impl Trait`: name the type",
                        );
                    }
                    let name = pi.ident.to_string().trim_start_matches("r#").to_owned();
                    params.push(Param {
                        ident: &pi.ident,
                        name,
                        ty,
                        by_ref,
                        description: None,
                    });
                }
            }
        }

        // Argument descriptions: `args(..)` in the attribute wins over the doc comment's list.
        for (name, text, span) in &docs.arguments {
            match params.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.description = Some(text.clone()),
                None => cx.error_at(*span, format!("the doc comment describes argument `{name}`, but the function has no such parameter")),
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

        let ret = match &sig.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => {
                if let Type::ImplTrait(_) = &**ty {
                    cx.error_spanned_by(ty, "a tool's return type must be named, not `impl Trait`");
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
        if !valid_tool_name(&name) {
            cx.error_at(
                name_span,
                format!("invalid tool name `{name}`: use 1 to 128 characters of A-Z a-z 0-9 _ . -"),
            );
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

fn is_unsized(ty: &Type) -> bool {
    match ty {
        Type::Slice(_) | Type::TraitObject(_) => true,
        Type::Path(p) => p.qself.is_none() && p.path.is_ident("str"),
        _ => false,
    }
}
