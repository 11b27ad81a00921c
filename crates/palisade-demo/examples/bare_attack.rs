//! Runs the `demo --attack` script against the demo API with no gateway in
//! front, to show what reaches an unprotected API:
//! `cargo run -p palisade-demo --example bare_attack`.

use palisade_demo::script::{attack_script, render_table, run_script};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let (addr, handle) = palisade_demo::spawn_on_loopback().await?;
    println!("demo API on http://{addr} (unprotected)\n");
    let outcomes = run_script(addr, &attack_script()).await;
    print!("{}", render_table(&outcomes));
    handle.shutdown().await
}
