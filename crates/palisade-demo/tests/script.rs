//! The `demo --attack` script against the bare demo API (no gateway).

use palisade_demo::script::{attack_script, render_table, run_script, TrafficKind, Verdict};
use palisade_demo::spawn_on_loopback;

#[tokio::test]
async fn script_runs_against_the_bare_api() {
    let (addr, handle) = spawn_on_loopback().await.expect("spawn");
    let script = attack_script();
    assert!(
        script
            .iter()
            .filter(|r| r.kind == TrafficKind::Legit)
            .count()
            >= 5
    );
    assert!(
        script
            .iter()
            .filter(|r| r.kind == TrafficKind::Attack)
            .count()
            >= 10
    );

    let outcomes = run_script(addr, &script).await;
    assert_eq!(outcomes.len(), script.len());
    for outcome in &outcomes {
        assert_ne!(outcome.verdict, Verdict::Failed, "{outcome:?}");
        if outcome.kind == TrafficKind::Legit {
            let status = outcome.status.unwrap_or(0);
            assert!(
                (200..300).contains(&status),
                "legit request failed on the bare API: {outcome:?}"
            );
        }
    }
    // Unprotected, nothing is blocked and the crash probe leaks.
    assert!(outcomes.iter().all(|o| o.verdict != Verdict::Blocked));
    let crash = outcomes
        .iter()
        .find(|o| o.path_and_query == "/api/debug/crash")
        .expect("crash probe");
    assert_eq!(crash.verdict, Verdict::Leaked);
    let bola = outcomes
        .iter()
        .find(|o| o.path_and_query == "/api/orders/2")
        .expect("bola probe");
    assert_eq!(bola.status, Some(200));

    let table = render_table(&outcomes);
    assert_eq!(table.lines().count(), outcomes.len() + 2);
    assert!(table.contains("attacks stopped (blocked or scrubbed): 0/"));
    assert!(table
        .lines()
        .nth(1)
        .is_some_and(|l| l.contains("health check")));
    handle.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn unreachable_target_is_reported_as_failed() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let script = attack_script();
    let outcomes = run_script(addr, &script[..2]).await;
    assert!(outcomes.iter().all(|o| o.verdict == Verdict::Failed));
    assert!(outcomes.iter().all(|o| o.detail.is_some()));
}
