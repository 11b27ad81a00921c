//! The `palisade` binary as operators use it: flags, signals, check-config,
//! the event commands and the demo.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
}

/// Runs `command`, asserts it succeeded (showing its stderr if not) and
/// returns its standard output.
fn succeeds(command: &mut Command) -> String {
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never started listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Minimal blocking HTTP/1.1 GET returning (status, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} failed");
}

struct Served {
    child: Child,
    addr: SocketAddr,
    admin: SocketAddr,
    dir: tempfile::TempDir,
    _api: std::thread::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed assertion must not leave a gateway running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo_api() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("rt");
        rt.block_on(async move {
            let (addr, handle) = palisade_demo::spawn_on_loopback().await.expect("demo");
            tx.send(addr).expect("send");
            // Keep serving until the test process exits.
            std::future::pending::<()>().await;
            drop(handle);
        });
    });
    (rx.recv().expect("demo addr"), h)
}

fn serve(config: &str) -> Served {
    let (api, api_thread) = demo_api();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("palisade.toml");
    std::fs::write(&cfg, config).expect("config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let child = bin()
        .args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--upstream",
            &format!("http://{api}"),
            "--mode",
            "block",
        ])
        .args(["--admin", &admin.to_string(), "--config"])
        .arg(&cfg)
        .arg("--events-db")
        .arg(dir.path().join("events.db"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn palisade");
    wait_listening(addr);
    Served {
        child,
        addr,
        admin,
        dir,
        _api: api_thread,
    }
}

#[test]
fn sighup_reloads_and_bad_config_keeps_old() {
    let mut s = serve("");
    assert_eq!(http(s.addr, "GET", "/api/products").0, 200);
    let cfg = s.dir.path().join("palisade.toml");
    std::fs::write(
        &cfg,
        "[[routes]]\nname = \"default\"\nupstream = \"default\"\nmethods = [\"POST\"]\n",
    )
    .expect("write");
    signal(&s.child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while http(s.addr, "GET", "/api/products").0 != 405 {
        assert!(Instant::now() < deadline, "SIGHUP reload not applied");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&cfg, "this is = not [valid").expect("write");
    signal(&s.child, "-HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        http(s.addr, "GET", "/api/products").0,
        405,
        "old config still serving"
    );
    let (status, _) = http(s.admin, "GET", "/healthz");
    assert_eq!(status, 200);
    signal(&s.child, "-TERM");
    let status = s.child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    if let Some(mut e) = s.child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(err.contains("reload refused"), "stderr: {err}");
}

#[test]
fn sigterm_drains_in_flight_requests() {
    let mut s = serve("");
    let addr = s.addr;
    let slow = std::thread::spawn(move || http(addr, "GET", "/api/slow?ms=1500"));
    std::thread::sleep(Duration::from_millis(300));
    signal(&s.child, "-TERM");
    let (status, _) = slow.join().expect("slow request");
    assert_eq!(status, 200, "in-flight request completed during drain");
    let exit = s.child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    // New connections are refused after shutdown.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn events_query_reads_what_serve_wrote() {
    let mut s =
        serve("[[routes]]\nname = \"default\"\nupstream = \"default\"\nmethods = [\"GET\"]\n");
    for _ in 0..2 {
        assert_eq!(http(s.addr, "DELETE", "/api/orders/1").0, 405);
    }
    signal(&s.child, "-TERM");
    assert!(s.child.wait().expect("wait").success());
    let db = s.dir.path().join("events.db");
    let text = succeeds(
        bin()
            .args([
                "events",
                "query",
                "--rule",
                "palisade.route.method",
                "--json",
                "--db",
            ])
            .arg(&db),
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("\"status\":405"), "{text}");
    succeeds(bin().args(["events", "verify", "--db"]).arg(&db));
}

#[test]
fn check_config_explains_and_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[[upstreams]]\nname = \"api\"\naddresses = [\"http://127.0.0.1:5000\"]\n[[routes]]\nname = \"api\"\npath_prefix = \"/api\"\nupstream = \"api\"\n").expect("write");
    let out = bin().arg("check-config").arg(&good).output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("valid") && text.contains("route    api"),
        "{text}"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nmax_body = \"1MiB\"\nmax_bodyy = 2\n").expect("write");
    let out = bin().arg("check-config").arg(&bad).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:3"), "{err}");
    assert!(err.contains("max_bodyy"), "{err}");
}

/// Output piped into a reader that stops early (`| head -1`) ends the
/// command quietly, never with a panic.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = bin()
        .arg("eval")
        .current_dir(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    // Read nothing: the reading end closes at once.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?} {err}", out.status);
}

#[test]
fn serve_without_upstream_is_a_clear_error() {
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream"));
}

#[test]
fn demo_attack_blocks_attacks_and_allows_legit_traffic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = bin()
        .args([
            "demo",
            "--attack",
            "--listen",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--events-db",
        ])
        .arg(dir.path().join("demo.db"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = child.wait().expect("wait");
    let text = lines.join("\n");
    assert!(status.success(), "{text}");
    let summary = lines
        .iter()
        .rev()
        .find(|l| l.contains("as expected"))
        .expect("summary line");
    let (n, total) = summary
        .rsplit_once(" as expected")
        .and_then(|(head, _)| head.rsplit_once("; "))
        .and_then(|(_, t)| t.split_once(" of "))
        .map(|(a, b)| {
            (
                a.trim().parse::<usize>().unwrap_or(0),
                b.trim().parse::<usize>().unwrap_or(usize::MAX),
            )
        })
        .expect("parse summary");
    assert_eq!(n, total, "{text}");
    assert!(!text.contains("UNEXPECTED"), "{text}");
}

#[test]
fn eval_prints_the_figures_last() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = succeeds(bin().arg("eval").current_dir(&root));
    let last = text.lines().last().expect("output");
    let fields: Vec<&str> = last.split(' ').collect();
    assert_eq!(fields.len(), 6, "{last}");
    assert_eq!(
        (fields[0], fields[2], fields[4]),
        ("BA", "TPR", "TNR"),
        "{last}"
    );
    for v in [fields[1], fields[3], fields[5]] {
        assert_eq!(
            v.split('.').nth(1).map(str::len),
            Some(2),
            "two decimals: {last}"
        );
    }
    let ba: f64 = fields[1].parse().expect("BA");
    let tnr: f64 = fields[5].parse().expect("TNR");
    assert!(ba >= 99.5 && tnr >= 99.5, "{last}");
}

/// `rules test --http` replays go-ftw tests through a real gateway; the last
/// line keeps the runner's contract. Needs the CRS from `../shared`.
#[test]
fn rules_test_over_http_replays_through_a_gateway() {
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if !shared.join("rules").is_dir() {
        eprintln!("skipped: {} not present", shared.display());
        return;
    }
    let tests = shared.join("tests/regression/tests/REQUEST-931-APPLICATION-ATTACK-RFI");
    let text = succeeds(
        bin()
            .args(["rules", "test", "--http", "--paranoia", "4", "--crs"])
            .arg(&shared)
            .arg("--tests")
            .arg(&tests),
    );
    let last = text.lines().last().expect("output");
    // passed X of Y (Z.Z%)
    let fields: Vec<&str> = last.split(' ').collect();
    assert_eq!((fields[0], fields[2]), ("passed", "of"), "{last}");
    let passed: f64 = fields[1].parse().expect("X");
    let total: f64 = fields[3].parse().expect("Y");
    assert!(total >= 30.0, "{last}");
    assert!(passed / total >= 0.9, "{text}");
}
