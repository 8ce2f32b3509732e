//! The connection loop over real loopback sockets: keep-alive and pipelining, body
//! framing both ways, refusals, `100 Continue`, and the close rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{RequestBody, Settings, serve};
use crate::tls_stream::MaybeTls;

fn settings() -> Settings {
    Settings {
        idle: Duration::from_secs(10),
        header_timeout: Duration::from_millis(300),
        busy: None,
    }
}

/// Reads the whole body and answers `METHOD PATH LEN:BODY` (400 when the body fails).
async fn echo(req: Request<RequestBody>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let Ok(data) = body.collect().await.map(|c| c.to_bytes()) else {
        let mut r = Response::new(Full::new(Bytes::from_static(b"bad body")));
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    };
    let text = format!(
        "{} {} {}:{}",
        parts.method,
        parts.uri.path(),
        data.len(),
        String::from_utf8_lossy(&data)
    );
    Response::new(Full::new(Bytes::from(text)))
}

/// Answers 401 without reading the body.
async fn refuse_unread(_req: Request<RequestBody>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"no")));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

/// A server running `service` on one connection, and the client's end of it.
async fn connect<S, F>(service: S) -> TcpStream
where
    S: FnMut(Request<RequestBody>) -> F + Send + 'static,
    F: std::future::Future<Output = Response<Full<Bytes>>> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = serve(MaybeTls::Plain(tcp), settings(), service).await;
    });
    TcpStream::connect(addr).await.unwrap()
}

/// Sends `raw`, closes the sending side and returns all the server wrote.
async fn exchange(client: &mut TcpStream, raw: &[u8]) -> String {
    client.write_all(raw).await.unwrap();
    client.shutdown().await.unwrap();
    read_to_end(client).await
}

async fn read_to_end(client: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut out))
        .await
        .expect("the server closed the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn pipelined_requests_get_their_responses_in_order() {
    let mut c = connect(echo).await;
    let out = exchange(
        &mut c,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let a = out.find("GET /a 0:").unwrap();
    let b = out.find("PUT /b 3:xyz").unwrap();
    let c2 = out.find("GET /c 0:").unwrap();
    assert!(a < b && b < c2, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{out}");
    assert!(out.contains("content-length: 9\r\n"), "{out}");
    assert!(out.contains("date: "), "{out}");
}

#[tokio::test]
async fn chunked_bodies_are_decoded_with_extensions_and_trailers() {
    let mut c = connect(echo).await;
    let out = exchange(
        &mut c,
        b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(out.contains("POST /p 5:abcde"), "{out}");
    assert!(out.contains("GET /after 0:"), "{out}");
}

#[tokio::test]
async fn a_malformed_chunk_ends_the_connection() {
    let mut c = connect(echo).await;
    let out = exchange(
        &mut c,
        b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(!out.contains("/smuggled"), "{out}");
}

#[tokio::test]
async fn ambiguous_framing_is_refused_and_closes() {
    let mut c = connect(echo).await;
    let out = exchange(
        &mut c,
        b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
    assert!(!out.contains("/smuggled"), "{out}");
}

#[tokio::test]
async fn an_oversized_head_gets_431() {
    let mut c = connect(echo).await;
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', super::head::MAX_HEAD + 10));
    raw.extend_from_slice(b"\r\n\r\n");
    let out = exchange(&mut c, &raw).await;
    assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
}

#[tokio::test]
async fn a_head_that_stops_arriving_times_out() {
    let mut c = connect(echo).await;
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // No shutdown: the server must give up on its own.
    let out = read_to_end(&mut c).await;
    assert!(!out.contains("200 OK"), "{out}");
}

#[tokio::test]
async fn http10_closes_unless_asked_and_streams_until_close() {
    let streamed = |_r: Request<RequestBody>| async {
        let frames = futures::stream::iter(vec![
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"one,"))),
            Ok(http_body::Frame::data(Bytes::from_static(b"two"))),
        ]);
        Response::new(http_body_util::StreamBody::new(frames))
    };
    // HTTP/1.1: chunked.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..2 {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(MaybeTls::Plain(tcp), settings(), streamed));
        }
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    let out = exchange(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
    assert!(
        out.ends_with("\r\n\r\n4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"),
        "{out}"
    );
    // HTTP/1.0 with keep-alive asked: the length is unknown, so the body ends with
    // the connection anyway.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let out = read_to_end(&mut c).await;
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
    assert!(!out.contains("chunked"), "{out}");
    assert!(out.ends_with("\r\n\r\none,two"), "{out}");
}

#[tokio::test]
async fn http10_keep_alive_is_honoured_for_known_lengths() {
    let mut c = connect(echo).await;
    c.write_all(b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).await.unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.contains("connection: keep-alive\r\n"), "{first}");
    let out = exchange(&mut c, b"GET /2 HTTP/1.0\r\n\r\n").await;
    assert!(out.contains("GET /2 0:"), "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
}

#[tokio::test]
async fn continue_is_sent_only_when_the_body_is_read() {
    let mut c = connect(echo).await;
    c.write_all(b"PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    let out = exchange(&mut c, b"data").await;
    assert!(out.contains("PUT /u 4:data"), "{out}");

    // A handler that refuses without reading: no 100, and the connection closes
    // (the client may or may not send the body).
    let mut c = connect(refuse_unread).await;
    c.write_all(b"PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();
    let out = read_to_end(&mut c).await;
    assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out}");
    assert!(!out.contains("100 Continue"), "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
}

#[tokio::test]
async fn a_small_unread_body_is_drained_and_a_large_one_closes() {
    let mut c = connect(refuse_unread).await;
    let out = exchange(
        &mut c,
        b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(
        out.matches("HTTP/1.1 401 Unauthorized\r\n").count(),
        2,
        "{out}"
    );

    let mut c = connect(refuse_unread).await;
    let big = super::DRAIN_MAX + 1;
    let head = format!("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: {big}\r\n\r\n");
    c.write_all(head.as_bytes()).await.unwrap();
    let body = vec![b'z'; usize::try_from(big).unwrap()];
    let (mut rd, mut wr) = c.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&body).await;
        let _ = wr.write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let _ = wr.shutdown().await;
    });
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let _ = writer.await;
    let out = String::from_utf8_lossy(&out);
    assert_eq!(out.matches("HTTP/1.1 401").count(), 1, "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
}

#[tokio::test]
async fn a_bare_lf_in_a_chunk_line_or_trailer_smuggles_nothing() {
    // A proxy that ends lines at LF would see one request in each of these.
    for raw in [
        &b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;\nxx\r\n2a\r\n0\r\n\r\nGET /secret HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n"[..],
        b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\n\r\nxx\r\n0\r\n\r\nGET /secret HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\nGET /secret HTTP/1.1\r\nHost: x\r\n\r\n\r\n",
    ] {
        let mut c = connect(echo).await;
        let out = exchange(&mut c, raw).await;
        assert!(!out.contains("/secret"), "{out}");
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    }
}

#[tokio::test]
async fn chunk_extensions_are_bounded_per_body() {
    let mut c = connect(echo).await;
    let mut raw = b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let ext = "e".repeat(3000);
    for _ in 0..8 {
        raw.extend_from_slice(format!("1;{ext}\r\nx\r\n").as_bytes());
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let out = exchange(&mut c, &raw).await;
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
}

#[tokio::test]
async fn a_silent_or_idle_connection_ends_after_the_head_timeout() {
    let mut c = connect(echo).await;
    let started = std::time::Instant::now();
    assert_eq!(read_to_end(&mut c).await, "");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Between requests too, even when the client trickles empty lines.
    let mut c = connect(echo).await;
    c.write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if c.write_all(b"\r\n").await.is_err() {
            break;
        }
    }
    let out = read_to_end(&mut c).await;
    assert_eq!(out.matches("200 OK").count(), 1, "{out}");
}
