//! Procedural macros of the [`mcp`](https://docs.rs/mcp) crate. Use them through `mcp`:
//! `#[mcp::tool]` and `mcp::tools![..]`.
//!
//! Each macro goes parse → model → check → expand: `attr` and `doc` parse, `ast` builds
//! and checks the model (every error collected by `ctxt`, spanned on the tokens at fault),
//! `expand` generates code. On error the user's function is still emitted as written.

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod ast;
mod attr;
mod ctxt;
mod doc;
mod expand;
mod list;

/// Makes an `async fn` (or a plain `fn`, or a `&self` method) a tool. See the `mcp` crate.
#[proc_macro_attribute]
pub fn tool(args: TokenStream, item: TokenStream) -> TokenStream {
    handler_impl(attr::Kind::Tool, args.into(), &item.into()).into()
}

/// Makes a function a prompt. See the `mcp` crate.
#[proc_macro_attribute]
pub fn prompt(args: TokenStream, item: TokenStream) -> TokenStream {
    handler_impl(attr::Kind::Prompt, args.into(), &item.into()).into()
}

/// Makes a function a resource, or a resource template: `#[mcp::resource("notes://{id}")]`.
/// See the `mcp` crate.
#[proc_macro_attribute]
pub fn resource(args: TokenStream, item: TokenStream) -> TokenStream {
    handler_impl(attr::Kind::Resource, args.into(), &item.into()).into()
}

/// The descriptors of the named tools, in order: `mcp::tools![add, math::mul, Counter::incr]`.
#[proc_macro]
pub fn tools(input: TokenStream) -> TokenStream {
    list::list(attr::Kind::Tool, input.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// The descriptors of the named prompts, in order.
#[proc_macro]
pub fn prompts(input: TokenStream) -> TokenStream {
    list::list(attr::Kind::Prompt, input.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// The descriptors of the named resources, in order.
#[proc_macro]
pub fn resources(input: TokenStream) -> TokenStream {
    list::list(attr::Kind::Resource, input.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

fn handler_impl(
    kind: attr::Kind,
    args: proc_macro2::TokenStream,
    item: &proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item_fn: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new_spanned(
                item,
                format!("{} goes on a function: `async fn name(args..) -> T`", kind.attribute()),
            );
            let errors = e.to_compile_error();
            return quote::quote!(#item #errors);
        }
    };
    let cx = ctxt::Ctxt::new();
    let attrs = attr::Attrs::parse(&cx, kind, args);
    let model = ast::HandlerFn::from_syn(&cx, kind, &item_fn, attrs);
    match cx.check() {
        Ok(()) => expand::handler(&model),
        Err(e) => expand::fallback(kind, &item_fn, &model.krate, &ctxt::to_compile_errors(&e)),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn errors(args: proc_macro2::TokenStream, item: &proc_macro2::TokenStream) -> Vec<String> {
        let out = super::handler_impl(crate::attr::Kind::Tool, args, item).to_string();
        out.match_indices("compile_error")
            .map(|(i, _)| out[i..].split(')').next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn every_bad_key_is_reported_in_one_build() {
        let errs = errors(
            quote!(fast, name = "has space", cheap = 3),
            &quote!(
                async fn add(a: i64) -> i64 {
                    a
                }
            ),
        );
        assert_eq!(errs.len(), 3, "{errs:#?}");
    }

    #[test]
    fn the_function_is_emitted_unchanged_even_on_error() {
        let out = super::handler_impl(
            crate::attr::Kind::Tool,
            quote!(bogus),
            &quote!(
                async fn add(a: i64) -> i64 {
                    a
                }
            ),
        )
        .to_string();
        assert!(out.contains("async fn add (a : i64) -> i64 { a }"), "{out}");
        assert!(
            out.contains("fn __mcp_tool_add"),
            "a stub descriptor keeps `tools![add]` compiling: {out}"
        );
    }
}
