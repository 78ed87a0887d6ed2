//! The auth step: resolves the request's credentials once, for the router to enforce.

use std::sync::Arc;

use poem::{Endpoint, Middleware, Request, Result};

use crate::auth::Authenticator;

pub struct AuthLayer {
    authenticator: Arc<Authenticator>,
}

impl AuthLayer {
    pub fn new(authenticator: Arc<Authenticator>) -> Self {
        AuthLayer { authenticator }
    }
}

impl<E: Endpoint> Middleware<E> for AuthLayer {
    type Output = AuthEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AuthEndpoint {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

pub struct AuthEndpoint<E> {
    inner: E,
    authenticator: Arc<Authenticator>,
}

impl<E: Endpoint> Endpoint for AuthEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let outcome = self
            .authenticator
            .authenticate(req.headers(), req.uri().query())
            .await;
        req.extensions_mut().insert(outcome);
        self.inner.call(req).await
    }
}
