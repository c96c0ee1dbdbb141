//! Code generation. Nothing here parses or checks: the model is already valid.

use crate::ast::HandlerFn;
use crate::attr::Kind;
use crate::doc::Description;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, Path};

/// The name of the descriptor function generated beside `ident`.
pub(crate) fn descriptor_ident(kind: Kind, ident: &Ident) -> Ident {
    let name = ident.to_string();
    format_ident!(
        "__mcp_{}_{}",
        kind.word(),
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

/// The descriptor, its name guard and its auto-registration, beside the function as written.
pub(crate) fn handler(model: &HandlerFn<'_>) -> TokenStream {
    let kind = model.kind;
    let krate = &model.krate;
    let private = quote!(#krate::__private);
    let original = model.original;
    let vis = model.vis;
    let ident = model.ident;
    let descriptor = descriptor_ident(kind, ident);
    let name = &model.name;

    let description = match &model.description {
        Some(Description::Text(t)) => quote!(#private::Some(#t)),
        Some(Description::Tokens(t)) => quote!(#private::Some(#t)),
        None => quote!(#private::None),
    };
    let title = opt_str(model.title().map(syn::LitStr::value).as_deref());
    let icons = &model.attrs.icons;
    let meta = match &model.attrs.meta {
        Some((expr, _)) => quote!(#private::Some(|| #private::to_value(#expr))),
        None => quote!(#private::None),
    };

    // Declarations and extractions, each spanned on its parameter's type so that a type the
    // kind cannot take is reported there.
    let mut declares = Vec::new();
    let mut extracts = Vec::new();
    let mut bindings = Vec::new();
    let mut call_args = Vec::new();
    if model.is_method {
        let self_ty = quote!(#private::State<Self>);
        declares.push(quote!(<#self_ty as #private::FromCallParts>::declare(__mcp_decl);));
        extracts.push(quote!(let __mcp_self = __mcp_call.extract_parts::<#self_ty>();));
        bindings.push(format_ident!("__mcp_self"));
    }
    // Tools: the parameters' kinds, folded one at a time, so that a tool that mixes `Args<T>`
    // with argument parameters is reported at the parameter that makes the mix.
    let mut kinds = Vec::new();
    for (i, p) in model.params.iter().enumerate() {
        let ty = p.ty;
        if kind == Kind::Tool {
            kinds.push(quote_spanned!(ty.span()=> let __mcp_kinds = __mcp_kinds.then::<#ty, _>();));
        }
        let name = &p.name;
        let desc = opt_str(p.description.as_deref());
        let var = format_ident!("__mcp_arg{}", i);
        let (declare, extract) = match kind {
            Kind::Tool => (
                quote_spanned!(ty.span()=> <#ty as #private::FromToolCall<_>>::declare(__mcp_decl, #name, #desc);),
                quote_spanned!(ty.span()=> let #var = __mcp_call.extract::<#ty, _>(#name);),
            ),
            Kind::Prompt => (
                quote_spanned!(ty.span()=> <#ty as #private::FromStrArg<_>>::declare_arg(__mcp_decl, #name, #desc);),
                quote_spanned!(ty.span()=> let #var = __mcp_call.extract_str::<#ty, _>(#name);),
            ),
            Kind::Resource if p.is_var => (
                quote!(),
                quote_spanned!(ty.span()=> let #var = __mcp_call.extract_str::<#ty, #private::ViaArgument>(#name);),
            ),
            Kind::Resource => (
                quote_spanned!(ty.span()=> <#ty as #private::FromCallParts>::declare(__mcp_decl);),
                quote_spanned!(ty.span()=> let #var = __mcp_call.extract_parts::<#ty>();),
            ),
        };
        declares.push(declare);
        if let Some((key, value)) = &p.default {
            // A default on an extractor fails `argument_default`'s bound, at the parameter's type.
            let check = quote_spanned!(key.span()=> #private::Declaration::argument_default::<#ty>);
            declares.push(quote!(#check(__mcp_decl, #name, #private::to_value(&(#value)));));
        }
        extracts.push(extract);
        call_args.push(if p.by_ref { quote!(&#var) } else { quote!(#var) });
        bindings.push(var);
    }
    let reject = match kind {
        Kind::Tool => quote!(__mcp_call.reject()),
        Kind::Prompt => quote!(#private::reject_prompt(&__mcp_call)),
        Kind::Resource => quote!(#private::reject_resource(&__mcp_call)),
    };
    let destructure = if bindings.is_empty() {
        quote!()
    } else {
        quote! {
            let (#(#private::Some(#bindings),)*) = (#(#bindings,)*) else {
                return #reject;
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
    let respond_span = model.ident.span();

    let completers = model.attrs.complete.iter().map(|(arg, path)| {
        let arg = arg.to_string();
        quote!(.with_completer(#arg, #private::completer(#path)))
    });

    let body = match kind {
        Kind::Tool => {
            let read_only = opt_bool(model.attrs.read_only.as_ref());
            let destructive = opt_bool(model.attrs.destructive.as_ref());
            let idempotent = opt_bool(model.attrs.idempotent.as_ref());
            let open_world = opt_bool(model.attrs.open_world.as_ref());
            let input_schema = match &model.attrs.input_schema {
                Some((expr, _)) => quote!(#private::Some(|| #private::to_value(#expr))),
                None => quote!(#private::None),
            };
            let output_schema = quote_spanned!(ret_span=> #private::output_schema::<#ret_ty>);
            let headers = model.attrs.headers.iter().map(|(arg, name)| {
                let arg = arg.to_string();
                quote!((#arg, #name))
            });
            let respond = quote_spanned!(respond_span=> #private::respond);
            let scopes = &model.attrs.scopes;
            let task = syn::Ident::new(
                model.attrs.task.map_or("Forbidden", |(variant, _)| variant),
                proc_macro2::Span::call_site(),
            );
            quote! {
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
                        headers: &[#(#headers),*],
                        task: #private::TaskSupport::#task,
                        scopes: &[#(#scopes),*],
                    },
                    |__mcp_decl: &mut #private::Declaration| {
                        let __mcp_kinds = #private::ParamKinds::start();
                        #(#kinds)*
                        let _ = __mcp_kinds;
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
        }
        Kind::Prompt => {
            let check = quote_spanned!(ret_span=> #private::assert_prompt_result::<#ret_ty>(););
            let respond = quote_spanned!(respond_span=> #private::respond_prompt);
            quote! {
                #check
                #private::PromptDef::new(
                    &#private::PromptInfo {
                        name: #name,
                        title: #title,
                        description: #description,
                        icons: &[#(#icons),*],
                        meta: #meta,
                    },
                    |__mcp_decl: &mut #private::Declaration| {
                        #(#declares)*
                    },
                    |mut __mcp_call: #private::ToolCall| -> #private::PromptFuture {
                        #(#extracts)*
                        #destructure
                        #respond(async move { #call })
                    },
                )
                #(#completers)*
            }
        }
        Kind::Resource => {
            let uri = model.attrs.uri.as_ref().map(syn::LitStr::value).unwrap_or_default();
            let mime = opt_str(model.attrs.mime.as_ref().map(|(l, _)| l.value()).as_deref());
            let size = match &model.attrs.size {
                Some((lit, _)) => quote!(#private::Some(#lit)),
                None => quote!(#private::None),
            };
            let allow_traversal = model.attrs.allow_traversal.as_ref().is_some_and(|(b, _)| *b);
            let audience = &model.attrs.audience;
            let priority = match &model.attrs.priority {
                Some((p, _)) => quote!(#private::Some(#p)),
                None => quote!(#private::None),
            };
            let check = quote_spanned!(ret_span=> #private::assert_resource_result::<#ret_ty>(););
            let respond = quote_spanned!(respond_span=> #private::respond_resource);
            quote! {
                #check
                #private::ResourceDef::new(
                    &#private::ResourceInfo {
                        uri: #uri,
                        name: #name,
                        title: #title,
                        description: #description,
                        mime_type: #mime,
                        size: #size,
                        icons: &[#(#icons),*],
                        meta: #meta,
                        allow_traversal: #allow_traversal,
                        audience: &[#(#audience),*],
                        priority: #priority,
                    },
                    |__mcp_decl: &mut #private::Declaration| {
                        #(#declares)*
                    },
                    |mut __mcp_call: #private::ToolCall| -> #private::ResourceFuture {
                        #(#extracts)*
                        #destructure
                        #respond(&__mcp_call, async move { #call })
                    },
                )
                #(#completers)*
            }
        }
    };
    let def_ty = def_type(kind, &private);

    let descriptor_fn = quote! {
        #[doc(hidden)]
        #[allow(non_snake_case, unused_mut, clippy::all, clippy::pedantic)]
        #vis fn #descriptor() -> #def_ty {
            #body
        }
    };

    let name_guard = name_guard(kind, name, model.name_span);
    let auto = if model.is_method {
        quote!()
    } else {
        let auto_ty = match kind {
            Kind::Tool => quote!(AutoTool),
            Kind::Prompt => quote!(AutoPrompt),
            Kind::Resource => quote!(AutoResource),
        };
        quote! {
            #private::inventory::submit! {
                #private::#auto_ty { module: #private::module_path!(), make: #descriptor }
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

fn def_type(kind: Kind, private: &TokenStream) -> TokenStream {
    match kind {
        Kind::Tool => quote!(#private::ToolDef),
        Kind::Prompt => quote!(#private::PromptDef),
        Kind::Resource => quote!(#private::ResourceDef),
    }
}

/// A constant named after the tool or prompt: two with one name in one scope collide on it,
/// and the compiler reports the second at its name, in words: "the name
/// `__mcp_more_than_one_tool_is_named_add` is defined multiple times". (Resources are told
/// apart by URI, which the server checks when it starts.)
fn name_guard(kind: Kind, name: &str, span: Span) -> TokenStream {
    if kind == Kind::Resource {
        return quote!();
    }
    let mut encoded = String::new();
    for c in name.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => encoded.push(c),
            other => encoded.push_str(&format!("_{:x}_", other as u32)),
        }
    }
    let guard = Ident::new(&format!("__mcp_more_than_one_{}_is_named_{encoded}", kind.word()), span);
    quote_spanned! {span=>
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #guard: () = ();
    }
}

/// What is emitted when the attribute has errors: the function as written, the errors, and a
/// descriptor stub so that code naming it (`tools![..]`) still type-checks.
pub(crate) fn fallback(kind: Kind, item: &ItemFn, krate: &Path, errors: &TokenStream) -> TokenStream {
    let vis = &item.vis;
    let descriptor = descriptor_ident(kind, &item.sig.ident);
    let def_ty = def_type(kind, &quote!(#krate::__private));
    quote! {
        #item
        #errors
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code, unreachable_code, clippy::all)]
        #vis fn #descriptor() -> #def_ty {
            ::core::unreachable!()
        }
    }
}
