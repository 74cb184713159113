//! The `cachet` binary: `cachet serve [CONFIG] [--directive value ...]` runs a node;
//! `cachet certs --out DIR` makes a development certificate set; `cachet bench` load-tests a
//! RESP server and `cachet report` renders its JSON results as HTML.

use cachet_server::Config;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// mimalloc, counted so INFO `used_memory` is the live heap (see `cachet_server::heap`).
#[global_allocator]
static GLOBAL: cachet_server::heap::Counting<mimalloc::MiMalloc> =
    cachet_server::heap::Counting(mimalloc::MiMalloc);

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
    /// Load-test any RESP server (memtier_benchmark's flags): TLS or plaintext, pipelining,
    /// paced open loop, connection churn with full or resumed handshakes.
    Bench(Box<cachet_bench::BenchArgs>),
    /// Render runs saved with `cachet bench --json-out-file` as one HTML page.
    Report {
        /// JSON files written by `cachet bench --json-out-file`.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[arg(short = 'o', long)]
        out: PathBuf,
    },
    /// Inspect the tuning profiles of the supported node types.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// The settings derived for a node type on this host, and the reason for each.
    Show {
        /// A node type (`cache.r6g.large`, prefix optional), `auto` or `generic`.
        #[arg(long, default_value = "auto")]
        node_type: String,
        /// Edited copies of the family files instead of the embedded ones.
        #[arg(long)]
        tuning_dir: Option<PathBuf>,
        /// Derive as on the node type's own instance (its vCPUs and memory) instead of this host.
        #[arg(long)]
        on_instance: bool,
        #[arg(long)]
        json: bool,
    },
    /// Every supported node type with its vCPUs, memory and architecture.
    List {
        #[arg(long)]
        tuning_dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

/// mimalloc's options for a cache node: commit arena memory on demand and give freed pages
/// back at once. Measured with `scripts/memory.sh` (1M keys of 16+32 bytes): RSS 317 MB with
/// mimalloc's defaults, 209 MB with these, for 187 MB of live heap (the defaults keep every
/// outgrown hash-table allocation's pages committed). mimalloc reads them from the
/// environment when it initialises, before `main`, so `main` re-executes the binary once with
/// them set unless the operator set them already.
const MIMALLOC_ENV: &[(&str, &str)] = &[("MIMALLOC_ARENA_EAGER_COMMIT", "0"), ("MIMALLOC_PURGE_DELAY", "0")];

fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    if MIMALLOC_ENV.iter().any(|(k, _)| std::env::var_os(k).is_some()) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(MIMALLOC_ENV.iter().copied())
        .exec();
    // Only reached when exec failed: run on with the defaults.
    eprintln!("cachet: could not re-execute with allocator settings ({err}); continuing with defaults");
}

fn main() -> ExitCode {
    tune_allocator();
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
        Command::Profile { command } => profile(command),
        Command::Bench(args) => cachet_bench::bench(&args),
        Command::Report { inputs, out } => cachet_bench::report_files(&inputs, &out),
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

/// Writes command output to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

fn profile(cmd: ProfileCommand) -> Result<(), String> {
    use std::fmt::Write;
    let host = cachet_server::profile::detect_host();
    let mut o = String::new();
    match cmd {
        ProfileCommand::Show { node_type, tuning_dir, on_instance, json } => {
            let cfg = Config { node_type, tuning_dir, ..Config::default() };
            let host = if on_instance { cachet_server::profile::instance_host(&cfg)? } else { host };
            let (p, why) = cachet_server::profile::resolve(&cfg, &host)?;
            if json {
                return emit(&(serde_json::to_string_pretty(&p).map_err(|e| e.to_string())? + "\n"));
            }
            let _ = writeln!(o, "node type        {}", p.node_type);
            let _ = writeln!(
                o,
                "tuning profile   {} ({}, {}, {} vCPUs, {}, network {})",
                p.tuning_profile,
                p.arch,
                p.cpu,
                p.vcpus,
                if p.burstable { "burstable" } else { "not burstable" },
                p.network
            );
            let _ =
                writeln!(o, "host             {} cores, {} bytes of memory", p.host_cores, host.memory_bytes);
            if let Some(why) = why {
                let _ = writeln!(o, "note             {why}");
            }
            let _ = writeln!(o, "\n{:<24} {:<24} reason", "directive", "value");
            for s in &p.settings {
                let _ = writeln!(o, "{:<24} {:<24} {}", s.directive, s.value, s.reason);
            }
            for w in &p.warnings {
                let _ = writeln!(o, "warning: {w}");
            }
        }
        ProfileCommand::List { tuning_dir, json } => {
            let cfg = Config { tuning_dir, ..Config::default() };
            let cat = cachet_server::profile::catalogue(&cfg)?;
            let sizes = || cat.families.iter().flat_map(|f| f.sizes.iter().map(move |s| (f, s)));
            if json {
                let rows: Vec<serde_json::Value> = sizes()
                    .map(|(f, s)| {
                        serde_json::json!({
                            "node_type": s.name, "family": f.family, "arch": f.arch, "cpu": f.cpu,
                            "vcpus": s.vcpus, "maxmemory_bytes": s.maxmemory_bytes,
                            "maxclients": s.maxclients, "burstable": f.burstable, "network": s.network,
                        })
                    })
                    .collect();
                return emit(&(serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())? + "\n"));
            }
            let _ = writeln!(
                o,
                "{:<20} {:>5} {:>15} {:>10}  {:<8} {:<9} network",
                "node type", "vCPUs", "maxmemory", "maxclients", "arch", "burstable"
            );
            for (f, s) in sizes() {
                let _ = writeln!(
                    o,
                    "{:<20} {:>5} {:>15} {:>10}  {:<8} {:<9} {}",
                    s.name,
                    s.vcpus,
                    s.maxmemory_bytes,
                    s.maxclients,
                    f.arch,
                    if f.burstable { "yes" } else { "no" },
                    s.network
                );
            }
        }
    }
    emit(&o)
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut cfg = load_config(args)?;
    let host = cachet_server::profile::detect_host();
    cachet_server::profile::apply(&mut cfg, &host)?;
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
