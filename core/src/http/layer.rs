//! The one shape of the layers that work before and after the inner call (request id,
//! span, limits, panic guard, normaliser, conditional GET): a [`Step`] says what the
//! layer does, and [`Layer`] makes any step poem middleware.
//!
//! A step passes the request on and builds its future from combinators (`map`, `then`),
//! never as an `async fn` or an `async` block awaiting the inner call: those keep a
//! second copy of what they move (the request, the inner future) beside the one they
//! use, and a stack of them made every request's future 11 KB to allocate and copy
//! (`http::tests::each_layer_holds_the_request_once` holds the line). The auth step keeps
//! to the same rule (its rare database read is boxed); only the router, which awaits the
//! guard and the rate limiter before the plugin's endpoint, is an `async fn`.

use std::future::Future;

use poem::{Endpoint, Middleware, Request, Response, Result};

/// What a layer does around the endpoint it wraps.
pub trait Step: Clone + Send + Sync {
    /// Passes `req` on to `inner` and finishes its answer.
    fn call<'a, E: Endpoint>(
        &'a self,
        inner: &'a E,
        req: Request,
    ) -> impl Future<Output = Result<Response>> + Send + 'a;
}

/// A [`Step`] as poem middleware: `.with(Layer(step))`.
pub struct Layer<S>(pub S);

impl<S: Step, E: Endpoint> Middleware<E> for Layer<S> {
    type Output = Layered<S, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Layered {
            step: self.0.clone(),
            inner,
        }
    }
}

/// An endpoint wrapped in a step.
pub struct Layered<S, E> {
    step: S,
    inner: E,
}

impl<S: Step, E: Endpoint> Endpoint for Layered<S, E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = Result<Response>> + Send {
        self.step.call(&self.inner, req)
    }
}
