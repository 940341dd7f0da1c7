//! A connection's future that absorbs the wake-ups it gives itself while it is being polled.
//!
//! Everything a connection does runs in its one task: hyper's server dispatcher, the handler, and
//! the upstream client's connection, which the handler polls itself. They hand each other data
//! through channels, and each hand-over wakes the task that is already running: hyper's dispatcher
//! wakes the request body's reader, the upstream connection wakes the response future. tokio treats
//! a task woken while it runs as one that yielded: it requeues it and wakes the other worker to come
//! and take it, a futex call and a context switch for nothing (perf, wrk at one connection: 3.7 futex
//! wake-ups and 4 context switches per request against none and 2 in the reference proxy, whose
//! client connections are tasks of their own). Here such a wake-up is answered by polling again at
//! once, in the same turn; any other wake-up goes to tokio as usual.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// Polls again at most this many times in one turn; then the wake-up goes to tokio, so that a future
/// that keeps waking itself (one out of its cooperative budget) lets the other tasks run.
const MAX_POLLS_PER_TURN: usize = 4;

pub struct AbsorbSelfWakes<F: Future> {
    future: Pin<Box<F>>,
    state: Arc<WakeState>,
    /// Wakes `state`: created once, so that what the future keeps of it stays `will_wake`.
    waker: Waker,
}

#[derive(Default)]
struct WakeState {
    polling: AtomicBool,
    woken_while_polling: AtomicBool,
    task: AtomicWaker,
}

impl<F: Future> AbsorbSelfWakes<F> {
    pub fn new(future: F) -> Self {
        let state = Arc::new(WakeState::default());
        AbsorbSelfWakes { future: Box::pin(future), waker: Waker::from(state.clone()), state }
    }
}

impl<F: Future> Future for AbsorbSelfWakes<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.state.task.register(cx.waker());
        this.state.woken_while_polling.store(false, SeqCst);
        let mut inner = Context::from_waker(&this.waker);
        for _ in 0..MAX_POLLS_PER_TURN {
            this.state.polling.store(true, SeqCst);
            let polled = this.future.as_mut().poll(&mut inner);
            this.state.polling.store(false, SeqCst);
            if polled.is_ready() {
                return polled;
            }
            if !this.state.woken_while_polling.swap(false, SeqCst) {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Wake for WakeState {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.polling.load(SeqCst) {
            self.woken_while_polling.store(true, SeqCst);
            // Still polling: the poll loop will see the flag. If the poll ended meanwhile, the loop
            // may have looked before the flag was set, so the task is woken as well.
            if self.polling.load(SeqCst) {
                return;
            }
        }
        self.task.wake();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    /// A task's waker that counts its wake-ups.
    #[derive(Default)]
    struct Counted(AtomicUsize);

    impl Wake for Counted {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// Wakes itself during each of its first `self_wakes` polls, then is ready.
    struct WakesItself {
        self_wakes: usize,
        polls: usize,
    }

    impl Future for WakesItself {
        type Output = usize;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls += 1;
            if self.polls > self.self_wakes {
                return Poll::Ready(self.polls);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn poll_once<F: Future>(future: &mut AbsorbSelfWakes<F>, task: &Arc<Counted>) -> Poll<F::Output> {
        let waker = Waker::from(task.clone());
        Pin::new(future).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_wake_up_given_while_polled_is_answered_by_polling_again_without_waking_the_task() {
        let task = Arc::new(Counted::default());
        let mut future = AbsorbSelfWakes::new(WakesItself { self_wakes: 2, polls: 0 });
        assert_eq!(poll_once(&mut future, &task), Poll::Ready(3));
        assert_eq!(task.0.load(SeqCst), 0);
    }

    #[test]
    fn a_future_that_keeps_waking_itself_gives_the_turn_back_and_its_task_is_woken() {
        let task = Arc::new(Counted::default());
        let mut future = AbsorbSelfWakes::new(WakesItself { self_wakes: usize::MAX, polls: 0 });
        assert_eq!(poll_once(&mut future, &task), Poll::Pending);
        assert_eq!(task.0.load(SeqCst), 1, "woken once, so that it is polled again");
        assert_eq!(future.future.polls, MAX_POLLS_PER_TURN);
    }

    #[test]
    fn a_wake_up_after_the_poll_wakes_the_task() {
        let task = Arc::new(Counted::default());
        let (sender, receiver) = tokio::sync::oneshot::channel::<u8>();
        let mut future = AbsorbSelfWakes::new(receiver);
        assert!(poll_once(&mut future, &task).is_pending());
        sender.send(7).unwrap();
        assert_eq!(task.0.load(SeqCst), 1);
        assert_eq!(poll_once(&mut future, &task), Poll::Ready(Ok(7)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_wake_up_from_another_thread_is_lost() {
        // Wake-ups from another thread race with the poll loop at every point; a lost one would
        // leave the receiver waiting for a message already sent, and the timeout would fire.
        const MESSAGES: usize = 200_000;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<usize>(1);
        let producer = std::thread::spawn(move || {
            for n in 0..MESSAGES {
                sender.blocking_send(n).unwrap();
            }
        });
        let consumer = tokio::spawn(AbsorbSelfWakes::new(async move {
            let mut received = 0;
            while receiver.recv().await.is_some() {
                received += 1;
            }
            received
        }));
        let received = tokio::time::timeout(Duration::from_secs(60), consumer).await.expect("a wake-up was lost");
        assert_eq!(received.unwrap(), MESSAGES);
        producer.join().unwrap();
    }
}
