//! The relay over real loopback sockets: it forwards and counts, holds bytes in
//! a black hole and delivers them when the link opens, and a cut or a reset
//! ends the connections through it.

use std::net::SocketAddr;
use std::time::Duration;

use relay::{Bytes, Link, Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An echo server; its address.
async fn echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn relay() -> Relay {
    Relay::start("127.0.0.1:0".parse().unwrap(), echo().await)
        .await
        .unwrap()
}

/// Waits until the relay has counted `want` (it counts a chunk just after writing it, so the
/// peer may read before the count moves); fails after five seconds.
async fn counted(r: &Relay, want: Bytes) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while r.bytes() != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "counted {:?}, not {want:?}",
            r.bytes()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    s.write_all(msg).await.unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).await.unwrap();
    back
}

#[tokio::test]
async fn forwards_and_counts_both_ways() {
    let r = relay().await;
    let mut s = TcpStream::connect(r.addr()).await.unwrap();
    assert_eq!(round_trip(&mut s, b"hello").await, b"hello");
    counted(&r, Bytes { up: 5, down: 5 }).await;
    assert_eq!(r.connections(), 1);
}

#[tokio::test]
async fn a_black_hole_keeps_the_connection_and_delivers_after_it() {
    let r = relay().await;
    let mut s = TcpStream::connect(r.addr()).await.unwrap();
    assert_eq!(round_trip(&mut s, b"one").await, b"one");
    counted(&r, Bytes { up: 3, down: 3 }).await;
    r.set(Link::BlackHole);
    s.write_all(b"two").await.unwrap();
    let mut back = [0u8; 3];
    // Nothing comes back while the hole lasts (a bounded look, not a synchronisation).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut back))
            .await
            .is_err()
    );
    assert_eq!(r.bytes(), Bytes { up: 3, down: 3 }, "no byte moved");
    r.set(Link::Open);
    s.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"two");
}

#[tokio::test]
async fn a_cut_ends_open_connections_and_new_ones_pass() {
    let r = relay().await;
    let mut s = TcpStream::connect(r.addr()).await.unwrap();
    assert_eq!(round_trip(&mut s, b"x").await, b"x");
    r.cut();
    let mut buf = [0u8; 1];
    assert!(matches!(s.read(&mut buf).await, Ok(0) | Err(_)));
    let mut again = TcpStream::connect(r.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, b"y").await, b"y");
}

#[tokio::test]
async fn a_reset_link_refuses_until_it_opens() {
    let r = relay().await;
    r.set(Link::Reset);
    let mut s = TcpStream::connect(r.addr()).await.unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(s.read(&mut buf).await, Ok(0) | Err(_)));
    r.set(Link::Open);
    let mut again = TcpStream::connect(r.addr()).await.unwrap();
    assert_eq!(round_trip(&mut again, b"z").await, b"z");
}
