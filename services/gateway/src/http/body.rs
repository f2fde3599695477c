//! Request bodies as the edge hands them to handlers: at most the route's limit (1 MiB unless
//! `policy::BODY_LIMITS` says otherwise), whether or not the client sent `Content-Length`, and
//! all of it within the body timeout. The extractors see `PayloadError::Overflow` (413) or a
//! timed-out read (408); `error::json_error` maps both into the uniform body.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The message of the I/O error a too-slow body ends with (what `error` recognises).
pub const BODY_TIMED_OUT: &str = "request body not received in time";

struct Limited {
    inner: Payload,
    limit: usize,
    read: usize,
    deadline: Pin<Box<Sleep>>,
    done: bool,
}

impl Stream for Limited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read = this.read.saturating_add(chunk.len());
                if this.read > this.limit {
                    this.done = true;
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.done = true;
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        BODY_TIMED_OUT,
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// `payload`, ending in an error after `limit` bytes or once `timeout` has passed.
pub fn limit(payload: Payload, limit: usize, timeout: Duration) -> Payload {
    Payload::Stream {
        payload: Box::pin(Limited {
            inner: payload,
            limit,
            read: 0,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            done: false,
        }),
    }
}

/// Whether `error` is the body timeout set by `limit`.
pub fn is_timeout(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}
