//! A real webhook receiver on loopback: records every request it gets, byte for byte,
//! and answers from a script (then 200), as a user's endpoint would.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use poem::{
    handler,
    http::{HeaderMap, StatusCode},
    listener::{Acceptor, Listener, TcpListener},
    web::Data,
    Body, EndpointExt, Response, Route, Server,
};
use tokio::sync::oneshot;

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Statuses to answer, in order; then 200.
    script: VecDeque<u16>,
    /// Requests being answered now, per `webhook-id`, and the most ever at once.
    in_flight: HashMap<String, usize>,
    most_at_once: usize,
    /// How long each answer takes.
    delay: Duration,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[handler]
async fn receive(headers: &HeaderMap, body: Body, state: Data<&Arc<Mutex<State>>>) -> Response {
    let body = body.into_vec().await.unwrap_or_default();
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (status, delay) = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            headers: headers.clone(),
            body,
            at: Instant::now(),
        });
        let now = {
            let n = state.in_flight.entry(id.clone()).or_default();
            *n += 1;
            *n
        };
        state.most_at_once = state.most_at_once.max(now);
        (state.script.pop_front().unwrap_or(200), state.delay)
    };
    tokio::time::sleep(delay).await;
    *state.lock().unwrap().in_flight.entry(id).or_default() -= 1;
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .body("ok")
}

impl Receiver {
    /// A receiver on a free loopback port answering `script`, then 200.
    pub async fn start(script: &[u16]) -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap(), script).await
    }

    /// A receiver on `addr` (to come back where one was down).
    ///
    /// It serves from a thread and runtime of its own: a test that blocks its own
    /// thread (running the CLI, say) must not stall the receiver, or deliveries time out
    /// and use up their retries while nobody answers.
    pub async fn start_on(addr: SocketAddr, script: &[u16]) -> Receiver {
        let state = Arc::new(Mutex::new(State {
            script: script.iter().copied().collect(),
            ..State::default()
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let (bound, bound_at) = oneshot::channel::<SocketAddr>();
        let app = Route::new().at("/hook", receive).data(state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the receiver's runtime");
            runtime.block_on(async move {
                let acceptor = TcpListener::bind(addr)
                    .into_acceptor()
                    .await
                    .expect("bind the receiver");
                let addr = *acceptor.local_addr()[0].as_socket_addr().unwrap();
                let _ = bound.send(addr);
                let _ = Server::new_with_acceptor(acceptor)
                    .run_with_graceful_shutdown(
                        app,
                        async {
                            let _ = stopped.await;
                        },
                        Some(Duration::from_secs(1)),
                    )
                    .await;
            });
        });
        let addr = bound_at.await.expect("the receiver is listening");
        Receiver {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A free loopback address with nothing listening on it (a receiver that is down).
    pub fn free_addr() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    pub fn url(&self) -> String {
        Receiver::url_of(self.addr)
    }

    pub fn url_of(addr: SocketAddr) -> String {
        format!("http://{addr}/hook")
    }

    /// Each answer waits this long (deliveries are then in flight a while).
    pub fn answer_after(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The most requests with one `webhook-id` it was answering at the same time.
    pub fn most_at_once(&self) -> usize {
        self.state.lock().unwrap().most_at_once
    }

    /// Waits until `n` requests have arrived; fails the test after `within`.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {n}, within {within:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
