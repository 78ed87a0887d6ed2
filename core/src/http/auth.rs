//! The auth step: resolves the request's credentials once, for the router to enforce.

use std::{future::Future, sync::Arc};

use futures_util::{future::Either, FutureExt};
use poem::{Endpoint, Middleware, Request, Result};

use crate::auth::{authenticator::Checked, Authenticator};

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

    // Not an `async fn`: that would hold the request beside the inner call's future,
    // which holds it too. A key the cache knows (or no key) is settled at once; the rare
    // database read is boxed, so the usual request's future does not carry its state.
    fn call(&self, mut req: Request) -> impl Future<Output = Result<E::Output>> + Send {
        match self.authenticator.check(req.headers(), req.uri().query()) {
            Checked::Done(outcome) => {
                req.extensions_mut().insert(outcome);
                Either::Left(self.inner.call(req))
            }
            Checked::LookUp(lookup) => Either::Right(
                Box::pin(self.authenticator.look_up(lookup)).then(move |outcome| {
                    req.extensions_mut().insert(outcome);
                    self.inner.call(req)
                }),
            ),
        }
    }
}
