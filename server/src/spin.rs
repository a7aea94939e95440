//! A connection's socket that, when the server has only this one connection,
//! waits for the client's next request by polling the socket for a short while
//! before parking the worker thread.
//!
//! Why: with one connection, every request is a round trip in which the server's
//! worker has gone to sleep in `epoll_wait` and must be woken. On a virtual
//! machine that wake-up (an inter-processor interrupt into a halted virtual CPU)
//! costs more than the request itself: on the 2-core machine of the benchmarks a
//! minimal blocking HTTP responder answers 18k requests/s to one `wrk`
//! connection, and 44k/s when it polls its socket instead of sleeping. With
//! several connections the workers rarely sleep, and polling would only steal
//! time from the others, so it is done only while exactly one connection is open
//! and no operation is running off the connection tasks.
//!
//! The polling reads the socket directly (it is non-blocking), beside tokio's
//! readiness tracking. That is safe: data read here is simply not there for a
//! later read; an edge that tokio's driver reports for it later only costs one
//! read that finds nothing; and when the polling gives up, the ordinary
//! `poll_read` registers the waker, so no arrival is missed.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The open connections and the operations running off the connection tasks:
/// what decides whether a connection may poll.
#[derive(Debug, Default)]
pub(crate) struct Load {
    /// Connections accepted and not yet closed.
    pub(crate) connections: AtomicUsize,
    /// Operations running in place or on the blocking pool.
    pub(crate) blocking: AtomicUsize,
    /// Reads that polling answered (data or end of stream) without a wake-up.
    pub(crate) polled_reads: AtomicUsize,
}

impl Load {
    /// Whether a connection waiting for its next request may poll for it.
    fn alone(&self) -> bool {
        self.connections.load(Ordering::Relaxed) == 1 && self.blocking.load(Ordering::Relaxed) == 0
    }
}

/// Counts a connection as open until dropped.
#[derive(Debug)]
pub(crate) struct Open(Arc<Load>);

impl Open {
    pub(crate) fn new(load: &Arc<Load>) -> Open {
        load.connections.fetch_add(1, Ordering::AcqRel);
        Open(Arc::clone(load))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TCP stream whose reads poll for up to `spin` before parking, while the
/// server has no other connection (see the module documentation).
#[derive(Debug)]
pub(crate) struct SpinStream {
    inner: TcpStream,
    spin: Duration,
    load: Arc<Load>,
    /// Bytes were written since the last read returned data: the response is
    /// out and the next read waits for the client's next request. Only that
    /// read polls; hyper also reads while a request is being served (to notice
    /// a client going away), and polling then would hold back the response.
    answered: bool,
    _open: Open,
}

impl SpinStream {
    pub(crate) fn new(inner: TcpStream, spin: Duration, load: &Arc<Load>) -> SpinStream {
        SpinStream {
            inner,
            spin,
            load: Arc::clone(load),
            answered: false,
            _open: Open::new(load),
        }
    }

    /// Reads whatever the socket holds, polling until data, end of stream or an
    /// error arrives, or `spin` passes (`None`: nothing came).
    fn poll_socket(&self, buf: &mut ReadBuf<'_>) -> Option<io::Result<()>> {
        let deadline = Instant::now() + self.spin;
        let sock = socket2::SockRef::from(&self.inner);
        let dst = buf.initialize_unfilled();
        let mut tries: u32 = 0;
        loop {
            match (&*sock).read(dst) {
                Ok(n) => {
                    buf.advance(n);
                    self.load.polled_reads.fetch_add(1, Ordering::Relaxed);
                    return Some(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
            tries = tries.wrapping_add(1);
            // The clock is read every few tries: a read that finds nothing costs
            // about as much as the clock.
            if tries.is_multiple_of(8) && (Instant::now() >= deadline || !self.load.alone()) {
                return None;
            }
            std::hint::spin_loop();
        }
    }
}

impl AsyncRead for SpinStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending
                if this.answered
                    && !this.spin.is_zero()
                    && buf.remaining() > 0
                    && this.load.alone() =>
            {
                match this.poll_socket(buf) {
                    Some(r) => Poll::Ready(r),
                    // Nothing came: register for the wake-up as usual (this also
                    // reads anything that arrived in between).
                    None => Pin::new(&mut this.inner).poll_read(cx, buf),
                }
            }
            other => other,
        };
        if buf.filled().len() > before {
            this.answered = false;
        }
        r
    }
}

impl AsyncWrite for SpinStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.answered = true;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.answered = true;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair(spin: Duration, load: &Arc<Load>) -> (SpinStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        (SpinStream::new(server, spin, load), client)
    }

    #[tokio::test]
    async fn reads_what_arrives_while_polling_and_after_parking() {
        let load = Arc::new(Load::default());
        let (mut s, c) = pair(Duration::from_millis(200), &load).await;
        assert_eq!(load.connections.load(Ordering::Relaxed), 1);
        // A response went out: the next read waits for the next request.
        s.write_all(b"answer").await.unwrap();
        assert!(s.answered);
        // Arrives while the read polls (from another thread: polling holds
        // this test's one runtime thread).
        let mut c = c.into_std().unwrap();
        c.set_nonblocking(false).unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            std::thread::sleep(Duration::from_millis(5));
            c.write_all(b"hello").unwrap();
            // Arrives after the polling gave up: the ordinary wake-up.
            std::thread::sleep(Duration::from_millis(400));
            c.write_all(b"world").unwrap();
            c.shutdown(std::net::Shutdown::Write).unwrap();
            c
        });
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"helloworld");
        // "hello" came while polling; "world" after parking, and the end of
        // stream right behind it (polled or not, depending on timing).
        assert!(load.polled_reads.load(Ordering::Relaxed) >= 1);
        drop(writer.join().unwrap());
        drop(s);
        assert_eq!(load.connections.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn does_not_poll_beside_another_connection_or_an_operation() {
        let load = Arc::new(Load::default());
        let (s1, _c1) = pair(Duration::from_secs(3600), &load).await;
        assert!(load.alone());
        let (s2, _c2) = pair(Duration::from_secs(3600), &load).await;
        assert!(!load.alone());
        drop(s2);
        assert!(load.alone());
        load.blocking.fetch_add(1, Ordering::AcqRel);
        assert!(!load.alone());
        // Alone in connections but an operation is running: the read parks at
        // once instead of polling for an hour.
        let mut s1 = s1;
        let mut buf = [0u8; 4];
        s1.write_all(b"answer").await.unwrap();
        let r = tokio::time::timeout(Duration::from_millis(50), s1.read(&mut buf)).await;
        assert!(r.is_err(), "the read should still be waiting");
        assert_eq!(load.polled_reads.load(Ordering::Relaxed), 0);
    }
}
