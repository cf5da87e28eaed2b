//! `tollgate doctor`: reads the token and the files named on the command line, then lets
//! the library gather the rest (`tollgate::doctor::gather`: what may be fetched and from
//! where) and diagnose (`tollgate::doctor::diagnose`); this file only reads and prints.
//!
//! Network rule (the library's): only what the user configured (`--issuer`, `--discovery`,
//! `--jwks`, and the `jwks_uri` of a configured discovery document) is fetched; with none of
//! them, the token's own `iss` is used for discovery if it is HTTPS, and the report says so.
//! `--offline` fetches nothing.

use std::io::{IsTerminal, Read};

use crate::input::read_file;
use crate::policy::{IntrospectionArgs, PolicyArgs};
use tollgate::doctor::gather::{gather, Source, Sources};
use tollgate::doctor::{self, input, stack, Settings, Verdict};

/// Arguments of `tollgate doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// The token (`-` or absent: read standard input). Accepts `Bearer <t>`, an
    /// `Authorization:` line, quotes, line breaks, a JSON token response or a URL with
    /// `access_token=`.
    pub token: Option<String>,
    /// The discovery document: a URL to fetch or a file.
    #[arg(long, value_name = "URL|FILE")]
    pub discovery: Option<String>,
    /// The key set the API holds: a URL to fetch or a file.
    #[arg(long, value_name = "URL|FILE")]
    pub jwks: Option<String>,
    /// What the API accepts (the same flags as `tollgate verify`).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Opaque tokens: introspect at the issuer and report the answer.
    #[command(flatten)]
    pub introspection: IntrospectionArgs,
    /// Fetch nothing: use only the token and the files given.
    #[arg(long)]
    pub offline: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// What the request presented besides the token (DPoP proof, method, URL, certificate).
    #[command(flatten)]
    pub request: crate::policy::RequestArgs,
    /// Print the configuration that accepts this token correctly in a stack (or, when the
    /// token is the problem, the change on the identity provider's side): aspnet, node,
    /// spring, python or tollgate.
    #[arg(long, value_name = "STACK", value_parser = parse_stack, conflicts_with = "json")]
    pub stack: Option<stack::Stack>,
    /// Serve the doctor's web page on a loopback address and print its URL (the token and
    /// the expectations are then entered on the page). Stop with Ctrl-C.
    #[arg(long, conflicts_with_all = ["json", "stack", "offline"])]
    pub web: bool,
    /// The address of `--web`: loopback by default (`127.0.0.1:0`, any free port).
    #[arg(
        long,
        value_name = "ADDR",
        requires = "web",
        default_value = "127.0.0.1:0"
    )]
    pub listen: std::net::SocketAddr,
    /// Let `--listen` be an address other than loopback (the page then answers anyone
    /// who can reach it and fetches the URLs they name).
    #[arg(long, requires = "web")]
    pub allow_remote: bool,
}

fn parse_stack(s: &str) -> Result<stack::Stack, String> {
    s.parse()
}

/// Reads the token argument: the value itself, or standard input for `-` or when absent.
pub fn read_raw(arg: Option<&str>) -> Result<String, String> {
    match arg {
        Some("-") | None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            Ok(s)
        }
        Some(t) => Ok(t.to_string()),
    }
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    if args.web {
        return web(&args);
    }
    match prepare(&args) {
        Ok(ctx) => {
            let report = doctor::diagnose(&ctx);
            if let Some(s) = args.stack {
                let snippet = stack::snippet(s, &report);
                // The title on standard error: standard output is the file, as is.
                eprintln!("{} ({})", snippet.title, snippet.file);
                print!("{}", snippet.code);
            } else if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("tollgate doctor: {e}");
                        return crate::exit::USAGE;
                    }
                }
            } else {
                let colour = std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
                print!("{}", doctor::render(&report, colour));
            }
            match report.verdict {
                Verdict::Valid => crate::exit::OK,
                Verdict::Invalid => crate::exit::INVALID,
                Verdict::CannotCheck => crate::exit::CANNOT_CHECK,
            }
        }
        Err(e) => {
            eprintln!("tollgate doctor: {e}");
            crate::exit::USAGE
        }
    }
}

/// A `--jwks` or `--discovery` argument: a URL, or a file read now.
fn source(arg: &str) -> Result<Source, String> {
    if Source::is_url(arg) {
        Ok(Source::Url(arg.to_string()))
    } else {
        Ok(Source::File {
            name: arg.to_string(),
            bytes: read_file(arg)?,
        })
    }
}

/// Reads the input and the files, then lets the library fetch what is allowed and build
/// the context.
fn prepare(args: &Args) -> Result<doctor::Context, String> {
    let raw = read_raw(args.token.as_deref())?;
    let normalized = input::normalize(&raw)?;
    let policy = args.policy.policy()?;
    let mut settings = Settings::new(policy, args.policy.now());
    if let Some(path) = &args.policy.secret_file {
        settings
            .secrets
            .push(read_file(&path.display().to_string())?);
    }
    let sources = Sources {
        issuers: args.policy.issuers.clone(),
        discovery: args.discovery.as_deref().map(source).transpose()?,
        jwks: args.jwks.as_deref().map(source).transpose()?,
        offline: args.offline,
        introspection: args.introspection.options()?,
        ..Sources::default()
    };
    let rt = crate::jwks::runtime()?;
    let mut ctx = rt
        .block_on(gather(&normalized.token, settings, &sources))
        .map_err(|e| e.to_string())?;
    ctx.notes.splice(0..0, normalized.notes);
    if args.request.given() {
        ctx.dpop = Some(args.request.request()?);
    }
    Ok(ctx)
}

/// `--web`: serves the page until Ctrl-C.
fn web(args: &Args) -> u8 {
    if !args.listen.ip().is_loopback() && !args.allow_remote {
        eprintln!(
            "tollgate doctor: --listen {} is not a loopback address; the page would answer anyone who can reach it. Use 127.0.0.1:PORT, or add --allow-remote on purpose",
            args.listen
        );
        return crate::exit::USAGE;
    }
    let rt = match crate::jwks::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate doctor: {e}");
            return crate::exit::USAGE;
        }
    };
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("tollgate doctor: cannot listen on {}: {e}", args.listen);
                return crate::exit::USAGE;
            }
        };
        match listener.local_addr() {
            Ok(a) => println!(
                "Tollgate doctor: open http://{a}{} (Ctrl-C to stop)",
                tollgate_gateway::web::BASE
            ),
            Err(e) => {
                eprintln!("tollgate doctor: {e}");
                return crate::exit::USAGE;
            }
        }
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tollgate_gateway::web::serve_standalone(listener, stop).await {
            Ok(()) => crate::exit::OK,
            Err(e) => {
                eprintln!("tollgate doctor: {e}");
                crate::exit::USAGE
            }
        }
    })
}
