//! The decision pool: a fixed number of threads that do every request's
//! decision work (reading its JSON, judging, explaining, searching) off
//! the async workers, behind a bounded queue. A full queue refuses at once
//! (the caller answers 429), so a burst of costly requests can neither
//! starve the health probes, which the async workers answer, nor grow a
//! queue without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The queue was full: the work was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// A fixed pool of decision threads behind a bounded queue.
pub struct Pool {
    sender: Mutex<Option<SyncSender<Job>>>,
    queued: Arc<AtomicUsize>,
    threads: usize,
    capacity: usize,
}

impl Pool {
    /// `threads` threads (at least one) and room for `queued` waiting jobs
    /// (at least one).
    pub fn new(threads: usize, queued: usize) -> Pool {
        let threads = threads.max(1);
        let capacity = queued.max(1);
        let (sender, receiver) = sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        let waiting = Arc::new(AtomicUsize::new(0));
        for n in 0..threads {
            let receiver = receiver.clone();
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("mspl-decide-{n}"))
                .spawn(move || work(&receiver, &waiting));
            if let Err(e) = spawned {
                super::note(&format!("cannot start decision thread {n}: {e}"));
            }
        }
        Pool {
            sender: Mutex::new(Some(sender)),
            queued: waiting,
            threads,
            capacity,
        }
    }

    /// Queues `f`; its result arrives on the receiver. [`Full`] when the
    /// queue holds as many jobs as it may.
    pub fn submit<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<R>, Full> {
        let (tell, told) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The asker may have given up (its deadline): nothing to tell.
            let _ = tell.send(f());
        });
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = guard.as_ref() else {
            return Err(Full);
        };
        self.queued.fetch_add(1, Ordering::Relaxed);
        match sender.try_send(job) {
            Ok(()) => Ok(told),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(Full)
            }
        }
    }

    /// Jobs waiting for a thread (for the metrics).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The number of decision threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The most jobs that may wait.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes no more work; the threads end once the queue is empty.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

fn work(receiver: &Mutex<Receiver<Job>>, waiting: &AtomicUsize) {
    loop {
        let job = {
            let r = receiver.lock().unwrap_or_else(|e| e.into_inner());
            r.recv()
        };
        match job {
            Ok(job) => {
                waiting.fetch_sub(1, Ordering::Relaxed);
                // A job that panics answers nothing (its asker sees its
                // channel closed and answers 500); the thread goes on.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_refuses_and_frees_when_work_is_done() {
        let pool = Pool::new(1, 1);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let first = pool
            .submit(move || {
                let _ = wait.recv();
                1
            })
            .expect("taken");
        // The thread holds the first job; the second waits; the third is refused.
        while pool.queued() != 0 {
            std::thread::yield_now();
        }
        let second = pool.submit(|| 2).expect("queued");
        assert_eq!(pool.submit(|| 3).err(), Some(Full));
        release.send(()).expect("released");
        assert_eq!(first.blocking_recv(), Ok(1));
        assert_eq!(second.blocking_recv(), Ok(2));
        assert_eq!(
            pool.submit(|| 4).expect("room again").blocking_recv(),
            Ok(4)
        );
    }
}
