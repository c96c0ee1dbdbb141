//! What generated code names, and nothing else: everything `#[mcp::tool]`, `#[mcp::prompt]`,
//! `#[mcp::resource]` and the `*_tools!` lists call lives here or is re-exported from here, as
//! `::mcp::__private::…`. Not a stable API: only the macros use it.

use std::future::Future;

pub use crate::protocol::TaskSupport;
pub use crate::server::call::{InputRequired, ToolCall};
pub use crate::server::completion::Completer;
pub use crate::server::extract::{
    Declaration, FromCallParts, FromStrArg, FromToolCall, ParamKinds, State, ViaArgument,
};
pub use crate::server::prompt::{IntoPromptResult, PromptDef, PromptFuture, PromptInfo, PromptOutput};
pub use crate::server::resource::{IntoResourceResult, ResourceDef, ResourceFuture, ResourceInfo, ResourceOutput};
pub use crate::server::tool::{IntoToolResult, Output, ToolDef, ToolFuture, ToolInfo, ToolOutput};
pub use ::core::module_path;
pub use ::core::option::Option::{self, None, Some};
pub use ::core::result::Result::{self, Err, Ok};
pub use ::inventory;
pub use ::schemars;
pub use ::serde_json::Value;
pub use ::std::boxed::Box;

/// Checks, at the return type, that a prompt may return it.
pub const fn assert_prompt_result<T: IntoPromptResult>() {}

/// Checks, at the return type, that a resource may return it.
pub const fn assert_resource_result<T: IntoResourceResult>() {}

/// Serialises what an attribute's `meta = ..` or `input_schema = ..` gives.
pub fn to_value<T: ::serde::Serialize>(value: T) -> Value {
    ::serde_json::to_value(value).expect("the attribute's value must serialise to JSON")
}

/// Makes a completer from a function. Not a stable API: use `complete(arg = f)`.
#[doc(hidden)]
pub fn completer<F, Fut>(f: F) -> Completer
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<String>> + Send + 'static,
{
    Completer::new(f)
}

/// The output schema of a return type. Not a stable API.
#[doc(hidden)]
pub fn output_schema<R: IntoToolResult>() -> Option<Value> {
    R::output_schema()
}

/// Finishes a call: awaits the tool's future and converts what it returns. Not a stable API.
#[doc(hidden)]
pub fn respond<F>(output: Output, fut: F) -> ToolFuture
where
    F: Future + Send + 'static,
    F::Output: IntoToolResult,
{
    Box::pin(async move { fut.await.into_tool_output(output) })
}

/// A tool registered for `mcp::all_tools!`. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct AutoTool {
    pub module: &'static str,
    pub make: fn() -> ToolDef,
}

inventory::collect!(AutoTool);

/// Every tool that `#[mcp::tool]` registered in the crate `module_path` belongs to, by name.
/// Not a stable API: use `mcp::all_tools!`.
#[doc(hidden)]
pub fn collect_tools(module_path: &str) -> Vec<ToolDef> {
    collect_crate(
        module_path,
        inventory::iter::<AutoTool>.into_iter().map(|t| (t.module, t.make)),
        |t| t.name().to_owned(),
    )
}

/// The items of one crate among everything the macros registered (through `inventory`), sorted
/// by `key`: what `all_tools!`, `all_prompts!` and `all_resources!` return.
pub(crate) fn collect_crate<D>(
    module_path: &str,
    items: impl Iterator<Item = (&'static str, fn() -> D)>,
    key: impl Fn(&D) -> String,
) -> Vec<D> {
    let krate = module_path.split("::").next().unwrap_or(module_path);
    let mut out: Vec<D> = items
        .filter(|(module, _)| module.split("::").next() == Some(krate))
        .map(|(_, make)| make())
        .collect();
    out.sort_by_key(|d| key(d));
    out
}

/// Finishes a prompt call. Not a stable API.
#[doc(hidden)]
pub fn respond_prompt<F>(fut: F) -> PromptFuture
where
    F: Future + Send + 'static,
    F::Output: IntoPromptResult,
{
    Box::pin(async move { fut.await.into_prompt_output() })
}

/// The error for a prompt call whose arguments did not all extract. Not a stable API.
#[doc(hidden)]
pub fn reject_prompt(call: &ToolCall) -> PromptFuture {
    let e = call.rejection("prompt");
    Box::pin(std::future::ready(PromptOutput::Error(e)))
}

/// A prompt registered for `all_prompts!`. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct AutoPrompt {
    pub module: &'static str,
    pub make: fn() -> PromptDef,
}

inventory::collect!(AutoPrompt);

/// Every prompt `#[mcp::prompt]` registered in the crate of `module_path`, by name. Not a stable API.
#[doc(hidden)]
pub fn collect_prompts(module_path: &str) -> Vec<PromptDef> {
    collect_crate(
        module_path,
        inventory::iter::<AutoPrompt>.into_iter().map(|a| (a.module, a.make)),
        |p| p.name().to_owned(),
    )
}

/// Finishes a read. Not a stable API.
#[doc(hidden)]
pub fn respond_resource<F>(call: &ToolCall, fut: F) -> ResourceFuture
where
    F: Future + Send + 'static,
    F::Output: IntoResourceResult,
{
    let uri = call.uri.clone().unwrap_or_default();
    let mime = call.mime.clone();
    Box::pin(async move { fut.await.into_resource_output(&uri, mime.as_deref()) })
}

/// The error for a read whose variables did not all extract. Not a stable API.
#[doc(hidden)]
pub fn reject_resource(call: &ToolCall) -> ResourceFuture {
    let e = call.rejection("resource");
    Box::pin(std::future::ready(ResourceOutput::Error(e)))
}

/// A resource registered for `all_resources!`. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct AutoResource {
    pub module: &'static str,
    pub make: fn() -> ResourceDef,
}

inventory::collect!(AutoResource);

/// Every resource `#[mcp::resource]` registered in the crate of `module_path`, by URI. Not a
/// stable API.
#[doc(hidden)]
pub fn collect_resources(module_path: &str) -> Vec<ResourceDef> {
    collect_crate(
        module_path,
        inventory::iter::<AutoResource>.into_iter().map(|a| (a.module, a.make)),
        |r| r.uri().to_owned(),
    )
}
