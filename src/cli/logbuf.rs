//! The server's log writer: a request appends its formatted line to a shared buffer, and
//! one thread writes the buffer out every 50 ms, or at once when 64 KiB are waiting.
//!
//! Hand-written because `tracing-appender`'s non-blocking writer wakes its thread for
//! nearly every line when the thread keeps up: at 25,000 requests a second that thread
//! took 12 % of the server's CPU, mostly going to sleep and waking up (perf, stop 15, in
//! docs/performance.md). Here a line costs a lock and a copy, and the thread wakes 20
//! times a second.
//!
//! Nothing is dropped: when 4 MiB are waiting (the output is stuck), a request waits for
//! the thread instead of losing its line. What is buffered when the process dies without
//! unwinding (at most the last 50 ms) is lost, as with any buffered log.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Whether log lines on stderr get colour codes: only on a terminal, and not with
/// `NO_COLOR` set (<https://no-color.org>). A log file or the journal gets plain text.
pub fn ansi() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// When the buffer is written out.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At the latest this long after a line was buffered.
    pub flush_every: Duration,
    /// At once when this many bytes wait.
    pub flush_at: usize,
    /// A writer waits while this many bytes wait.
    pub max_waiting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            flush_every: Duration::from_millis(50),
            flush_at: 64 * 1024,
            max_waiting: 4 * 1024 * 1024,
        }
    }
}

struct State {
    buf: Vec<u8>,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when the thread should write now (enough waits, or closing).
    work: Condvar,
    /// Signalled when the thread took the buffer.
    space: Condvar,
    limits: Limits,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A byte buffer and a flag, consistent at every unlock: a panic elsewhere cannot
        // leave them half-updated, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands out writers for `tracing_subscriber::fmt().with_writer(…)`.
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

/// Writes out what is buffered and stops the thread when dropped.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writing thread for `out`.
pub fn spawn<W: Write + Send + 'static>(
    out: W,
    limits: Limits,
) -> io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buf: Vec::new(),
            closed: false,
        }),
        work: Condvar::new(),
        space: Condvar::new(),
        limits,
    });
    let for_thread = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("iamvault-log".into())
        .spawn(move || run(&for_thread, out))?;
    Ok((
        LogWriter(Arc::clone(&shared)),
        LogGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

fn run<W: Write>(shared: &Shared, mut out: W) {
    let mut taken = Vec::new();
    loop {
        let closed = {
            let mut st = shared.state();
            if st.buf.len() < shared.limits.flush_at && !st.closed {
                st = shared
                    .work
                    .wait_timeout(st, shared.limits.flush_every)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            std::mem::swap(&mut st.buf, &mut taken);
            st.closed
        };
        shared.space.notify_all();
        if !taken.is_empty() {
            // Nowhere to report a failing log output; the lines are dropped then.
            let _ = out.write_all(&taken).and_then(|()| out.flush());
            taken.clear();
        }
        if closed {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One line's writer.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let shared = self.0;
        let mut st = shared.state();
        while st.buf.len() >= shared.limits.max_waiting && !st.closed {
            shared.work.notify_one();
            st = shared
                .space
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if st.closed {
            return Err(io::Error::other("the log writer has stopped"));
        }
        st.buf.extend_from_slice(data);
        if st.buf.len() >= shared.limits.flush_at {
            shared.work.notify_one();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// An output that reports each write on a channel, and can be held shut.
    struct Probe {
        written: mpsc::Sender<Vec<u8>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Probe {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.written.send(data.to_vec()).unwrap();
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn probe() -> (Probe, mpsc::Receiver<Vec<u8>>, Arc<Mutex<()>>) {
        let (tx, rx) = mpsc::channel();
        let gate = Arc::new(Mutex::new(()));
        (
            Probe {
                written: tx,
                gate: Arc::clone(&gate),
            },
            rx,
            gate,
        )
    }

    fn line(w: &LogWriter, text: &str) {
        w.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_arrives_in_order_when_the_guard_drops() {
        let (out, rx, _gate) = probe();
        let limits = Limits {
            flush_every: Duration::from_secs(3600),
            ..Limits::default()
        };
        let (w, guard) = spawn(out, limits).unwrap();
        for i in 0..1000 {
            line(&w, &format!("line {i}\n"));
        }
        drop(guard);
        let all: Vec<u8> = rx.try_iter().flatten().collect();
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(all).unwrap(), expected);
        assert!(w.make_writer().write_all(b"late\n").is_err());
    }

    #[test]
    fn a_lone_line_is_written_by_the_timer_and_a_full_buffer_at_once() {
        let (out, rx, _gate) = probe();
        let limits = Limits {
            flush_every: Duration::from_millis(20),
            flush_at: 100,
            max_waiting: 1000,
        };
        let (w, _guard) = spawn(out, limits).unwrap();
        line(&w, "alone\n");
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, b"alone\n");

        // Past `flush_at` the thread is woken, not left to its timer (an hour here).
        let (out, rx, _gate) = probe();
        let limits = Limits {
            flush_every: Duration::from_secs(3600),
            flush_at: 100,
            max_waiting: 1000,
        };
        let (w, _guard) = spawn(out, limits).unwrap();
        let big = "x".repeat(150);
        line(&w, &big);
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(got, big.as_bytes());
    }

    #[test]
    fn a_stuck_output_makes_writers_wait_instead_of_dropping_lines() {
        let (out, rx, gate) = probe();
        let limits = Limits {
            flush_every: Duration::from_millis(1),
            flush_at: 10,
            max_waiting: 40,
        };
        let (w, guard) = spawn(out, limits).unwrap();
        let shut = gate.lock().unwrap();
        let writer = {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    line(&w, &format!("{i:09}\n"));
                }
            })
        };
        // The writer cannot finish while the output is shut: 50 lines of 10 bytes are
        // far more than the thread holds plus 40 waiting bytes.
        while guard.shared.state().buf.len() < 40 {
            std::thread::yield_now();
        }
        assert!(!writer.is_finished());
        drop(shut);
        writer.join().unwrap();
        drop(guard);
        let all: Vec<u8> = rx.try_iter().flatten().collect();
        let expected: String = (0..50).map(|i| format!("{i:09}\n")).collect();
        assert_eq!(String::from_utf8(all).unwrap(), expected);
    }
}
