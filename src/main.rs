//! The `cachet` binary: `cachet serve [CONFIG] [--directive value ...]` runs a node;
//! `cachet certs --out DIR` makes a development certificate set.

use cachet_server::Config;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "cachet", version, about = "A Redis-compatible cache node built for encrypted traffic")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node. Takes an optional redis.conf-style file, then `--directive value` overrides
    /// with Redis's directive names (e.g. `--port 7000 --transit-encryption-mode preferred`).
    Serve {
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "[CONFIG] [--DIRECTIVE VALUE]..."
        )]
        args: Vec<String>,
    },
    /// Make a development CA, server and client certificate set (for development only).
    Certs {
        #[arg(long, default_value = "cachet-dev")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CACHET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { args } => serve(&args),
        Command::Certs { out } => certs(&out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cachet: {e}");
            ExitCode::FAILURE
        }
    }
}

fn certs(out: &Path) -> Result<(), String> {
    let set = cachet_tls::make_dev_set(out).map_err(|e| e.to_string())?;
    println!("development certificates written to {} (for development only)", set.dir.display());
    for f in cachet_tls::DEV_FILES {
        println!("  {}", set.dir.join(f).display());
    }
    Ok(())
}

/// Reads the config file (if the first argument is not a `--` option), then the overrides:
/// `--name value...` where a value runs until the next `--name`.
fn load_config(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut rest = args;
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            cfg.load_file(Path::new(first)).map_err(|e| e.to_string())?;
            rest = &args[1..];
        }
    }
    let mut i = 0;
    while i < rest.len() {
        let Some(name) = rest[i].strip_prefix("--") else {
            return Err(format!("command line: expected --directive, got '{}'", rest[i]));
        };
        let mut values = Vec::new();
        i += 1;
        while i < rest.len() && !(rest[i].starts_with("--") && rest[i].len() > 2) {
            values.push(rest[i].clone());
            i += 1;
        }
        cfg.apply(name, &values.join(" "), "command line").map_err(|e| e.to_string())?;
    }
    Ok(cfg)
}

/// Fills in development certificates when none are configured, making them on first start.
fn resolve_certificates(cfg: &mut Config) -> Result<(), String> {
    if cfg.tls_cert_file.is_some() && cfg.tls_key_file.is_some() {
        return Ok(());
    }
    if cfg.tls_cert_file.is_some() || cfg.tls_key_file.is_some() {
        return Err("tls-cert-file and tls-key-file must be set together".into());
    }
    let dir = cfg.tls_dev_dir.clone();
    if cachet_tls::dev_set_exists(&dir) {
        tracing::info!(dir = %dir.display(), "using development certificates (for development only)");
    } else {
        cachet_tls::make_dev_set(&dir).map_err(|e| e.to_string())?;
        tracing::warn!(
            dir = %dir.display(),
            "no tls-cert-file given: created a development CA, server and client certificate \
             (for development only; configure tls-cert-file/tls-key-file in production)"
        );
    }
    let set = cachet_tls::DevCerts { dir };
    cfg.tls_cert_file = Some(set.server_cert());
    cfg.tls_key_file = Some(set.server_key());
    if cfg.tls_ca_cert_file.is_none() {
        cfg.tls_ca_cert_file = Some(set.ca_cert());
    }
    Ok(())
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut cfg = load_config(args)?;
    resolve_certificates(&mut cfg)?;
    let mode = cfg.transit_encryption_mode;
    let ca = cfg.tls_ca_cert_file.clone();
    let running = cachet_server::start(cfg)?;
    let node = &running.node;
    // The second Ctrl-C stops at once; the first asks for a clean stop.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, running.shutdown.clone())
            .map_err(|e| e.to_string())?;
        signal_hook::flag::register(sig, running.shutdown.clone()).map_err(|e| e.to_string())?;
    }
    tracing::info!(
        port = node.port(),
        tls_port = node.tls_port(),
        workers = node.workers,
        io_backend = %node.io_backend,
        transit_encryption_mode = %mode,
        "ready to accept connections"
    );
    if mode != cachet_tls::TlsMode::Disabled {
        if let Some(ca) = ca {
            tracing::info!("connect with: redis-cli --tls --cacert {} -p {}", ca.display(), node.port());
        }
    } else {
        tracing::info!("connect with: redis-cli -p {}", node.port());
    }
    let shutdown = running.shutdown.clone();
    let r = running.join();
    if shutdown.load(Ordering::Relaxed) {
        tracing::info!("stopped");
    }
    r
}
