//! Busy polling before a worker sleeps: a short spin on the sockets of connections
//! that are in the middle of a request/reply exchange (SSH sessions and WebDAV
//! connections register theirs).
//!
//! A client that sends a request, waits for the reply and sends the next one (SFTP
//! `get -r`/`put -r` of small files: four round trips per file) finds the worker asleep
//! in `epoll_wait` every time. Waking it costs the client an inter-processor interrupt
//! inside its `send` (expensive in a VM), and costs the worker a context switch back
//! in (15% of the server's time per request, profiled on the 2-core VM; see
//! docs/performance-notes.md). Here, just before the worker's runtime parks, it polls
//! the sockets that recently carried input (`poll` with a zero timeout) for up to
//! `common.busy_poll_us`. When the next request arrives in that window, the runtime's
//! `epoll_wait` returns at once and nobody slept.
//!
//! Spinning burns CPU, so it is bounded three ways: it only happens when the worker
//! has nothing else to run (the runtime's park hook); only sockets whose last input is
//! recent are polled ("armed" on registration and by a read that returned data,
//! disarmed by a spin that ended without any, or that found data its task is not
//! reading); and a socket whose spins keep missing (a client far away, or a
//! transfer waiting on the other direction) backs off after three misses in a row and
//! is skipped for the next 1, 3, 7 … 63 reads, so a slow peer costs a spin only now and
//! then. An idle connection costs one spin after its last request. `busy_poll_us = 0`
//! turns it off.

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// Consecutive misses tolerated before a socket backs off: a local client's turn is
/// sometimes longer than the budget (its own file I/O), and a worker sometimes parks
/// for something else (a provider query), so single misses are normal.
const TOLERATED_MISSES: u8 = 2;
/// The longest back-off: a socket that kept missing is skipped for `2^6 - 1` reads.
const MAX_BACKOFF: u8 = 6;

/// A socket a worker may spin on.
struct Entry {
    fd: Arc<dyn AsFd + Send + Sync>,
    /// In its worker's armed queue: had input since the last spin that found nothing.
    armed: AtomicBool,
    /// Input was read since the last spin saw the socket readable. A socket that is
    /// readable again without any read in between holds data its task is not reading
    /// (flow control): not a reason to stop spinning.
    fresh: AtomicBool,
    /// Consecutive spins that ended without input.
    misses: AtomicU8,
    /// Reads left before the socket is armed again after repeated misses.
    skip: AtomicU8,
}

impl Entry {
    /// Records a spin that ended without input on this socket.
    fn missed(&self) {
        self.armed.store(false, Ordering::Relaxed);
        let misses = self
            .misses
            .load(Ordering::Relaxed)
            .saturating_add(1)
            .min(TOLERATED_MISSES + MAX_BACKOFF);
        self.misses.store(misses, Ordering::Relaxed);
        let backoff = misses.saturating_sub(TOLERATED_MISSES);
        self.skip.store((1u8 << backoff) - 1, Ordering::Relaxed);
    }
}

struct Worker {
    budget: Duration,
    /// The armed sockets (only those: idle connections cost a park nothing).
    armed: Vec<Weak<Entry>>,
}

thread_local! {
    static WORKER: RefCell<Worker> = const {
        RefCell::new(Worker { budget: Duration::ZERO, armed: Vec::new() })
    };
}

/// Turns busy polling on for the calling thread (a worker), with `budget` per park.
pub fn enable(budget: Duration) {
    WORKER.with(|w| w.borrow_mut().budget = budget);
}

fn queue(entry: &Arc<Entry>) {
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        if !w.budget.is_zero() {
            w.armed.push(Arc::downgrade(entry));
        }
    });
}

/// A connection's socket, registered with its worker for busy polling. Reads that
/// return data call [`Registration::input`]. Dropping it unregisters the socket.
pub struct Registration(Arc<Entry>);

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("armed", &self.0.armed.load(Ordering::Relaxed))
            .field("misses", &self.0.misses.load(Ordering::Relaxed))
            .finish()
    }
}

impl Registration {
    /// Registers `fd` (its own handle on the socket, so a poll never sees a closed or
    /// reused descriptor) with the calling thread's worker, armed (a new connection's
    /// first request is on its way); `None` when the thread does not busy poll.
    pub fn new(fd: Arc<dyn AsFd + Send + Sync>) -> Option<Self> {
        if WORKER.with(|w| w.borrow().budget.is_zero()) {
            return None;
        }
        let entry = Arc::new(Entry {
            fd,
            armed: AtomicBool::new(true),
            fresh: AtomicBool::new(true),
            misses: AtomicU8::new(0),
            skip: AtomicU8::new(0),
        });
        queue(&entry);
        Some(Self(entry))
    }

    /// Registers a duplicate of `socket`'s descriptor; `None` (and no duplicate) when
    /// the calling thread does not busy poll.
    pub fn for_socket(socket: &impl AsFd) -> Option<Self> {
        if WORKER.with(|w| w.borrow().budget.is_zero()) {
            return None;
        }
        let fd = socket.as_fd().try_clone_to_owned().ok()?;
        Self::new(Arc::new(fd))
    }

    /// Input arrived: the exchange goes on, so the socket is worth a spin at the next
    /// park (unless it is still backing off from misses).
    pub fn input(&self) {
        let e = &self.0;
        e.fresh.store(true, Ordering::Relaxed);
        match e.skip.load(Ordering::Relaxed) {
            0 => {
                if !e.armed.swap(true, Ordering::Relaxed) {
                    queue(e);
                }
            }
            n => e.skip.store(n - 1, Ordering::Relaxed),
        }
    }
}

/// How a spin ended.
enum Spin {
    /// An armed socket has new input, or other work arrived: everything stays armed.
    Woken,
    /// The budget ran out: every socket still polled missed.
    Expired,
}

/// The runtime's park hook: spins while an armed socket may get input, up to the
/// worker's budget, and returns as soon as one has (or other work arrives).
pub fn before_park() {
    let (budget, mut armed) = WORKER.with(|w| {
        let mut w = w.borrow_mut();
        let armed: Vec<Arc<Entry>> = std::mem::take(&mut w.armed)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|e| e.armed.load(Ordering::Relaxed))
            .collect();
        (w.budget, armed)
    });
    if !budget.is_zero() && !armed.is_empty() {
        match spin(budget, &mut armed) {
            Spin::Woken => {}
            Spin::Expired => {
                armed.iter().for_each(|e| e.missed());
                armed.clear();
            }
        }
    }
    WORKER.with(|w| {
        let mut w = w.borrow_mut();
        w.armed.extend(armed.iter().map(Arc::downgrade));
    });
}

/// Polls `armed` (and the worker's io_uring completions) until one is readable with
/// fresh input, another thread wakes a task, or `budget` passes. Sockets found
/// readable without fresh input are disarmed and dropped from `armed`.
fn spin(budget: Duration, armed: &mut Vec<Arc<Entry>>) -> Spin {
    let ring = sftpgo_vfs::local::uring::Ring::existing();
    let runtime = tokio::runtime::Handle::try_current().ok();
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let started = Instant::now();
    'rebuild: loop {
        if armed.is_empty() {
            return Spin::Woken;
        }
        let mut fds: Vec<PollFd<'_>> = armed
            .iter()
            .map(|e| PollFd::new(&e.fd, PollFlags::IN))
            .collect();
        if let Some(r) = &ring {
            fds.push(PollFd::from_borrowed_fd(r.completion_fd(), PollFlags::IN));
        }
        loop {
            match rustix::event::poll(&mut fds, Some(&zero)) {
                Ok(0) => {}
                Ok(_) => {
                    let ring_ready =
                        ring.is_some() && fds.last().is_some_and(|f| !f.revents().is_empty());
                    let mut stale = Vec::new();
                    let mut woken = ring_ready;
                    for (i, (e, fd)) in armed.iter().zip(&fds).enumerate() {
                        if fd.revents().is_empty() {
                            continue;
                        }
                        if e.fresh.swap(false, Ordering::Relaxed) {
                            e.misses.store(0, Ordering::Relaxed);
                            woken = true;
                        } else {
                            stale.push(i);
                        }
                    }
                    drop(fds);
                    for i in stale.into_iter().rev() {
                        armed.swap_remove(i).missed();
                    }
                    if woken {
                        return Spin::Woken;
                    }
                    continue 'rebuild;
                }
                // A poll that fails will keep failing: sleep normally.
                Err(_) => return Spin::Woken,
            }
            if runtime
                .as_ref()
                .is_some_and(|h| h.metrics().global_queue_depth() > 0)
            {
                return Spin::Woken;
            }
            if started.elapsed() >= budget {
                return Spin::Expired;
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    fn registered(budget: Duration) -> (UnixStream, Registration) {
        enable(budget);
        let (a, b) = UnixStream::pair().unwrap();
        let reg = Registration::new(Arc::new(b)).unwrap();
        (a, reg)
    }

    fn queued() -> usize {
        WORKER.with(|w| w.borrow().armed.len())
    }

    #[test]
    fn nothing_registers_where_busy_polling_is_off() {
        enable(Duration::ZERO);
        let (_a, b) = UnixStream::pair().unwrap();
        assert!(Registration::new(Arc::new(b)).is_none());
    }

    #[test]
    fn a_spin_ends_when_input_arrives_during_it() {
        let (mut peer, reg) = registered(Duration::from_secs(30));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            peer.write_all(b"next request").unwrap();
            peer
        });
        let started = Instant::now();
        before_park();
        let waited = started.elapsed();
        let _peer = writer.join().unwrap();
        // It spun until the input came (not less, not the whole 30 s).
        assert!(waited >= Duration::from_millis(15), "{waited:?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        assert!(reg.0.armed.load(Ordering::Relaxed));
        assert_eq!(reg.0.misses.load(Ordering::Relaxed), 0);
        assert_eq!(queued(), 1, "a socket that hit stays queued");
    }

    #[test]
    fn unread_input_does_not_count_as_a_hit() {
        let (mut peer, reg) = registered(Duration::from_secs(30));
        peer.write_all(b"data nobody reads").unwrap();
        before_park();
        assert!(
            reg.0.armed.load(Ordering::Relaxed),
            "the first sight is a hit"
        );
        // No read since: the socket is still readable, but its task is not reading.
        let started = Instant::now();
        before_park();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(!reg.0.armed.load(Ordering::Relaxed), "stale input disarms");
        assert_eq!(queued(), 0);
    }

    #[test]
    fn quiet_sockets_are_disarmed_and_backed_off() {
        let (_peer, reg) = registered(Duration::from_micros(200));
        let skip = || reg.0.skip.load(Ordering::Relaxed);
        let armed = || reg.0.armed.load(Ordering::Relaxed);
        // A miss disarms and leaves the queue; the next input arms and queues again,
        // twice without back-off.
        for _ in 0..TOLERATED_MISSES {
            before_park();
            assert!(!armed(), "a miss disarms");
            assert_eq!(queued(), 0);
            assert_eq!(skip(), 0);
            reg.input();
            assert!(armed());
            assert_eq!(queued(), 1);
        }
        // The third miss in a row skips the next read; the one after arms again.
        before_park();
        assert_eq!(skip(), 1);
        reg.input();
        assert!(!armed());
        reg.input();
        assert!(armed());
        // Every further miss doubles the back-off, up to 63 reads.
        before_park();
        assert_eq!(skip(), 3);
        for _ in 0..10 {
            reg.0.skip.store(0, Ordering::Relaxed);
            reg.input();
            before_park();
        }
        assert_eq!(skip(), 63);
        // A disarmed socket is not polled: the park returns at once.
        enable(Duration::from_secs(30));
        let started = Instant::now();
        before_park();
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_hit_clears_the_misses() {
        let (mut peer, reg) = registered(Duration::from_micros(200));
        before_park();
        reg.input();
        assert_eq!(reg.0.misses.load(Ordering::Relaxed), 1);
        peer.write_all(b"x").unwrap();
        before_park();
        assert_eq!(reg.0.misses.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn dropped_registrations_leave_the_worker() {
        let (_peer, reg) = registered(Duration::from_micros(100));
        assert_eq!(queued(), 1);
        drop(reg);
        before_park();
        assert_eq!(queued(), 0);
    }
}
