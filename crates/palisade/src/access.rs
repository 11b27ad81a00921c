//! Identity, authorization and abuse limits assembled from the configuration:
//! `palisade-auth` and `palisade-ratelimit` behind the proxy's
//! [`AccessControl`] hooks.

use anyhow::{anyhow, Result};
use palisade_auth::AuthEngine;
use palisade_config::Config;
use palisade_core::Transaction;
use palisade_openapi::ApiSpec;
use palisade_proxy::{AccessControl, BoxFuture};
use palisade_ratelimit::{
    record_outcome, Counters, IdentitySpread, LocalState, LoginAttempt, LoginGuard, LoginVerdict,
    RateLimitState, RateLimiter, SharedStore,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The access-control stages of one configuration.
pub struct Access {
    auth: Option<Arc<AuthEngine>>,
    limiter: Option<RateLimiter>,
    login: Option<LoginGuard>,
    spread: Option<IdentitySpread>,
    /// Route name to its API description, whose `security` requirements
    /// apply where no configured access rule does.
    specs: HashMap<String, Arc<ApiSpec>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Access {
    fn drop(&mut self) {
        // JWKS refresh and key-store reload belong to this configuration only.
        for t in &self.background {
            t.abort();
        }
    }
}

/// A login attempt seen in the request body, awaiting the upstream's verdict.
#[derive(Clone)]
struct PendingLogin(LoginAttempt);

impl Access {
    /// Builds the stages the configuration asks for; `None` when it asks for none.
    /// Must run inside a tokio runtime (background refreshes are spawned).
    pub fn build(
        config: &Config,
        base: &Path,
        specs: HashMap<String, Arc<ApiSpec>>,
        state: &LocalState,
    ) -> Result<Option<Arc<Access>>> {
        let wants = config.auth.is_some()
            || !config.rate_limits.is_empty()
            || !config.login_protection.is_empty()
            || config.identity_spread.is_some();
        if !wants {
            return Ok(None);
        }
        let shared = match &config.redis {
            Some(r) => Some(Arc::new(
                SharedStore::new(r.clone()).map_err(|e| anyhow!("redis: {e}"))?,
            )),
            None => None,
        };
        let counters = Arc::new(Counters::with_state(shared.clone(), state));
        let mut background = Vec::new();
        let auth = match &config.auth {
            Some(a) => {
                let engine =
                    Arc::new(AuthEngine::from_config(a, base).map_err(|e| anyhow!("auth: {e}"))?);
                background.extend(engine.spawn_background_tasks());
                let first = engine.clone();
                background.push(tokio::spawn(async move {
                    for (issuer, e) in first.refresh_jwks().await {
                        tracing::warn!(issuer = %issuer, error = %e, "JWKS not loaded yet");
                    }
                }));
                Some(engine)
            }
            None => None,
        };
        let limiter = (!config.rate_limits.is_empty())
            .then(|| RateLimiter::with_state(&config.rate_limits, shared.clone(), state))
            .transpose()
            .map_err(|e| anyhow!("rate_limits: {e}"))?;
        let login = (!config.login_protection.is_empty())
            .then(|| LoginGuard::new(&config.login_protection, counters.clone()))
            .transpose()
            .map_err(|e| anyhow!("login_protection: {e}"))?;
        let spread = config
            .identity_spread
            .clone()
            .map(|c| IdentitySpread::new(c, counters.clone(), shared.is_some()));
        Ok(Some(Arc::new(Access {
            auth,
            limiter,
            login,
            spread,
            specs,
            background,
        })))
    }

    /// Records the security requirements of the operation the request
    /// matched, when its route has an API description.
    fn note_operation_security(&self, tx: &mut Transaction) {
        // Hashing the route name is not free: skip it without specs.
        if self.specs.is_empty() {
            return;
        }
        if let Some(security) = self
            .specs
            .get(&*tx.request.route)
            .and_then(|spec| spec.operation_security(&tx.request.method, tx.request.path()))
        {
            tx.state.insert(security.clone());
        }
    }
}

impl AccessControl for Access {
    fn on_request_head_now(&self, tx: &mut Transaction) -> bool {
        if self.spread.is_some() || self.limiter.as_ref().is_some_and(|l| !l.is_local()) {
            return false;
        }
        if let Some(auth) = &self.auth {
            self.note_operation_security(tx);
            if !auth.authenticate_now(tx) {
                return false;
            }
            auth.authorize(tx);
        }
        if let Some(limiter) = &self.limiter {
            let outcome = limiter.check_local(&tx.request, tx.principal.as_ref());
            record_outcome(tx, outcome);
        }
        true
    }

    fn on_request_head<'a>(&'a self, tx: &'a mut Transaction) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(auth) = &self.auth {
                self.note_operation_security(tx);
                auth.authenticate(tx).await;
                auth.authorize(tx);
            }
            if let Some(limiter) = &self.limiter {
                let outcome = limiter.check(&tx.request, tx.principal.as_ref()).await;
                record_outcome(tx, outcome);
            }
            if let Some(spread) = &self.spread {
                if let Some(principal) = tx.principal.clone() {
                    // Boxed: only this optional stage's state is large, and
                    // inline it would enlarge every request's future.
                    let observed = Box::pin(spread.observe(&principal, tx.request.client_ip));
                    for f in observed.await {
                        tx.report(f);
                    }
                }
            }
        })
    }

    fn on_request_body<'a>(&'a self, tx: &'a mut Transaction) -> BoxFuture<'a, ()> {
        let Some(login) = &self.login else {
            return palisade_proxy::nothing_to_do();
        };
        Box::pin(async move {
            let Some(attempt) = login.attempt(tx) else {
                return;
            };
            match login.check(&attempt).await {
                LoginVerdict::Allow => {}
                LoginVerdict::Delay(d) => tokio::time::sleep(d).await,
                blocked @ LoginVerdict::Blocked { .. } => {
                    if let Some(f) = blocked.finding() {
                        tx.report(f);
                    }
                }
            }
            tx.state.insert(PendingLogin(attempt));
        })
    }

    fn upstream_headers(&self, tx: &Transaction, headers: &mut http::HeaderMap) {
        if let Some(auth) = &self.auth {
            auth.apply_identity_headers(headers, tx.principal.as_ref());
        }
    }

    fn on_response<'a>(&'a self, tx: &'a mut Transaction, status: u16) -> BoxFuture<'a, ()> {
        let (Some(login), Some(PendingLogin(attempt))) =
            (&self.login, tx.state.remove::<PendingLogin>())
        else {
            return palisade_proxy::nothing_to_do();
        };
        Box::pin(async move {
            for f in login.record(&attempt, status).await {
                tx.report(f);
            }
        })
    }

    fn response_headers(&self, tx: &Transaction, headers: &mut http::HeaderMap) {
        if let Some(RateLimitState(outcome)) = tx.state.get::<RateLimitState>() {
            outcome.write_headers(headers);
        }
    }
}
