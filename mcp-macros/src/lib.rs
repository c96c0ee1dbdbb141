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
    tool_impl(args.into(), &item.into()).into()
}

/// The descriptors of the named tools, in order: `mcp::tools![add, math::mul, Counter::incr]`.
#[proc_macro]
pub fn tools(input: TokenStream) -> TokenStream {
    list::tools(input.into())
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

fn tool_impl(
    args: proc_macro2::TokenStream,
    item: &proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item_fn: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new_spanned(
                item,
                "#[mcp::tool] goes on a function: `async fn name(args..) -> T`",
            );
            let errors = e.to_compile_error();
            return quote::quote!(#item #errors);
        }
    };
    let cx = ctxt::Ctxt::new();
    let attrs = attr::ToolAttrs::parse(&cx, args);
    let model = ast::ToolFn::from_syn(&cx, &item_fn, attrs);
    match cx.check() {
        Ok(()) => expand::tool(&model),
        Err(e) => expand::fallback(&item_fn, &model.krate, &ctxt::to_compile_errors(&e)),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn errors(args: proc_macro2::TokenStream, item: &proc_macro2::TokenStream) -> Vec<String> {
        let out = super::tool_impl(args, item).to_string();
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
        let out = super::tool_impl(
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
