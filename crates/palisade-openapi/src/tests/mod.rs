//! Crate tests that need internals: real-document loading and generated
//! request checks, feature suites, property tests.

mod demo;
mod features;
mod generate;
mod real_specs;

use std::path::PathBuf;

/// `../shared/openapi-specs`, or `None` (with a notice) when absent.
pub(crate) fn shared_specs() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi-specs");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "notice: {} absent; real-document tests skipped",
            dir.display()
        );
        None
    }
}

pub(crate) const REAL_SPECS: &[&str] = &[
    "stripe/spec3.yaml",
    "okta/management-oneOfInheritance.yaml",
    "box/openapi.json",
    "digitalocean/specification/DigitalOcean-public.v2.yaml",
    "twilio/twilio_api_v2010.json",
    "ory-kratos/api.json",
    "oai-examples/v3.0/petstore-expanded.yaml",
    "oai-examples/v3.0/callback-example.yaml",
    "oai-examples/v3.0/link-example.yaml",
    "oai-examples/v3.1/webhook-example.yaml",
    "oai-examples/v3.1/non-oauth-scopes.yaml",
    "openai/openapi.json",
    "letta/openapi.json",
    "svix/lib-openapi.json",
    "adyen/CheckoutService-v71.json",
    "adyen/BalancePlatformService-v2.json",
    "adyen/ManagementService-v3.json",
    "adyen/TransferService-v4.json",
    "adyen/Webhooks-v1.json",
    "hatchet/openapi/openapi.yaml",
    "redocly-museum/openapi.yaml",
];
