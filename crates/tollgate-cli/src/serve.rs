//! `tollgate serve`: runs the gateway from a TOML file, checks a file (`--check-config`), or
//! starts a complete local demo (`--dev`). Everything but flag parsing and printing lives in
//! `tollgate_gateway`.

use std::net::SocketAddr;
use std::path::PathBuf;

use tollgate_gateway::config::LogFormat;
use tollgate_gateway::{Config, Gateway};

use crate::exit;

/// Arguments of `tollgate serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (TOML; every option is documented in the README).
    #[arg(
        long,
        value_name = "FILE",
        env = "TOLLGATE_CONFIG",
        required_unless_present = "dev"
    )]
    pub config: Option<PathBuf>,
    /// Check the configuration file, print what it sets up, and exit (0 valid, 2 invalid).
    #[arg(long, requires = "config")]
    pub check_config: bool,
    /// Start a local demo: a dev issuer, an echo upstream and the gateway on loopback, then
    /// print ready-to-paste curl commands.
    #[arg(long, conflicts_with_all = ["config", "check_config"])]
    pub dev: bool,
    /// Listen here instead of the file's `listen` (with --dev: the gateway's address,
    /// default 127.0.0.1:8080; use 127.0.0.1:0 for any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The admin listener instead of the file's `admin_listen`.
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Log format: text or json (default: the file's `[log]` format, else text).
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info, warn, tollgate::decision=info (default: the file's `[log]`
    /// level, else info; RUST_LOG overrides).
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> u8 {
    if args.dev {
        let format = match parse_format(args.log_format.as_deref()) {
            Ok(f) => f.unwrap_or(LogFormat::Text),
            Err(e) => return usage(&e),
        };
        init_logging(
            format,
            args.log_level
                .as_deref()
                .unwrap_or("warn,tollgate::decision=info"),
        );
        let listen = args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        return with_runtime(async move {
            let stop = shutdown_signal();
            match tollgate_gateway::dev::DevSetup::start(listen, args.admin_listen).await {
                Ok(setup) => {
                    println!("{}", setup.instructions());
                    setup.run_until(stop).await;
                    exit::OK
                }
                Err(e) => {
                    eprintln!("tollgate serve --dev: {e}");
                    exit::USAGE
                }
            }
        });
    }
    let Some(path) = args.config.as_ref() else {
        return usage("give --config FILE, or --dev for a local demo");
    };
    let mut config = match Config::from_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(a) = args.admin_listen {
        config.admin_listen = Some(a);
    }
    if args.check_config {
        print!("{}", config.summary());
        println!("configuration OK: {}", path.display());
        return exit::OK;
    }
    let format = match parse_format(args.log_format.as_deref()) {
        Ok(f) => f.unwrap_or(config.log.format),
        Err(e) => return usage(&e),
    };
    let level = args
        .log_level
        .clone()
        .unwrap_or_else(|| config.log.level.clone());
    init_logging(format, &level);
    with_runtime(async move {
        let gateway = match Gateway::new(config) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        };
        eprint!("{}", gateway.config().summary());
        let stop = shutdown_signal();
        match gateway.serve().await {
            Ok(running) => {
                running.run_until(stop).await;
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::USAGE
            }
        }
    })
}

fn usage(message: &str) -> u8 {
    eprintln!("tollgate serve: {message}");
    exit::USAGE
}

fn parse_format(s: Option<&str>) -> Result<Option<LogFormat>, String> {
    s.map(|s| s.parse().map_err(|e| format!("--log-format {e}")))
        .transpose()
}

fn init_logging(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: a log file or collector gets plain lines
    // (and every request's line costs less to write).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn with_runtime(fut: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            eprintln!("tollgate serve: cannot start the async runtime: {e}");
            exit::USAGE
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called
/// (not when the future is first polled), so call it before the listeners are bound: a
/// signal that arrives right after "gateway listening" then stops the gateway gracefully
/// instead of killing the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
