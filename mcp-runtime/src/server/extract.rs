//! Parameters of a tool: arguments and extractors, told apart by trait, as axum does.
//!
//! Every parameter of a `#[mcp::tool]` function goes through [`FromToolCall`]. Two blanket
//! impls cover it, kept apart by a marker type:
//!
//! - an *argument* is any `T: Deserialize + JsonSchema`: it becomes a property of the input
//!   schema, named after the parameter, and is read from the call's `arguments`;
//! - an *extractor* is any `T:` [`FromCallParts`] (`Context`, `State<T>`, or a type of
//!   yours): it takes what it needs from the call and adds nothing to the schema.
//!
//! A third impl makes [`Args<T>`] the whole arguments object: `T`'s fields are the arguments.
//!
//! So `use mcp::Context as Ctx; async fn f(c: &Ctx)` works, and so does your own extractor:
//! nothing matches type names.

use super::call::ToolCall;
use super::context::Context;
use super::schema::ObjectSchema;
use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::any::{Any, TypeId};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Marker for parameters that are arguments (`Deserialize + JsonSchema`).
#[derive(Debug)]
pub enum ViaArgument {}

/// Marker for parameters that are extractors ([`FromCallParts`]).
#[derive(Debug)]
pub enum ViaParts {}

/// Marker for [`Args<T>`]: the whole arguments object.
#[derive(Debug)]
pub enum ViaArgs {}

/// A type that can be a parameter of a tool. Implemented for you: see the module docs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a tool",
    label = "neither an argument nor an extractor",
    note = "an argument must implement `serde::Deserialize` and `schemars::JsonSchema` (derive both, or use `mcp::JsonSchema`)",
    note = "an extractor, such as `mcp::Context` or `mcp::State<T>`, implements `mcp::FromCallParts`"
)]
pub trait FromToolCall<M>: Sized {
    /// Takes the parameter named `name` out of the call.
    fn from_tool_call(call: &mut ToolCall, name: &str) -> Result<Self, String>;

    /// Declares the parameter: a schema property for an argument, a need for an extractor.
    fn declare(declaration: &mut Declaration, name: &str, description: Option<&str>);
}

/// What the parameters of one handler add up to: its input schema and the shared state it needs.
#[derive(Debug, Default)]
pub struct Declaration {
    pub(crate) schema: ObjectSchema,
    pub(crate) needs_state: Vec<(TypeId, &'static str)>,
    pub(crate) uses_context: bool,
    pub(crate) arguments: Vec<crate::protocol::PromptArgument>,
    /// Arguments' defaults (`defaults(name = value)`), applied when the argument is absent.
    pub(crate) defaults: Vec<(String, serde_json::Value)>,
    /// What is wrong with the declaration (a default that is no value of its type), reported
    /// when the server is built.
    pub(crate) problems: Vec<String>,
}

impl Declaration {
    /// Records that the handler keeps the request's `Context` (and so may ask the client for
    /// input): an extractor that holds on to the context says so here.
    pub fn uses_context(&mut self) {
        self.uses_context = true;
    }

    /// Records that the handler needs shared state of type `T` (checked when the server starts).
    pub fn needs_state<T: Any>(&mut self) {
        self.needs_state.push((TypeId::of::<T>(), std::any::type_name::<T>()));
    }

    /// Gives the argument `name` of type `T` a default: the schema shows it as `default` and no
    /// longer requires it, and a call without it (or with `null`) gets `value`, read as `T`
    /// as if the client had sent it. A value that is no `T` is reported when the server is
    /// built. What `defaults(name = value)` generates. Not a stable API.
    #[doc(hidden)]
    pub fn argument_default<T: ArgumentDefault>(&mut self, name: &str, value: serde_json::Value) {
        if let Err(e) = T::deserialize(&value) {
            self.problems.push(format!(
                "the default of `{name}`, {value}, is not a `{}`: {e}",
                std::any::type_name::<T>()
            ));
            return;
        }
        self.schema.set_default(name, value.clone());
        self.defaults.push((name.to_owned(), value));
    }
}

/// A parameter that can have a default: an argument (`Deserialize + JsonSchema`). Implemented
/// for you; only its error message matters. Not a stable API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot have a default: it is not an argument",
    label = "`defaults` names a parameter of type `{Self}`",
    note = "only arguments (`serde::Deserialize + schemars::JsonSchema`) take defaults; extractors such as `mcp::Context` and `mcp::State<T>` come from the call"
)]
pub trait ArgumentDefault: DeserializeOwned + JsonSchema {}

#[diagnostic::do_not_recommend]
impl<T: DeserializeOwned + JsonSchema> ArgumentDefault for T {}

/// An extractor: a parameter that is not an argument, built from the call's context.
///
/// Implement it for your own types to inject them into tools.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extractor",
    note = "extractors are `mcp::Context`, `mcp::State<T>`, and types that implement `mcp::FromCallParts`",
    note = "a resource's other parameters are its URI template variables: name the parameter after one, or add `{{name}}` to the template"
)]
pub trait FromCallParts: Sized {
    /// Builds the value for one call; an `Err` becomes the tool's error result.
    fn from_call_parts(ctx: &Context) -> Result<Self, String>;

    /// Declares what the extractor needs (shared state, say). Nothing by default.
    fn declare(_declaration: &mut Declaration) {}
}

impl<T: DeserializeOwned + JsonSchema> FromToolCall<ViaArgument> for T {
    fn from_tool_call(call: &mut ToolCall, name: &str) -> Result<Self, String> {
        match call.args.remove(name) {
            Some(v) => serde_json::from_value(v).map_err(|e| format!("invalid argument `{name}`: {e}")),
            None => T::deserialize(Missing).map_err(|_| format!("missing required argument `{name}`")),
        }
    }

    fn declare(declaration: &mut Declaration, name: &str, description: Option<&str>) {
        let required = T::deserialize(Missing).is_err();
        declaration.schema.property::<T>(name, description, required);
    }
}

/// A type that can be a parameter of a prompt or a resource, whose arguments (prompt arguments,
/// URI template variables) are strings on the wire. Implemented for you: any
/// `T: Deserialize` is read from the string (`"42"` as `u32`, `"go"` as a unit enum variant,
/// `Option<T>` when it may be absent), and any extractor is extracted.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a prompt or resource",
    label = "neither an argument nor an extractor",
    note = "an argument must implement `serde::Deserialize` (it is read from a string)",
    note = "an extractor, such as `mcp::Context` or `mcp::State<T>`, implements `mcp::FromCallParts`"
)]
pub trait FromStrArg<M>: Sized {
    /// Takes the argument named `name` out of the call.
    fn from_str_arg(call: &mut ToolCall, name: &str) -> Result<Self, String>;

    /// Declares the parameter: a prompt argument for an argument, a need for an extractor.
    fn declare_arg(declaration: &mut Declaration, name: &str, description: Option<&str>);
}

impl<T: DeserializeOwned> FromStrArg<ViaArgument> for T {
    fn from_str_arg(call: &mut ToolCall, name: &str) -> Result<Self, String> {
        match call.args.remove(name) {
            Some(serde_json::Value::String(s)) => {
                T::deserialize(super::strarg::StrArg(&s)).map_err(|e| format!("invalid argument `{name}`: {e}"))
            }
            Some(other) => serde_json::from_value(other).map_err(|e| format!("invalid argument `{name}`: {e}")),
            None => T::deserialize(Missing).map_err(|_| format!("missing required argument `{name}`")),
        }
    }

    fn declare_arg(declaration: &mut Declaration, name: &str, description: Option<&str>) {
        declaration.arguments.push(crate::protocol::PromptArgument {
            name: name.to_owned(),
            title: None,
            description: description.map(str::to_owned),
            required: T::deserialize(Missing).is_err(),
        });
    }
}

impl<T: FromCallParts> FromStrArg<ViaParts> for T {
    fn from_str_arg(call: &mut ToolCall, _name: &str) -> Result<Self, String> {
        T::from_call_parts(&call.ctx)
    }

    fn declare_arg(declaration: &mut Declaration, _name: &str, _description: Option<&str>) {
        T::declare(declaration);
    }
}

impl<T: FromCallParts> FromToolCall<ViaParts> for T {
    fn from_tool_call(call: &mut ToolCall, _name: &str) -> Result<Self, String> {
        T::from_call_parts(&call.ctx)
    }

    fn declare(declaration: &mut Declaration, _name: &str, _description: Option<&str>) {
        T::declare(declaration);
    }
}

/// All of a tool's arguments as one value: `T`'s fields are the arguments, and their doc
/// comments their descriptions.
///
/// `T` is any `Deserialize + JsonSchema` type whose schema is an object (a struct with named
/// fields, usually). Its schema is the tool's input schema: a field with `#[serde(default)]`
/// is optional and shows its `default`, an `Option` field is optional, and a
/// `#[serde(deny_unknown_fields)]` struct refuses arguments it does not name (without it,
/// they are ignored and the schema says so). `Args<T>` takes the whole object, so it goes with
/// extractors (`Context`, `State<T>`) but not with argument parameters: mixing them is a
/// compile error.
///
/// With `#[derive(Deserialize, JsonSchema)] struct Search { query: String, limit: u32 }`, the
/// tool `async fn search(ctx: Context, args: Args<Search>) -> String` has the arguments `query`
/// and `limit`; `let Args(Search { query, limit }) = args;` takes them apart. The `mcp`
/// crate's README ("Writing tools") has the example in full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Args<T>(pub T);

impl<T> Args<T> {
    /// The arguments.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Args<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Args<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + JsonSchema> FromToolCall<ViaArgs> for Args<T> {
    fn from_tool_call(call: &mut ToolCall, _name: &str) -> Result<Self, String> {
        let args = std::mem::take(&mut call.args);
        serde_json::from_value(serde_json::Value::Object(args))
            .map(Args)
            .map_err(|e| format!("invalid arguments: {e}"))
    }

    fn declare(declaration: &mut Declaration, _name: &str, _description: Option<&str>) {
        if let Err(problem) = declaration.schema.whole::<T>() {
            declaration.problems.push(problem);
        }
    }
}

/// The kinds of a tool's parameters so far, checked as the macro declares them, one at a
/// time: arguments and [`Args<T>`] do not mix. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct ParamKinds<S>(std::marker::PhantomData<S>);

/// No argument yet (extractors only). Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub enum NoArguments {}

/// Argument parameters. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub enum SomeArguments {}

/// An `Args<T>`. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub enum WholeArguments {}

/// What a tool's parameters so far become with one more. Not a stable API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a tool takes its arguments either as parameters or as one `mcp::Args<T>`, not both",
    label = "this parameter is one too many",
    note = "`mcp::Args<T>` is the whole arguments object: move this argument into `T`, or take every argument as its own parameter"
)]
pub trait Join<M> {
    /// The kinds with the parameter added.
    type Out;
}

impl<S> Join<ViaParts> for S {
    type Out = S;
}
impl Join<ViaArgument> for NoArguments {
    type Out = SomeArguments;
}
impl Join<ViaArgument> for SomeArguments {
    type Out = SomeArguments;
}
impl Join<ViaArgs> for NoArguments {
    type Out = WholeArguments;
}
/// Never used: with a second impl, `WholeArguments: Join<M>` alone cannot decide `M`, so `M`
/// comes from the parameter's type and a mix is reported as a mix, not as a parameter that
/// is no extractor.
impl Join<std::convert::Infallible> for WholeArguments {
    type Out = WholeArguments;
}

impl ParamKinds<NoArguments> {
    /// Before the first parameter.
    pub fn start() -> Self {
        Self(std::marker::PhantomData)
    }
}

impl<S> ParamKinds<S> {
    /// With the parameter of type `T` added.
    pub fn then<T: FromToolCall<M>, M>(self) -> ParamKinds<<S as Join<M>>::Out>
    where
        S: Join<M>,
    {
        ParamKinds(std::marker::PhantomData)
    }
}

/// A deserializer for an argument that is absent: `Option<T>` (and anything else that accepts
/// "none") becomes its empty value, every other type fails.
struct Missing;

#[derive(Debug)]
struct MissingError;

impl fmt::Display for MissingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("missing")
    }
}

impl std::error::Error for MissingError {}

impl de::Error for MissingError {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        MissingError
    }
}

impl<'de> Deserializer<'de> for Missing {
    type Error = MissingError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, MissingError> {
        Err(MissingError)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, MissingError> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl FromCallParts for Context {
    fn from_call_parts(ctx: &Context) -> Result<Self, String> {
        Ok(ctx.clone())
    }

    fn declare(declaration: &mut Declaration) {
        declaration.uses_context();
    }
}

/// Shared state of type `T`, registered with [`Server::state`](crate::Server::state).
///
/// It dereferences to `T` (even `state.0` reaches a tuple struct's field). A tool that takes
/// `State<T>` (or a method taking `&self` on `T`) can only be served by a
/// server that holds a `T`: the server checks this when it starts, and names what is missing.
pub struct State<T>(Arc<T>);

impl<T> State<T> {
    /// State around a shared value.
    pub fn new(value: Arc<T>) -> Self {
        Self(value)
    }

    /// The shared value's `Arc` (for keeping it beyond the call).
    pub fn arc(&self) -> &Arc<T> {
        &self.0
    }

    /// The shared value's `Arc`.
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }
}

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&self.0).finish()
    }
}

impl<T: Send + Sync + 'static> FromCallParts for State<T> {
    fn from_call_parts(ctx: &Context) -> Result<Self, String> {
        ctx.state::<T>()
            .map(State)
            .ok_or_else(|| format!("the server holds no state of type `{}`", std::any::type_name::<T>()))
    }

    fn declare(declaration: &mut Declaration) {
        declaration.needs_state::<T>();
    }
}

/// How generated code takes each parameter from a call.
impl ToolCall {
    /// Takes one parameter; on failure remembers why and returns `None`. Not a stable API.
    #[doc(hidden)]
    pub fn extract<T: FromToolCall<M>, M>(&mut self, name: &str) -> Option<T> {
        match T::from_tool_call(self, name) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Takes one extractor (a parameter that must not be an argument). Not a stable API.
    #[doc(hidden)]
    pub fn extract_parts<T: FromCallParts>(&mut self) -> Option<T> {
        match T::from_call_parts(&self.ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// Takes one string-carried argument (prompts, resources); on failure remembers why. Not a
    /// stable API.
    #[doc(hidden)]
    pub fn extract_str<T: FromStrArg<M>, M>(&mut self, name: &str) -> Option<T> {
        match T::from_str_arg(self, name) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }
}
