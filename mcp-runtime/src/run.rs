//! `Server::run()`: stdio or Streamable HTTP, as the command line or the environment says. It sits
//! above the server and the HTTP front end, which it chooses between.

use crate::error::{Error, Result};
use crate::server::Server;
use crate::server::hint::{DEFAULT_HTTP_ADDR, server_name, stdio_hint};

/// How [`Server::run`] serves: chosen by [`RunMode::from_env`], or given to
/// [`Server::run_as`].
///
/// The command line wins over the environment, and stdio is the default:
///
/// | asked with | serves |
/// | --- | --- |
/// | `--http ADDR` or `--http=ADDR` | Streamable HTTP at `ADDR` (such as `127.0.0.1:3000`; the endpoint is `/mcp`) |
/// | `--http` alone | Streamable HTTP at [`DEFAULT_HTTP_ADDR`] (`127.0.0.1:8000`) |
/// | `--stdio` | stdio |
/// | `MCP_TRANSPORT=http` (or `streamable-http`) | Streamable HTTP at `MCP_HTTP_ADDR`, else [`DEFAULT_HTTP_ADDR`] |
/// | `MCP_TRANSPORT=stdio` | stdio |
/// | nothing | stdio |
///
/// Only the arguments before a lone `--` are read, and any others are left to the
/// application. `MCP_HTTP_ADDR` alone does not switch to HTTP: it only says where, so a
/// variable left in a client's environment never turns a server it spawns into an HTTP one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMode {
    /// Serve this process's stdin and stdout.
    Stdio,
    /// Serve Streamable HTTP at this address.
    Http(String),
}

impl RunMode {
    /// The mode this process's command line and environment ask for. An unknown
    /// `MCP_TRANSPORT` is an error.
    pub fn from_env() -> Result<Self> {
        Self::parse(std::env::args().skip(1), |name| std::env::var(name).ok())
    }

    /// The mode `args` (without the program's name) and the variables `var` gives ask for.
    pub fn parse(args: impl IntoIterator<Item = String>, var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut args = args.into_iter().take_while(|a| a != "--").peekable();
        while let Some(arg) = args.next() {
            if arg == "--stdio" {
                return Ok(Self::Stdio);
            }
            if let Some(addr) = arg.strip_prefix("--http=") {
                return Ok(Self::Http(addr.to_owned()));
            }
            if arg == "--http" {
                let addr = match args.next_if(|next| !next.starts_with('-')) {
                    Some(addr) => addr,
                    None => DEFAULT_HTTP_ADDR.to_owned(),
                };
                return Ok(Self::Http(addr));
            }
        }
        match var("MCP_TRANSPORT").as_deref().map(str::trim) {
            None | Some("" | "stdio") => Ok(Self::Stdio),
            Some("http" | "streamable-http") => Ok(Self::Http(
                var("MCP_HTTP_ADDR")
                    .filter(|a| !a.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_owned()),
            )),
            Some(other) => Err(Error::Config(format!(
                "MCP_TRANSPORT=`{other}` is not a transport: use `stdio` or `http`"
            ))),
        }
    }
}

impl Server {
    /// Serves stdio, or Streamable HTTP when the command line or the environment asks for it:
    /// see [`RunMode`]. `--http 127.0.0.1:3000` serves `http://127.0.0.1:3000/mcp`.
    ///
    /// Serving stdio with a terminal on stdin (a person started the server by hand, not a
    /// client), it says on stderr how to connect a client. Serving HTTP, it prints the URL it
    /// listens on to stderr. Either way it stops on SIGTERM or Ctrl-C, after the calls in flight
    /// finish, up to the drain timeout. Without the `http` feature, asking for HTTP is an error.
    pub async fn run(self) -> Result<()> {
        let mode = RunMode::from_env()?;
        self.run_as(mode).await
    }

    /// Serves as `mode` says, as [`run`](Self::run) does.
    pub async fn run_as(self, mode: RunMode) -> Result<()> {
        match mode {
            RunMode::Stdio => {
                let service = self.build()?;
                stdio_hint(&server_name(&service), true);
                service.serve_stdio().await
            }
            #[cfg(feature = "http")]
            RunMode::Http(addr) => {
                self.build()?
                    .serve_http_announced(addr.as_str(), crate::http::HttpOptions::default())
                    .await
            }
            #[cfg(not(feature = "http"))]
            RunMode::Http(_) => Err(no_http()),
        }
    }
}

/// The error for HTTP asked of a build without it.
#[cfg(not(feature = "http"))]
fn no_http() -> Error {
    Error::Config(
        "Streamable HTTP was asked for (`--http` or MCP_TRANSPORT=http), but this server was built without the `http` feature of `mcp`"
            .into(),
    )
}

#[cfg(feature = "http")]
impl Server {
    /// [`run`](crate::Server::run), with these options when it serves HTTP.
    pub async fn run_with(self, options: crate::http::HttpOptions) -> Result<()> {
        match RunMode::from_env()? {
            RunMode::Http(addr) => self.build()?.serve_http_announced(addr.as_str(), options).await,
            stdio => self.run_as(stdio).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<RunMode> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        RunMode::parse(args.iter().map(|a| (*a).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn http(addr: &str) -> RunMode {
        RunMode::Http(addr.to_owned())
    }

    #[test]
    fn the_command_line_chooses() {
        assert_eq!(parse(&[], &[]).unwrap(), RunMode::Stdio);
        assert_eq!(
            parse(&["--http", "127.0.0.1:3000"], &[]).unwrap(),
            http("127.0.0.1:3000")
        );
        assert_eq!(parse(&["--http=0.0.0.0:1"], &[]).unwrap(), http("0.0.0.0:1"));
        assert_eq!(parse(&["--http"], &[]).unwrap(), http(DEFAULT_HTTP_ADDR));
        assert_eq!(
            parse(&["--http", "--no-sessions"], &[]).unwrap(),
            http(DEFAULT_HTTP_ADDR),
            "a flag after --http is not its address"
        );
        assert_eq!(
            parse(&["--redis", "redis://x/", "--http", "[::1]:80", "--no-sessions"], &[]).unwrap(),
            http("[::1]:80"),
            "the application's own flags are left alone"
        );
        assert_eq!(
            parse(&["--", "server", "--http", "1.2.3.4:5"], &[]).unwrap(),
            RunMode::Stdio,
            "what follows `--` belongs to someone else (the proxy's upstream command)"
        );
    }

    #[test]
    fn the_environment_chooses_when_the_command_line_does_not() {
        assert_eq!(
            parse(&[], &[("MCP_TRANSPORT", "http")]).unwrap(),
            http(DEFAULT_HTTP_ADDR)
        );
        assert_eq!(
            parse(
                &[],
                &[("MCP_TRANSPORT", "streamable-http"), ("MCP_HTTP_ADDR", "127.0.0.1:9")]
            )
            .unwrap(),
            http("127.0.0.1:9")
        );
        assert_eq!(parse(&[], &[("MCP_HTTP_ADDR", "127.0.0.1:9")]).unwrap(), RunMode::Stdio);
        assert_eq!(parse(&[], &[("MCP_TRANSPORT", "stdio")]).unwrap(), RunMode::Stdio);
        assert_eq!(
            parse(&["--stdio"], &[("MCP_TRANSPORT", "http")]).unwrap(),
            RunMode::Stdio
        );
        assert_eq!(
            parse(&["--http", "127.0.0.1:1"], &[("MCP_TRANSPORT", "stdio")]).unwrap(),
            http("127.0.0.1:1")
        );
        let err = parse(&[], &[("MCP_TRANSPORT", "sse")]).unwrap_err().to_string();
        assert!(err.contains("MCP_TRANSPORT=`sse`"), "{err}");
    }

    #[cfg(not(feature = "http"))]
    #[tokio::test]
    async fn http_without_the_feature_is_a_clear_error() {
        let err = Server::new("x", "1")
            .run_as(http("127.0.0.1:0"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("without the `http` feature"), "{err}");
    }
}
