use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use herald_testkit::{NatsServer, Version, find_nats_server, nats_server_version, shared_nats};
use serde_json::Value;

/// The server's INFO line: what a client sees first on connect.
fn info(port: u16) -> Result<Value> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let json = line
        .strip_prefix("INFO ")
        .with_context(|| format!("not an INFO line: {line}"))?;
    Ok(serde_json::from_str(json)?)
}

fn http_get_json(base: &str, path: &str) -> Result<Value> {
    let addr = base.strip_prefix("http://").context("monitor url")?;
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (_, body) = response.split_once("\r\n\r\n").context("no HTTP body")?;
    Ok(serde_json::from_str(body)?)
}

/// Creates a file-backed stream through the JetStream API with the bare NATS protocol.
fn create_stream(port: u16, name: &str) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let config = format!(r#"{{"name":"{name}","subjects":["{name}.>"],"storage":"file"}}"#);
    write!(
        stream,
        "CONNECT {{\"verbose\":false,\"headers\":true}}\r\nSUB _INBOX.t 1\r\n\
         PUB $JS.API.STREAM.CREATE.{name} _INBOX.t {}\r\n{config}\r\nPING\r\n",
        config.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("connection closed before the stream was created");
        }
        if line.starts_with("MSG ") {
            let mut body = String::new();
            reader.read_line(&mut body)?;
            let reply: Value = serde_json::from_str(&body)?;
            if reply.get("error").is_some() {
                bail!("stream create failed: {reply}");
            }
            return Ok(());
        }
        if line.starts_with("-ERR") {
            bail!("server error: {line}");
        }
    }
}

fn stream_count(server: &NatsServer) -> Result<u64> {
    let jsz = http_get_json(&server.monitor_url(), "/jsz")?;
    jsz["streams"]
        .as_u64()
        .with_context(|| format!("no stream count in {jsz}"))
}

#[test]
fn finds_a_nats_server_with_scheduled_messages_not_the_distro_one() -> Result<()> {
    let binary = find_nats_server()?;
    assert_ne!(binary.canonicalize()?, Path::new("/usr/sbin/nats-server"));
    let version = nats_server_version(&binary)?;
    assert!(
        version
            >= Version {
                major: 2,
                minor: 12,
                patch: 0
            },
        "{version} at {}",
        binary.display()
    );
    Ok(())
}

#[test]
fn a_stopped_server_restarts_on_the_same_port_with_its_streams() -> Result<()> {
    let mut server = NatsServer::start()?;
    let port = server.port();
    assert_eq!(server.url(), format!("nats://127.0.0.1:{port}"));
    assert_eq!(info(port)?["jetstream"], true);
    create_stream(port, "ORDERS")?;

    server.stop()?;
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after stop"
    );
    server.restart()?;
    assert_eq!(server.port(), port);
    assert_eq!(info(port)?["jetstream"], true);
    assert_eq!(
        stream_count(&server)?,
        1,
        "the store dir was not kept across stop/restart"
    );

    server.kill()?;
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting after kill"
    );
    server.restart()?;
    assert_eq!(
        stream_count(&server)?,
        1,
        "the store dir was not kept across kill/restart"
    );
    Ok(())
}

#[test]
fn dropping_a_server_stops_it_and_removes_its_store() -> Result<()> {
    let server = NatsServer::start()?;
    let (port, store) = (server.port(), server.store_dir().to_path_buf());
    assert!(store.is_dir());
    drop(server);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(!store.exists());
    Ok(())
}

#[test]
fn the_shared_server_is_started_once_per_binary() -> Result<()> {
    let first = shared_nats()?;
    let second = std::thread::spawn(shared_nats)
        .join()
        .map_err(|_| anyhow::anyhow!("panicked"))??;
    assert!(std::ptr::eq(first, second));
    assert_eq!(info(first.port())?["jetstream"], true);
    Ok(())
}
