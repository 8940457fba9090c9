//! An ordered parallel map: items `0..n` are produced on worker threads and consumed on the
//! calling thread strictly in index order, with a bounded number of results waiting, so
//! memory stays bounded however long the sequence is.
//!
//! The first error in index order wins: a failing item stops the workers (items after it are
//! abandoned), and the consumer never sees results past it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

/// Runs `produce(i)` for every `i` in `0..n` on `threads` worker threads and passes each
/// result to `consume(i, value)` in increasing `i`. At most `ahead` items are produced beyond
/// the last one consumed. Returns the first error, in index order, of either function.
pub(crate) fn ordered_map<T, E, P, C>(
    n: usize,
    threads: usize,
    ahead: usize,
    produce: P,
    mut consume: C,
) -> Result<(), E>
where
    T: Send,
    E: Send,
    P: Fn(usize) -> Result<T, E> + Sync,
    C: FnMut(usize, T) -> Result<(), E>,
{
    if n == 0 {
        return Ok(());
    }
    let threads = threads.clamp(1, n);
    let ahead = ahead.max(threads);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // The index of the next item the consumer needs; workers wait while they are too far ahead.
    let consumed = Mutex::new(0usize);
    let moved = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, consumed, moved, produce) = (&next, &stop, &consumed, &moved, &produce);
            scope.spawn(move || {
                // A panicking worker stops the others, so nobody waits for it; the scope then
                // re-raises the panic on the calling thread.
                let _guard = StopOnUnwind { stop, moved };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    {
                        let mut c = consumed.lock().unwrap_or_else(|p| p.into_inner());
                        while i >= *c + ahead && !stop.load(Ordering::SeqCst) {
                            c = moved.wait(c).unwrap_or_else(|p| p.into_inner());
                        }
                    }
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let r = produce(i);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Result<T, E>> = BTreeMap::new();
        let mut want = 0usize;
        let halt = |e: E| {
            stop.store(true, Ordering::SeqCst);
            moved.notify_all();
            Err(e)
        };
        while want < n {
            let r = match waiting.remove(&want) {
                Some(r) => r,
                None => match rx.recv() {
                    Ok((i, r)) if i == want => r,
                    Ok((i, r)) => {
                        waiting.insert(i, r);
                        continue;
                    }
                    // Every worker is gone without producing `want`: only after a stop.
                    Err(_) => break,
                },
            };
            match r.and_then(|v| consume(want, v)) {
                Ok(()) => {}
                Err(e) => return halt(e),
            }
            want += 1;
            *consumed.lock().unwrap_or_else(|p| p.into_inner()) = want;
            moved.notify_all();
        }
        Ok(())
    })
}

/// Sets `stop` and wakes the waiting workers when dropped during a panic.
struct StopOnUnwind<'a> {
    stop: &'a AtomicBool,
    moved: &'a Condvar,
}

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::SeqCst);
            self.moved.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_index_order_whatever_the_thread_timing() {
        let mut seen = Vec::new();
        ordered_map(
            200,
            4,
            3,
            |i| {
                std::thread::sleep(std::time::Duration::from_micros(((i * 7919) % 13) as u64 * 50));
                Ok::<_, String>(i * 2)
            },
            |i, v| {
                assert_eq!(v, i * 2);
                seen.push(i);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_in_index_order_is_returned_and_nothing_after_it_is_consumed() {
        let mut seen = Vec::new();
        let r = ordered_map(
            100,
            3,
            4,
            |i| if i == 40 || i == 41 || i == 70 { Err(format!("bad {i}")) } else { Ok(i) },
            |i, _| {
                seen.push(i);
                Ok(())
            },
        );
        assert_eq!(r, Err("bad 40".to_string()));
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn a_consumer_error_stops_the_workers() {
        let produced = AtomicUsize::new(0);
        let r = ordered_map(
            10_000,
            2,
            2,
            |i| {
                produced.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(i)
            },
            |i, _| if i == 5 { Err("stop".to_string()) } else { Ok(()) },
        );
        assert_eq!(r, Err("stop".to_string()));
        assert!(produced.load(Ordering::SeqCst) < 100, "workers ran on after the error");
    }
}
