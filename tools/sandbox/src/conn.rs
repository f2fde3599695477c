//! Lets a handler cut its own TCP connection, for the drop-after-commit fault.
//!
//! actix-web has no way to abandon a request without answering, so on each new connection
//! we keep a duplicate of the socket's file descriptor in the connection's data. Shutting the
//! duplicate down shuts the shared socket: the client sees the connection close before any
//! response byte (hyper reports "connection closed before message completed"), exactly like
//! a network failure after the platform committed the post.

use std::any::Any;

use actix_web::HttpRequest;
use actix_web::dev::Extensions;

#[cfg(unix)]
struct ConnSocket(std::net::TcpStream);

pub(crate) fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
            match stream.as_fd().try_clone_to_owned() {
                Ok(fd) => {
                    data.insert(ConnSocket(std::net::TcpStream::from(fd)));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "cannot duplicate socket; drop faults will answer 502");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (connection, data);
}

/// Shuts the request's connection down in both directions. False when that is impossible
/// (no socket kept for this connection), so the caller can fall back to an error answer.
pub(crate) fn abort(req: &HttpRequest) -> bool {
    #[cfg(unix)]
    if let Some(ConnSocket(socket)) = req.conn_data::<ConnSocket>() {
        return socket.shutdown(std::net::Shutdown::Both).is_ok();
    }
    let _ = req;
    false
}
