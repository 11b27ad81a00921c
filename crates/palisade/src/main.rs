use anyhow::{anyhow, bail, Context, Result};

use clap::{Args, Parser, Subcommand};
use palisade::{start, Options};
use palisade_config::{Config, Overrides};
use palisade_core::Mode;
use palisade_events::{EventQuery, EventStore, EventsConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Prints a line on standard output. A reader that went away (`palisade
/// events query | head`) ends the process quietly instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        stdout_result(writeln!(std::io::stdout().lock(), $($arg)*));
    }};
}

/// [`out!`] without the line break.
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        stdout_result(write!(std::io::stdout().lock(), $($arg)*));
    }};
}

fn stdout_result(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Palisade: an API security gateway.
#[derive(Parser, Debug)]
#[command(name = "palisade", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Protect an upstream API.
    Serve(ServeArgs),
    /// Validate a configuration file and explain what it sets up.
    CheckConfig { file: PathBuf },
    /// Run the embedded sample API with Palisade in front of it.
    Demo(DemoArgs),
    /// Query the security event store.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Measure detection on a labelled corpus; the last line is `BA x.xx TPR x.xx TNR x.xx` (percent).
    Eval(EvalArgs),
    /// SecLang rule tools.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Manage API keys in the embedded key store.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Corpus directory (see eval/README.md for the format).
    #[arg(long, default_value = "eval")]
    corpus: PathBuf,
    /// Also evaluate the Core Rule Set in this directory, alone and combined with the native detectors.
    #[arg(long)]
    crs: Option<PathBuf>,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=4))]
    paranoia: u8,
    /// Also replay these go-ftw regression tests (e.g. CRS's tests/regression/tests) as labelled cases.
    #[arg(long)]
    regression_tests: Option<PathBuf>,
    /// Print every missed attack and false positive.
    #[arg(long)]
    verbose: bool,
}

#[derive(Subcommand, Debug)]
enum RulesCommand {
    /// Replay go-ftw regression tests against the engine; the last line is `passed X of Y (Z.Z%)`.
    Test {
        /// CRS directory (holding rules/ and crs-setup.conf[.example]).
        #[arg(long)]
        crs: PathBuf,
        /// go-ftw test directory.
        #[arg(long)]
        tests: PathBuf,
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=4))]
        paranoia: u8,
        /// crs-setup.conf to use instead of the one in the CRS directory.
        #[arg(long)]
        setup: Option<PathBuf>,
        /// Send every test over real HTTP through a gateway started for the
        /// run (SecLang engine only, monitor mode) instead of in-process.
        #[arg(long)]
        http: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a key; its secret is printed once and never stored.
    Create {
        #[arg(long, default_value = "palisade-keys.db")]
        store: PathBuf,
        #[arg(long)]
        owner: String,
        /// Scopes, comma separated.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// Per-key rate, e.g. 100/minute.
        #[arg(long)]
        rate_limit: Option<String>,
        /// Lifetime, e.g. 30d.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        #[arg(long, default_value = "palisade-keys.db")]
        store: PathBuf,
        id: String,
    },
    /// List keys (ids, owners, scopes; never secrets).
    List {
        #[arg(long, default_value = "palisade-keys.db")]
        store: PathBuf,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on (overrides the first listener of the config file).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Upstream URL, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    upstream: Option<String>,
    /// block (default) or monitor.
    #[arg(long)]
    mode: Option<Mode>,
    /// Admin listener address (metrics, health, reload).
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// OpenAPI 3.0/3.1 document to enforce (positive security).
    #[arg(long)]
    openapi: Option<PathBuf>,
    /// Share rate limits and brute-force counters through this Redis (redis://host:port).
    #[arg(long)]
    redis: Option<String>,
    /// Run the OWASP Core Rule Set from this directory (its `rules/` and `crs-setup.conf`).
    #[arg(long)]
    crs: Option<PathBuf>,
    /// CRS paranoia level, 1 to 4.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    paranoia: Option<u8>,
    /// SQLite event store path ("" disables it).
    #[arg(long)]
    events_db: Option<PathBuf>,
    /// Also write events as JSON lines: "stdout" or a file path.
    #[arg(long)]
    events_jsonl: Option<String>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:9901")]
    admin: SocketAddr,
    /// Send a scripted mix of legitimate and attack traffic, print what happened, and exit.
    #[arg(long)]
    attack: bool,
    /// Event store of the demo.
    #[arg(long, default_value = "palisade-demo-events.db")]
    events_db: PathBuf,
}

#[derive(Subcommand, Debug)]
enum EventsCommand {
    /// Print stored events, newest first.
    Query {
        #[arg(long, default_value = "palisade-events.db")]
        db: PathBuf,
        /// Only events newer than this (e.g. 10m, 2h, 1d).
        #[arg(long)]
        since: Option<String>,
        /// Only events from this client IP.
        #[arg(long)]
        ip: Option<String>,
        /// Only events with a finding of this rule id.
        #[arg(long)]
        rule: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Follow new events as they are written.
    Tail {
        #[arg(long, default_value = "palisade-events.db")]
        db: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Verify the tamper-evident hash chain of the store.
    Verify {
        #[arg(long, default_value = "palisade-events.db")]
        db: PathBuf,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn events_config(db: Option<PathBuf>, jsonl: Option<String>) -> EventsConfig {
    let mut cfg = EventsConfig::default();
    if let Some(db) = db {
        cfg.sqlite_path = if db.as_os_str().is_empty() {
            None
        } else {
            Some(db)
        };
    }
    if let Some(j) = jsonl {
        cfg.jsonl = Some(palisade_events::JsonlTarget::parse(&j));
    }
    cfg
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::CheckConfig { file } => check_config(&file),
        Command::Demo(args) => runtime()?.block_on(demo(args)),
        Command::Events(cmd) => events(cmd),
        Command::Eval(args) => eval(args),
        Command::Rules(cmd) => rules(cmd),
        Command::Keys(cmd) => keys(cmd),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn serve(args: ServeArgs) -> Result<()> {
    let opts = Options {
        config_path: args.config.clone(),
        overrides: Overrides {
            listen: args.listen,
            upstream: args.upstream.clone(),
            mode: args.mode,
            admin: args.admin,
            openapi: args.openapi.clone(),
            redis: args.redis.clone(),
            crs: args.crs.clone(),
            paranoia: args.paranoia,
        },
        // Event flags replace the file's [events] table; without them the file (or the default) applies.
        events: (args.events_db.is_some() || args.events_jsonl.is_some())
            .then(|| events_config(args.events_db.clone(), args.events_jsonl.clone())),
    };
    let gw = start(opts).await?;
    for a in &gw.listen_addrs {
        tracing::info!("palisade listening on {a}");
    }
    if let Some(a) = gw.admin_addr {
        tracing::info!("admin on http://{a} (/metrics, /healthz, /readyz, POST /reload)");
    }
    wait_for_signals(&gw).await?;
    tracing::info!("draining");
    gw.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signals(gw: &palisade::RunningGateway) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                match gw.reload() {
                    Ok(msg) => tracing::info!("SIGHUP: {msg}"),
                    Err(e) => tracing::error!("SIGHUP: reload refused, previous configuration still serving: {e}"),
                }
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(_gw: &palisade::RunningGateway) -> Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn check_config(file: &std::path::Path) -> Result<()> {
    let config = Config::load(file).map_err(|e| anyhow!("{e}"))?;
    out!("{}: valid", file.display());
    let workers = palisade_proxy::workers::worker_count(config.workers);
    out!(
        "  workers  {workers}{} — each with its own event loop and upstream pool{}",
        if config.workers == 0 {
            " (one per core)"
        } else {
            ""
        },
        match config.worker_pinning {
            palisade_config::WorkerPinning::Cores =>
                ", pinned to a CPU each where there are enough",
            palisade_config::WorkerPinning::Off => ", not pinned",
        }
    );
    for l in &config.listeners {
        let tls = match &l.tls {
            Some(t) => format!(
                "TLS ({} certificate(s), ALPN {})",
                t.certificates.len(),
                t.alpn.join(",")
            ),
            None => "plain HTTP".into(),
        };
        out!("  listener {} — {tls}", l.address);
    }
    if config.admin.enabled {
        out!(
            "  admin    {} — /metrics /healthz /readyz /reload",
            config.admin.address
        );
    }
    for u in &config.upstreams {
        out!(
            "  upstream {} → {} (connect {}, read {}, eject after {} failures for {})",
            u.name,
            u.addresses.join(", "),
            u.connect_timeout,
            u.read_timeout,
            u.eject_after_failures,
            u.eject_for
        );
    }
    for r in &config.routes {
        out!(
            "  route    {} {}{} → {} mode={:?} threshold={}",
            r.name,
            r.host.as_deref().unwrap_or("*"),
            r.path_prefix,
            r.upstream,
            r.mode.unwrap_or(config.decision.mode),
            r.inbound_threshold
                .unwrap_or(config.decision.inbound_threshold)
        );
    }
    let l = &config.limits;
    out!(
        "  limits   header {} / {} headers, uri {}, body {} (inspect {}), header timeout {}, min body rate {}/s, idle {}, connections {} ({} per client)",
        l.max_header_bytes, l.max_header_count, l.max_uri_bytes, l.max_body, l.inspect_body, l.header_read_timeout, l.min_body_rate, l.idle_timeout, l.max_connections, l.max_connections_per_ip
    );
    if config.upstreams.is_empty() {
        out!("  note: no upstream defined; `palisade serve --upstream URL` must supply one");
    }
    Ok(())
}

async fn demo(args: DemoArgs) -> Result<()> {
    let (api_addr, api) = palisade_demo::spawn_on_loopback()
        .await
        .context("starting the demo API")?;
    let opts = Options {
        config_path: None,
        overrides: Overrides {
            listen: Some(args.listen),
            upstream: Some(format!("http://{api_addr}")),
            mode: Some(Mode::Block),
            admin: Some(args.admin),
            openapi: None,
            redis: None,
            crs: None,
            paranoia: None,
        },
        events: Some(events_config(Some(args.events_db.clone()), None)),
    };
    let gw = start(opts).await?;
    let gw_addr = gw.listen_addrs[0];
    out!("Palisade demo");
    out!("  sample API (unprotected): http://{api_addr}");
    out!("  through Palisade:         http://{gw_addr}");
    if let Some(a) = gw.admin_addr {
        out!("  metrics:                  http://{a}/metrics");
    }
    out!(
        "  events:                   palisade events query --db {}",
        args.events_db.display()
    );
    out!();
    if args.attack {
        let outcomes = palisade::demo::run_attack(gw_addr).await?;
        out_raw!("{}", palisade::demo::render_table(&outcomes));
        gw.flush_events(Duration::from_secs(5));
        gw.shutdown().await;
        let _ = api.shutdown().await;
        return Ok(());
    }
    out!("try:  curl 'http://{gw_addr}/api/products?q=desk'");
    out!("      curl 'http://{gw_addr}/api/products?q=%27%20OR%201%3D1--'");
    out!("Ctrl-C to stop.");
    wait_for_signals(&gw).await?;
    gw.shutdown().await;
    let _ = api.shutdown().await;
    Ok(())
}

fn events(cmd: EventsCommand) -> Result<()> {
    match cmd {
        EventsCommand::Query {
            db,
            since,
            ip,
            rule,
            limit,
            json,
        } => {
            let store = open_store(&db)?;
            let since_ms = match since {
                Some(s) => {
                    let d =
                        palisade_events::parse_since(&s).map_err(|e| anyhow!("--since: {e}"))?;
                    Some(palisade_events::cutoff_ms(palisade_events::now_ms(), d))
                }
                None => None,
            };
            let q = EventQuery {
                since_ms,
                ip,
                rule,
                limit,
                ..Default::default()
            };
            for e in store.query(&q).map_err(|e| anyhow!("{e}"))? {
                out!(
                    "{}",
                    if json {
                        palisade_events::render_json(&e)
                    } else {
                        palisade_events::render_line(&e)
                    }
                );
            }
            Ok(())
        }
        EventsCommand::Tail { db, json } => {
            let store = open_store(&db)?;
            let mut last = store.last_id().map_err(|e| anyhow!("{e}"))?;
            loop {
                let batch = store.tail_after(last, 500).map_err(|e| anyhow!("{e}"))?;
                for e in &batch {
                    out!(
                        "{}",
                        if json {
                            palisade_events::render_json(e)
                        } else {
                            palisade_events::render_line(e)
                        }
                    );
                    last = last.max(e.id);
                }
                if batch.is_empty() {
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        EventsCommand::Verify { db } => {
            let store = open_store(&db)?;
            let report = store.verify_chain().map_err(|e| anyhow!("{e}"))?;
            if report.is_intact() {
                out!(
                    "hash chain intact: {} events, head {}",
                    report.verified,
                    report.head_hash
                );
                Ok(())
            } else {
                bail!("hash chain broken: {report:?}")
            }
        }
    }
}

fn open_store(db: &std::path::Path) -> Result<EventStore> {
    if !db.exists() {
        bail!(
            "{}: no event store here (is Palisade writing elsewhere? see --db)",
            db.display()
        );
    }
    EventStore::open(db).map_err(|e| anyhow!("{}: {e}", db.display()))
}

fn eval(args: EvalArgs) -> Result<()> {
    use palisade_core::{DecisionPolicy, Detector};
    use std::sync::Arc;
    let corpus = palisade_eval::Corpus::load(&args.corpus)
        .map_err(|e| anyhow!("{}: {e}", args.corpus.display()))?;
    let policy = DecisionPolicy::default();
    let native: Arc<dyn Detector> = Arc::new(palisade_detect::NativeDetector::default());
    let crs = match &args.crs {
        Some(dir) => {
            let cfg = palisade_waf::WafConfig::crs(dir, args.paranoia);
            let waf = palisade_waf::Waf::load(&cfg).map_err(|e| anyhow!("CRS: {e}"))?;
            Some(Arc::new(palisade_waf::WafDetector::new(waf)) as Arc<dyn Detector>)
        }
        None => None,
    };
    let show = |title: &str, report: &palisade_eval::Report| {
        out!("\n== {title}");
        if args.verbose {
            for o in report.misses() {
                out!("  missed: {o:?}");
            }
            for o in report.false_positives() {
                out!("  false positive: {o:?}");
            }
        }
        out!("{}", report.render().trim_end());
    };
    let mut extra = Vec::new();
    if let Some(dir) = &args.regression_tests {
        let (cases, skipped) =
            palisade_eval::crs::load_regression_cases(dir).map_err(|e| anyhow!("{e}"))?;
        out!(
            "regression tests: {} labelled cases ({skipped} stages skipped)",
            cases.len()
        );
        extra = cases;
    }
    // Extra sources first; the default configuration on the corpus comes last,
    // so the last line is always its `BA x.xx TPR x.xx TNR x.xx`.
    if !extra.is_empty() {
        show(
            "native detectors, regression payloads",
            &palisade_eval::evaluate_cases(&extra, std::slice::from_ref(&native), &policy),
        );
    }
    let default_set: Vec<Arc<dyn Detector>> = match &crs {
        Some(c) => {
            let level = args.paranoia;
            if !extra.is_empty() {
                show(
                    &format!("CRS PL{level}, regression payloads"),
                    &palisade_eval::evaluate_cases(&extra, std::slice::from_ref(c), &policy),
                );
            }
            show(
                &format!("CRS PL{level}"),
                &palisade_eval::evaluate(&corpus, std::slice::from_ref(c), &policy),
            );
            show(
                "native detectors",
                &palisade_eval::evaluate(&corpus, std::slice::from_ref(&native), &policy),
            );
            vec![native.clone(), c.clone()]
        }
        None => vec![native.clone()],
    };
    let title = if crs.is_some() {
        "default combination (native + CRS)"
    } else {
        "native detectors (the default configuration)"
    };
    show(
        title,
        &palisade_eval::evaluate(&corpus, &default_set, &policy),
    );
    Ok(())
}

fn rules(cmd: RulesCommand) -> Result<()> {
    match cmd {
        RulesCommand::Test {
            crs,
            tests,
            paranoia,
            setup,
            http,
        } => {
            let report = if http {
                palisade::rules_http::run(&crs, &tests, paranoia, setup.as_deref())?
            } else {
                palisade_waf::conformance::run_suite(&crs, &tests, paranoia, setup.as_deref())
                    .map_err(|e| anyhow!("{e}"))?
            };
            out_raw!("{}", report.render());
            Ok(())
        }
    }
}

fn keys(cmd: KeysCommand) -> Result<()> {
    use palisade_auth::{ApiKeyStore, NewApiKey};
    match cmd {
        KeysCommand::Create {
            store,
            owner,
            scopes,
            rate_limit,
            expires_in,
        } => {
            let expires_at = match expires_in {
                Some(s) => {
                    let d = palisade_events::parse_since(&s)
                        .map_err(|e| anyhow!("--expires-in: {e}"))?;
                    Some(
                        palisade_events::now_ms() / 1000
                            + i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2),
                    )
                }
                None => None,
            };
            let st = ApiKeyStore::open(&store).map_err(|e| anyhow!("{}: {e}", store.display()))?;
            let created = st
                .create(NewApiKey {
                    owner,
                    scopes: scopes.into_iter().filter(|s| !s.is_empty()).collect(),
                    rate_limit,
                    expires_at,
                })
                .map_err(|e| anyhow!("{e}"))?;
            out!("id:     {}", created.record.id);
            out!("owner:  {}", created.record.owner);
            out!("key:    {}", created.plaintext);
            out!("(the key is shown once; only its SHA-256 is stored)");
            Ok(())
        }
        KeysCommand::Revoke { store, id } => {
            let st = ApiKeyStore::open(&store).map_err(|e| anyhow!("{}: {e}", store.display()))?;
            st.revoke(&id).map_err(|e| anyhow!("{e}"))?;
            out!("revoked {id}");
            Ok(())
        }
        KeysCommand::List { store } => {
            let st = ApiKeyStore::open(&store).map_err(|e| anyhow!("{}: {e}", store.display()))?;
            for k in st.list().map_err(|e| anyhow!("{e}"))? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                out!(
                    "{}  {:<20} scopes={:<24} rate={:<12} expires={} {state}",
                    k.id,
                    k.owner,
                    k.scopes.join(","),
                    k.rate_limit.as_deref().unwrap_or("-"),
                    k.expires_at.map_or("never".to_string(), |e| e.to_string())
                );
            }
            Ok(())
        }
    }
}
