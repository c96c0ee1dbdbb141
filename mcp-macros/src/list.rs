//! `tools![a, path::b, Type::method]` (and `prompts!`, `resources!`): the descriptors of the
//! named items, in order.

use crate::attr::Kind;
use crate::expand::descriptor_ident;
use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Path, Token};

pub(crate) fn list(kind: Kind, input: TokenStream) -> syn::Result<TokenStream> {
    let paths = Punctuated::<Path, Token![,]>::parse_terminated.parse2(input)?;
    let mut seen: Vec<String> = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut calls = Vec::new();
    for path in paths {
        let key = quote!(#path).to_string();
        if seen.contains(&key) {
            let e = syn::Error::new_spanned(&path, format!("`{}` is listed twice", key.replace(' ', "")));
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
            continue;
        }
        seen.push(key);
        let mut descriptor = path.clone();
        let last = descriptor.segments.last_mut().expect("a path has a segment");
        last.ident = descriptor_ident(kind, &last.ident);
        calls.push(quote!(#descriptor()));
    }
    if let Some(e) = errors {
        return Err(e);
    }
    Ok(quote!(::std::vec::Vec::from([#(#calls),*])))
}
