//! A per-thread io_uring for positional file reads and writes, driven from the thread's
//! tokio runtime.
//!
//! Each worker thread gets one ring the first time it does file I/O (the thread-per-core
//! design: a worker's files are served by the worker's own ring). The ring's eventfd is
//! registered with the runtime's reactor; a small driver task reaps completions and wakes
//! the waiting futures, which also reap opportunistically when polled.
//!
//! Buffers are borrowed from the caller. That is sound because an operation's future,
//! when dropped before its completion arrived, waits (blocking) for that completion
//! before it returns: the kernel never writes into or reads from memory the caller got
//! back. This only happens when a session is torn down mid-request.
//!
//! Where io_uring is unavailable (kernel, seccomp, no runtime) [`Ring::current`] returns
//! `None` and callers fall back to `pread`/`pwrite`.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use io_uring::{IoUring, opcode, types};
use tokio::io::unix::AsyncFd;

/// Ring size: in-flight operations per thread before submissions wait for room.
const ENTRIES: u32 = 256;

struct Slot {
    result: Option<i32>,
    waker: Option<Waker>,
}

struct Inner {
    ring: IoUring,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
}

/// One thread's ring.
pub struct Ring {
    inner: Mutex<Inner>,
    /// Cleared when the driver task is dropped (its runtime shut down): completions
    /// would no longer wake anyone, so the thread needs a new ring.
    driven: Arc<AtomicBool>,
    /// A duplicate of the completion eventfd: readable while completions wait to be
    /// reaped (a busy-polling worker watches it; see `Ring::completion_fd`).
    completions: OwnedFd,
}

/// Lives inside the driver task; marks the ring undriven when the task goes away.
struct DriverGuard(Arc<AtomicBool>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Option<Arc<Ring>>>> = const { RefCell::new(None) };
}

impl Inner {
    /// Moves every available completion into its slot and wakes its waiter.
    fn reap(&mut self) {
        let mut wakers = Vec::new();
        for cqe in self.ring.completion() {
            let Ok(id) = usize::try_from(cqe.user_data()) else {
                continue;
            };
            if let Some(Some(slot)) = self.slots.get_mut(id) {
                slot.result = Some(cqe.result());
                if let Some(w) = slot.waker.take() {
                    wakers.push(w);
                }
            }
        }
        for w in wakers {
            w.wake();
        }
    }

    fn alloc(&mut self) -> usize {
        let slot = Slot {
            result: None,
            waker: None,
        };
        match self.free.pop() {
            Some(id) => {
                if let Some(s) = self.slots.get_mut(id) {
                    *s = Some(slot);
                }
                id
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        }
    }

    fn release(&mut self, id: usize) {
        if let Some(s) = self.slots.get_mut(id) {
            *s = None;
            self.free.push(id);
        }
    }
}

impl Ring {
    /// This thread's ring, created on first use (and again when the runtime that drove
    /// the previous one has shut down); `None` when io_uring or a tokio runtime is not
    /// available here.
    pub fn current() -> Option<Arc<Ring>> {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            let stale = matches!(&*c, Some(Some(r)) if !r.driven.load(Ordering::Acquire));
            if c.is_none() || stale {
                *c = Some(Self::start().ok());
            }
            c.as_ref().and_then(|r| r.clone())
        })
    }

    fn start() -> std::io::Result<Arc<Ring>> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| std::io::Error::other("no tokio runtime on this thread"))?;
        let ring = IoUring::new(ENTRIES)?;
        let efd: OwnedFd = rustix::event::eventfd(
            0,
            rustix::event::EventfdFlags::CLOEXEC | rustix::event::EventfdFlags::NONBLOCK,
        )?;
        ring.submitter().register_eventfd(efd.as_raw_fd())?;
        let completions = efd.try_clone()?;
        let this = Arc::new(Ring {
            inner: Mutex::new(Inner {
                ring,
                slots: Vec::new(),
                free: Vec::new(),
            }),
            driven: Arc::new(AtomicBool::new(true)),
            completions,
        });
        let guard = DriverGuard(this.driven.clone());
        let driver = this.clone();
        let afd = {
            let _enter = handle.enter();
            // SAFETY: `efd` is an OwnedFd moved into the AsyncFd, so its descriptor stays
            // open and unchanged for the AsyncFd's whole life.
            unsafe { AsyncFd::register_with_interest(efd, tokio::io::Interest::READABLE) }
                .map_err(std::io::Error::from)?
        };
        handle.spawn(async move {
            let _guard = guard;
            loop {
                let Ok(mut guard) = afd.readable().await else {
                    return;
                };
                guard.clear_ready();
                let mut counter = [0u8; 8];
                let _ = rustix::io::read(afd.get_ref(), &mut counter);
                driver.lock().reap();
            }
        });
        Ok(this)
    }

    /// This thread's ring if one is running; never starts one.
    pub fn existing() -> Option<Arc<Ring>> {
        CURRENT.with(|c| c.borrow().as_ref().and_then(|r| r.clone()))
    }

    /// Readable while completions wait for the ring's driver task.
    pub fn completion_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.completions.as_fd()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads into `buf` at `offset` from `fd`; resolves to the byte count.
    pub fn read_at<'a>(self: &Arc<Self>, fd: RawFd, buf: &'a mut [u8], offset: u64) -> Op<'a> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let entry = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), len)
            .offset(offset)
            .build();
        self.submit(entry)
    }

    /// Writes `buf` at `offset` to `fd`; resolves to the byte count.
    pub fn write_at<'a>(self: &Arc<Self>, fd: RawFd, buf: &'a [u8], offset: u64) -> Op<'a> {
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let entry = opcode::Write::new(types::Fd(fd), buf.as_ptr(), len)
            .offset(offset)
            .build();
        self.submit(entry)
    }

    fn submit<'a>(self: &Arc<Self>, entry: io_uring::squeue::Entry) -> Op<'a> {
        let mut inner = self.lock();
        let id = inner.alloc();
        let entry = entry.user_data(id as u64);
        loop {
            // SAFETY: the entry points at a buffer borrowed for 'a by the returned Op,
            // and the Op does not release that borrow before the kernel completed the
            // entry (see Drop for Op).
            let pushed = unsafe { inner.ring.submission().push(&entry) };
            if pushed.is_ok() {
                break;
            }
            // Submission queue full: hand what is queued to the kernel and make room.
            if let Err(e) = inner.ring.submit() {
                inner.release(id);
                return Op::failed(self.clone(), e);
            }
            inner.reap();
        }
        // The entry references the caller's buffer: it must reach the kernel.
        submit_queued(&mut inner);
        Op {
            ring: self.clone(),
            id: Some(id),
            error: None,
            _buf: PhantomData,
        }
    }
}

/// Submits queued entries, retrying transient failures. A ring that refuses
/// submissions for good would leave the kernel holding borrowed buffers, so that aborts.
fn submit_queued(inner: &mut Inner) {
    loop {
        match inner.ring.submit() {
            Ok(_) => return,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
                ) =>
            {
                inner.reap();
            }
            Err(e) => {
                eprintln!("fatal: io_uring submission failed: {e}");
                std::process::abort();
            }
        }
    }
}

/// An in-flight operation borrowing its buffer for `'a`.
pub struct Op<'a> {
    ring: Arc<Ring>,
    id: Option<usize>,
    error: Option<std::io::Error>,
    _buf: PhantomData<&'a mut [u8]>,
}

impl Op<'_> {
    fn failed(ring: Arc<Ring>, e: std::io::Error) -> Self {
        Op {
            ring,
            id: None,
            error: Some(e),
            _buf: PhantomData,
        }
    }
}

impl Future for Op<'_> {
    type Output = std::io::Result<usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(id) = self.id else {
            let e = self.error.take().unwrap_or_else(|| {
                std::io::Error::other("io_uring operation polled after completion")
            });
            return Poll::Ready(Err(e));
        };
        let ring = self.ring.clone();
        let mut inner = ring.lock();
        inner.reap();
        let done = match inner.slots.get_mut(id) {
            Some(Some(slot)) => match slot.result {
                Some(res) => Some(res),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    None
                }
            },
            _ => Some(-libc::EINVAL),
        };
        match done {
            Some(res) => {
                inner.release(id);
                drop(inner);
                self.id = None;
                Poll::Ready(if res < 0 {
                    Err(std::io::Error::from_raw_os_error(-res))
                } else {
                    Ok(usize::try_from(res).unwrap_or(0))
                })
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        // The kernel may still be using the borrowed buffer: wait for this completion.
        let mut inner = self.ring.lock();
        loop {
            inner.reap();
            if !matches!(inner.slots.get(id), Some(Some(Slot { result: None, .. }))) {
                break;
            }
            match inner.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => {
                    // Returning would hand back a buffer the kernel may still write.
                    eprintln!("fatal: io_uring wait failed: {e}");
                    std::process::abort();
                }
            }
        }
        inner.release(id);
    }
}
