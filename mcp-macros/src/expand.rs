//! Code generation. Nothing here parses or checks: the model is already valid.

use crate::ast::ToolFn;
use crate::doc::Description;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, Path};

/// The name of the descriptor function generated beside `ident`.
pub(crate) fn descriptor_ident(ident: &Ident) -> Ident {
    let name = ident.to_string();
    format_ident!(
        "__mcp_tool_{}",
        name.trim_start_matches("r#"),
        span = ident.span()
    )
}

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_bool(v: Option<&(bool, Span)>) -> TokenStream {
    match v {
        Some((b, _)) => quote!(::core::option::Option::Some(#b)),
        None => quote!(::core::option::Option::None),
    }
}

pub(crate) fn tool(model: &ToolFn<'_>) -> TokenStream {
    let krate = &model.krate;
    let private = quote!(#krate::__private);
    let original = model.original;
    let vis = model.vis;
    let ident = model.ident;
    let descriptor = descriptor_ident(ident);
    let name = &model.name;

    let description = match &model.description {
        Some(Description::Text(t)) => quote!(#private::Some(#t)),
        Some(Description::Tokens(t)) => quote!(#private::Some(#t)),
        None => quote!(#private::None),
    };
    let title = opt_str(model.title().map(syn::LitStr::value).as_deref());
    let read_only = opt_bool(model.attrs.read_only.as_ref());
    let destructive = opt_bool(model.attrs.destructive.as_ref());
    let idempotent = opt_bool(model.attrs.idempotent.as_ref());
    let open_world = opt_bool(model.attrs.open_world.as_ref());
    let icons = &model.attrs.icons;
    let meta = match &model.attrs.meta {
        Some((expr, _)) => quote!(#private::Some(|| #private::to_value(#expr))),
        None => quote!(#private::None),
    };
    let input_schema = match &model.attrs.input_schema {
        Some((expr, _)) => quote!(#private::Some(|| #private::to_value(#expr))),
        None => quote!(#private::None),
    };

    // Declarations and extractions, each spanned on its parameter's type so that a type which
    // is neither an argument nor an extractor is reported there.
    let mut declares = Vec::new();
    let mut extracts = Vec::new();
    let mut bindings = Vec::new();
    let mut call_args = Vec::new();
    if model.is_method {
        let self_ty = quote!(#private::State<Self>);
        declares.push(quote!(<#self_ty as #private::FromToolCall<_>>::declare(__mcp_decl, "self", #private::None);));
        extracts.push(quote!(let __mcp_self = __mcp_call.extract::<#self_ty, _>("self");));
        bindings.push(format_ident!("__mcp_self"));
    }
    for (i, p) in model.params.iter().enumerate() {
        let ty = p.ty;
        let name = &p.name;
        let desc = opt_str(p.description.as_deref());
        let var = format_ident!("__mcp_arg{}", i);
        declares.push(quote_spanned! {ty.span()=>
            <#ty as #private::FromToolCall<_>>::declare(__mcp_decl, #name, #desc);
        });
        extracts.push(quote_spanned! {ty.span()=>
            let #var = __mcp_call.extract::<#ty, _>(#name);
        });
        call_args.push(if p.by_ref {
            quote!(&#var)
        } else {
            quote!(#var)
        });
        bindings.push(var);
    }
    let _ = &model.params.iter().map(|p| p.ident).collect::<Vec<_>>();
    let destructure = if bindings.is_empty() {
        quote!()
    } else {
        quote! {
            let (#(#private::Some(#bindings),)*) = (#(#bindings,)*) else {
                return __mcp_call.reject();
            };
        }
    };
    let callee = if model.is_method {
        quote!(Self::#ident(&*__mcp_self, #(#call_args),*))
    } else {
        quote!(#ident(#(#call_args),*))
    };
    let call = if model.is_async {
        quote!(#callee.await)
    } else {
        quote!(#callee)
    };
    let ret_ty = match model.ret {
        Some(t) => quote!(#t),
        None => quote!(()),
    };
    let ret_span = model.ret.map_or_else(|| model.fn_span(), Spanned::span);
    let output_schema = quote_spanned!(ret_span=> #private::output_schema::<#ret_ty>);
    let respond = quote_spanned!(model.ident.span()=> #private::respond);

    let descriptor_fn = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, unused_mut, clippy::all, clippy::pedantic)]
        #vis fn #descriptor() -> #private::ToolDef {
            #private::ToolDef::new(
                &#private::ToolInfo {
                    name: #name,
                    title: #title,
                    description: #description,
                    read_only: #read_only,
                    destructive: #destructive,
                    idempotent: #idempotent,
                    open_world: #open_world,
                    icons: &[#(#icons),*],
                    meta: #meta,
                    input_schema: #input_schema,
                },
                |__mcp_decl: &mut #private::Declaration| {
                    #(#declares)*
                },
                #output_schema,
                |mut __mcp_call: #private::ToolCall| -> #private::ToolFuture {
                    #(#extracts)*
                    #destructure
                    if let #private::Some(__mcp_rejection) = __mcp_call.reject_unknown() {
                        return __mcp_rejection;
                    }
                    let __mcp_output = __mcp_call.output();
                    #respond(__mcp_output, async move { #call })
                },
            )
        }
    };

    let name_guard = name_guard(name, model.name_span);
    let auto = if model.is_method {
        quote!()
    } else {
        quote! {
            #private::inventory::submit! {
                #private::AutoTool { module: #private::module_path!(), make: #descriptor }
            }
        }
    };
    quote! {
        #original
        #descriptor_fn
        #name_guard
        #auto
    }
}

/// A constant named after the tool: two tools with one name in one scope collide on it, and the
/// compiler reports the second at its name, in words: "the name
/// `__mcp_more_than_one_tool_is_named_add` is defined multiple times".
fn name_guard(name: &str, span: Span) -> TokenStream {
    let mut encoded = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => encoded.push(c),
            other => encoded.push_str(&format!("_{:x}_", other as u32)),
        }
    }
    let guard = Ident::new(
        &format!("__mcp_more_than_one_tool_is_named_{encoded}"),
        span,
    );
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #guard: () = ();
    }
}

/// What is emitted when the attribute has errors: the function as written, the errors, and a
/// descriptor stub so that code naming the tool (`tools![..]`) still type-checks.
pub(crate) fn fallback(item: &ItemFn, krate: &Path, errors: &TokenStream) -> TokenStream {
    let vis = &item.vis;
    let descriptor = descriptor_ident(&item.sig.ident);
    quote! {
        #item
        #errors
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, unreachable_code, clippy::all)]
        #vis fn #descriptor() -> #krate::__private::ToolDef {
            ::core::unreachable!()
        }
    }
}
