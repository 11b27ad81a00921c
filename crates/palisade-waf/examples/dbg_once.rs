use palisade_waf::{RequestInput, Waf, WafConfig};
fn main() {
    let waf = Waf::load(&WafConfig::crs("/work/shared/crs-v4.28.0", 1)).unwrap();
    let post = RequestInput::new("POST", "/api/v1/orders").header("Host", "a").header("Content-Type", "application/json").header("User-Agent","Mozilla/5.0").header("Accept","*/*");
    let mut items = Vec::new();
    for n in 0..7 { items.push(format!(r#"{{"id":{n},"name":"Widget number {n}","description":"A sturdy widget for everyday use, model {n}","price":{}.99,"tags":["tools","home","garden"],"in_stock":true}}"#, n*3+7)); }
    let body = format!(r#"{{"order":{{"customer":"alice@example.com","items":[{}]}}}}"#, items.join(","));
    let (mut t1, mut t2) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..3000 {
        let mut tx = waf.transaction();
        let a = std::time::Instant::now();
        tx.process_request_headers(&post);
        let b = std::time::Instant::now();
        tx.process_request_body(body.as_bytes());
        t2 += b.elapsed(); t1 += b - a;
    }
    println!("phase1 {:?} phase2 {:?} len {}", t1 / 200, t2 / 200, body.len());
    let mut tx = waf.transaction();
    tx.process_request_headers(&post);
    tx.process_request_body(body.as_bytes());
    for m in tx.matched_rules() { if m.logged { println!("{} {} {}", m.id, m.logged, m.matched_var_name); } }
    println!("matches {}", tx.matched_rules().len());
}
