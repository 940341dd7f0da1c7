//! The log writer's turning a batch into rows (`log_writer::rows_of`: parsing, hashing, deflating,
//! splitting words), shared between the calling thread and one more. It is most of the writer's CPU;
//! on one thread, with 50 KB records, the other core waited for it while MySQL had nothing to do.
//!
//! The extra thread is started per call (a batch is hundreds of records, so its start is small
//! beside the work), and inherits the calling thread's lower priority (see `log_writer`).

use std::sync::{Mutex, PoisonError};

/// `work` applied to each of `items`, in order; on this thread and one more when `worth_a_thread`
/// (else, or if no thread can be started, on this thread alone).
pub fn map_on_two_threads<T, R, F>(mut items: Vec<T>, worth_a_thread: bool, work: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    if !worth_a_thread || items.len() < 2 {
        return items.into_iter().map(work).collect();
    }
    // Handed over through a lock, not moved into the thread's closure, so that it is still here
    // when no thread can be started.
    let second_half = Mutex::new(Some(items.split_off(items.len() / 2)));
    let take_second_half = || second_half.lock().unwrap_or_else(PoisonError::into_inner).take().unwrap_or_default();
    let (work, take_second_half) = (&work, &take_second_half);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("log-store".into())
            .spawn_scoped(scope, move || take_second_half().into_iter().map(work).collect::<Vec<R>>());
        let mut results: Vec<R> = items.into_iter().map(work).collect();
        match helper.map(|helper| helper.join()) {
            Ok(Ok(rest)) => results.extend(rest),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_no_thread) => results.extend(take_second_half().into_iter().map(work)),
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_on_once_in_order() {
        let items: Vec<u32> = (0..1_001).collect();
        let doubled = map_on_two_threads(items.clone(), true, |n| n * 2);
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(map_on_two_threads(items.clone(), false, |n| n + 1), (1..1_002).collect::<Vec<_>>());
        assert_eq!(map_on_two_threads(vec![7], true, |n: u32| n), [7]);
        assert!(map_on_two_threads(Vec::<u32>::new(), true, |n| n).is_empty());
    }

    #[test]
    fn the_second_half_runs_on_another_thread() {
        let here = std::thread::current().id();
        let threads = map_on_two_threads(vec![(); 4], true, |()| std::thread::current().id());
        assert_eq!(threads[..2], [here, here]);
        assert!(threads[2..].iter().all(|&id| id != here), "{threads:?}");
        assert!(map_on_two_threads(vec![(); 4], false, |()| std::thread::current().id()).iter().all(|&id| id == here));
    }
}
