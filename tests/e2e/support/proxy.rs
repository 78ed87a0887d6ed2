//! A TCP proxy the test controls, to take a database away from a running server and
//! give it back.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use tokio::{net::TcpListener, task::JoinHandle};

use super::TestDb;

pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Forwards connections on a free local port to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (up, links) = (up.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound); // the database is "down": hang up at once
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Proxy {
            addr,
            up,
            links,
            accept,
        }
    }

    /// Cuts every open connection and refuses new ones.
    pub fn take_down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn bring_up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// A proxy in front of a Postgres test database, and the database's URL through it.
    pub async fn in_front_of(db: &TestDb) -> (Proxy, String) {
        use std::net::ToSocketAddrs;
        let mut url = url::Url::parse(db.url()).expect("the test database's URL");
        let target = (url.host_str().unwrap(), url.port().unwrap_or(5432))
            .to_socket_addrs()
            .expect("resolve the database")
            .next()
            .expect("an address");
        let proxy = Proxy::start(target).await;
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(proxy.addr.port())).unwrap();
        (proxy, url.into())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.take_down();
    }
}
