//! Resources and resource templates: their descriptors, reads and results.

use super::call::{InputRequired, ToolCall};
use super::completion::Completer;
use super::extract::Declaration;
use super::prompt::meta_map;
use super::tool::Json;
use super::uri_template::UriTemplate;
use crate::protocol::{
    Annotations, ErrorObject, Icon, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a read ends with.
#[derive(Clone, Debug)]
pub enum ResourceOutput {
    /// The contents.
    Result(ReadResourceResult),
    /// A request for input first (stateless era).
    InputRequired(InputRequired),
    /// There is no such resource (`-32002` in the handshake era, `-32602` with `data.uri` after).
    NotFound,
    /// A JSON-RPC error.
    Error(ErrorObject),
}

/// The future a read runs.
pub type ResourceFuture = Pin<Box<dyn Future<Output = ResourceOutput> + Send + 'static>>;

type Handler = dyn Fn(ToolCall) -> ResourceFuture + Send + Sync;

impl ResourceDef {
    /// The same resource under another URI (or URI template): `rename` maps the old one.
    pub(crate) fn renamed(mut self, rename: impl Fn(&str) -> String) -> Result<Self, String> {
        match &mut self.kind {
            Kind::Fixed(resource) => resource.uri = rename(&resource.uri),
            Kind::Template { template, parsed, .. } => {
                template.uri_template = rename(&template.uri_template);
                *parsed = UriTemplate::parse(&template.uri_template)?;
            }
        }
        Ok(self)
    }
}

/// Whether a resource has one URI or a family of them.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Fixed(Resource),
    Template {
        template: ResourceTemplate,
        parsed: UriTemplate,
        allow_traversal: bool,
    },
}

/// A resource (or resource template) ready to be served. `#[mcp::resource("…")]` makes one
/// for each function; list them with `mcp::resources![..]`.
#[derive(Clone)]
pub struct ResourceDef {
    pub(crate) kind: Kind,
    pub(crate) mime_type: Option<String>,
    pub(crate) handler: Arc<Handler>,
    pub(crate) completers: Vec<(String, Completer)>,
    pub(crate) needs_state: Vec<(TypeId, &'static str)>,
    pub(crate) uses_context: bool,
}

impl fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceDef")
            .field("uri", &self.uri())
            .finish_non_exhaustive()
    }
}

/// The static facts `#[mcp::resource]` gathers. Not a stable API.
#[doc(hidden)]
#[derive(Debug)]
pub struct ResourceInfo {
    pub uri: &'static str,
    pub name: &'static str,
    pub title: Option<&'static str>,
    pub description: Option<&'static str>,
    pub mime_type: Option<&'static str>,
    pub size: Option<u64>,
    pub icons: &'static [&'static str],
    pub meta: Option<fn() -> Value>,
    pub allow_traversal: bool,
    pub audience: &'static [&'static str],
    pub priority: Option<f64>,
}

impl ResourceDef {
    /// Builds a resource from what `#[mcp::resource]` generates. Not a stable API.
    ///
    /// # Panics
    /// If the URI template does not parse (the macro has checked it already).
    #[doc(hidden)]
    pub fn new(
        info: &ResourceInfo,
        declare: fn(&mut Declaration),
        handler: impl Fn(ToolCall) -> ResourceFuture + Send + Sync + 'static,
    ) -> Self {
        let mut declaration = Declaration::default();
        declare(&mut declaration);
        let parsed = UriTemplate::parse(info.uri).expect("the macro checked the URI template");
        let icons: Vec<_> = info.icons.iter().map(|s| Icon::from_src(s)).collect();
        let meta = info.meta.map(|f| meta_map(f()));
        let annotations = (!info.audience.is_empty() || info.priority.is_some()).then(|| Annotations {
            audience: info
                .audience
                .iter()
                .map(|a| if *a == "assistant" { Role::Assistant } else { Role::User })
                .collect(),
            priority: info.priority,
            last_modified: None,
        });
        let kind = if parsed.is_fixed() {
            Kind::Fixed(Resource {
                uri: info.uri.to_owned(),
                name: info.name.to_owned(),
                title: info.title.map(str::to_owned),
                description: info.description.map(str::to_owned),
                mime_type: info.mime_type.map(str::to_owned),
                size: info.size,
                annotations,
                icons,
                meta,
            })
        } else {
            Kind::Template {
                template: ResourceTemplate {
                    uri_template: info.uri.to_owned(),
                    name: info.name.to_owned(),
                    title: info.title.map(str::to_owned),
                    description: info.description.map(str::to_owned),
                    mime_type: info.mime_type.map(str::to_owned),
                    annotations,
                    icons,
                    meta,
                },
                parsed,
                allow_traversal: info.allow_traversal,
            }
        };
        Self {
            kind,
            mime_type: info.mime_type.map(str::to_owned),
            handler: Arc::new(handler),
            completers: Vec::new(),
            needs_state: declaration.needs_state,
            uses_context: declaration.uses_context,
        }
    }

    /// A resource written by hand: a definition and a function of the raw call (the URI read is
    /// [`ToolCall::uri`]).
    pub fn from_fn<F, Fut>(resource: Resource, f: F) -> Self
    where
        F: Fn(ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ResourceOutput> + Send + 'static,
    {
        Self {
            mime_type: resource.mime_type.clone(),
            kind: Kind::Fixed(resource),
            handler: Arc::new(move |call| Box::pin(f(call))),
            completers: Vec::new(),
            needs_state: Vec::new(),
            uses_context: true,
        }
    }

    /// A resource template written by hand; fails on a URI template this server cannot match.
    pub fn template_from_fn<F, Fut>(template: ResourceTemplate, f: F) -> std::result::Result<Self, String>
    where
        F: Fn(ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ResourceOutput> + Send + 'static,
    {
        let parsed = UriTemplate::parse(&template.uri_template)?;
        Ok(Self {
            mime_type: template.mime_type.clone(),
            kind: Kind::Template {
                template,
                parsed,
                allow_traversal: false,
            },
            handler: Arc::new(move |call| Box::pin(f(call))),
            completers: Vec::new(),
            needs_state: Vec::new(),
            uses_context: true,
        })
    }

    /// Adds a completer for a template variable. Not a stable API: use `complete(var = f)`.
    #[doc(hidden)]
    #[must_use]
    pub fn with_completer(mut self, variable: &str, completer: Completer) -> Self {
        self.completers.push((variable.to_owned(), completer));
        self
    }

    /// The URI, or the URI template.
    pub fn uri(&self) -> &str {
        match &self.kind {
            Kind::Fixed(r) => &r.uri,
            Kind::Template { template, .. } => &template.uri_template,
        }
    }

    /// The resource's name.
    pub fn name(&self) -> &str {
        match &self.kind {
            Kind::Fixed(r) => &r.name,
            Kind::Template { template, .. } => &template.name,
        }
    }
}

/// What a resource may return: a `String` (text), `Vec<u8>` (a base64 blob), [`Json<T>`] (JSON
/// text, `application/json`), [`ResourceContents`] or a list of them, a full
/// [`ReadResourceResult`], `Option<T>` (`None`: not found), or a `Result` (`Err`: `-32603`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a resource",
    note = "return a `String`, `Vec<u8>`, `mcp::Json<T>`, `mcp::ResourceContents`, a `Vec` of them, `mcp::ReadResourceResult`, an `Option` (None: not found) or a `Result` of one of these"
)]
pub trait IntoResourceResult {
    /// Converts the value into what the read ends with, for `uri` with the declared `mime`.
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput;
}

fn one(contents: ResourceContents) -> ResourceOutput {
    ResourceOutput::Result(ReadResourceResult {
        contents: vec![contents],
    })
}

impl IntoResourceResult for String {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        one(ResourceContents::text(
            uri,
            Some(mime.unwrap_or("text/plain").to_owned()),
            self,
        ))
    }
}

impl IntoResourceResult for &'static str {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        self.to_owned().into_resource_output(uri, mime)
    }
}

impl IntoResourceResult for Vec<u8> {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        one(ResourceContents::blob(
            uri,
            Some(mime.unwrap_or("application/octet-stream").to_owned()),
            self,
        ))
    }
}

impl<T: Serialize + JsonSchema> IntoResourceResult for Json<T> {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        match serde_json::to_string(&self.0) {
            Ok(text) => one(ResourceContents::text(
                uri,
                Some(mime.unwrap_or("application/json").to_owned()),
                text,
            )),
            Err(e) => ResourceOutput::Error(ErrorObject::internal(format!(
                "the resource could not be serialised: {e}"
            ))),
        }
    }
}

impl IntoResourceResult for ResourceContents {
    fn into_resource_output(self, _: &str, _: Option<&str>) -> ResourceOutput {
        one(self)
    }
}

impl IntoResourceResult for Vec<ResourceContents> {
    fn into_resource_output(self, _: &str, _: Option<&str>) -> ResourceOutput {
        if self.is_empty() {
            // The protocol forbids answering a read with no contents.
            return ResourceOutput::NotFound;
        }
        ResourceOutput::Result(ReadResourceResult { contents: self })
    }
}

impl IntoResourceResult for ReadResourceResult {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        self.contents.into_resource_output(uri, mime)
    }
}

impl IntoResourceResult for InputRequired {
    fn into_resource_output(self, _: &str, _: Option<&str>) -> ResourceOutput {
        ResourceOutput::InputRequired(self)
    }
}

impl<T: IntoResourceResult> IntoResourceResult for Option<T> {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        match self {
            Some(v) => v.into_resource_output(uri, mime),
            None => ResourceOutput::NotFound,
        }
    }
}

impl<T: IntoResourceResult, E: fmt::Display> IntoResourceResult for Result<T, E> {
    fn into_resource_output(self, uri: &str, mime: Option<&str>) -> ResourceOutput {
        match self {
            Ok(v) => v.into_resource_output(uri, mime),
            Err(e) => ResourceOutput::Error(ErrorObject::internal(e.to_string())),
        }
    }
}
