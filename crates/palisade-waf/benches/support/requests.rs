//! The requests the engine is measured with, shared by the criterion bench
//! and the `engine_instructions` example.

use palisade_waf::RequestInput;

fn headers(request: RequestInput) -> RequestInput {
    request
        .header("Host", "api.example.com")
        .header(
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        )
        .header("Accept", "application/json")
        .header("Accept-Language", "en-US,en;q=0.9")
        .header("Accept-Encoding", "gzip, deflate, br")
        .header(
            "Cookie",
            "session=4f1c2a9b8e7d6c5b4a39281706f5e4d3; theme=dark",
        )
}

/// A JSON document of roughly `target` bytes shaped like an API payload.
pub fn json_body(target: usize) -> Vec<u8> {
    let mut items = Vec::new();
    let mut size = 0;
    let mut n = 0;
    while size < target {
        let item = format!(
            r#"{{"id":{n},"name":"Widget number {n}","description":"A sturdy widget for everyday use, model {n}","price":{}.99,"tags":["tools","home","garden"],"in_stock":true}}"#,
            n * 3 + 7
        );
        size += item.len() + 1;
        items.push(item);
        n += 1;
    }
    format!(
        r#"{{"order":{{"customer":"alice@example.com","items":[{}]}}}}"#,
        items.join(",")
    )
    .into_bytes()
}

/// A product search: GET with five query parameters.
pub fn get_5_params() -> RequestInput {
    headers(RequestInput::new(
        "GET",
        "/api/v1/products?category=tools&sort=price&order=asc&page=2&limit=50",
    ))
}

/// The head of a JSON POST (its body comes from [`json_body`]).
pub fn json_post() -> RequestInput {
    headers(RequestInput::new("POST", "/api/v1/orders")).header("Content-Type", "application/json")
}
