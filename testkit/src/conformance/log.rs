//! The [`EventLog`] conformance suite; [`crate::event_log_conformance!`] runs
//! every case.

use freshet_storage::log::{EventLog, Position};
use freshet_storage::StorageError;

use super::{numbered, numbers, open_fresh, Opener};

/// Runs every case of the [`EventLog`] suite (see [`crate::conformance`]) as a
/// `#[tokio::test]` in a module `log`, each with the opener `$opener` evaluates to
/// (an `impl Opener<dyn EventLog>`).
#[macro_export]
macro_rules! event_log_conformance {
    ($opener:expr) => {
        $crate::__conformance_cases!(
            log,
            $opener,
            [
                ordering_and_positions,
                replay_from_any_position,
                durable_across_reopen,
                concurrent_appends,
                tail_wakes_on_append,
                errors_name_the_item,
            ]
        );
    };
}

async fn read_all(log: &dyn EventLog, topic: &str, partition: u32, from: Position) -> Vec<i64> {
    let mut position = from;
    let mut batches = Vec::new();
    loop {
        let read = log.read(topic, partition, position, 7).await.expect("read");
        let Some(last) = read.last() else { break };
        position = last.next;
        batches.extend(read.into_iter().map(|b| b.batch));
    }
    numbers(&batches)
}

/// Appends keep their order, positions grow, and the head is the last `next`.
pub async fn ordering_and_positions(opener: &impl Opener<dyn EventLog>) {
    let (_namespace, log) = open_fresh(opener).await;
    log.ensure_topic("events", 2).await.unwrap();
    assert_eq!(log.partitions("events").await.unwrap(), 2);
    assert_eq!(log.head("events", 0).await.unwrap(), Position::START);
    let mut previous_next = Position::START;
    for start in (0..100).step_by(10) {
        let ack = log
            .append("events", 0, numbered(start..start + 10))
            .await
            .unwrap();
        assert!(ack.first >= previous_next, "positions never go back");
        assert!(ack.next > ack.first);
        previous_next = ack.next;
    }
    assert_eq!(log.head("events", 0).await.unwrap(), previous_next);
    assert_eq!(log.row_count("events", 0).await.unwrap(), 100);
    assert_eq!(
        read_all(log.as_ref(), "events", 0, Position::START).await,
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(
        log.row_count("events", 1).await.unwrap(),
        0,
        "partitions are independent"
    );
    assert!(log
        .read("events", 1, Position::START, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Reading from any position the log handed out (an append's `first` or `next`,
/// a read's `position` or `next`) returns exactly the rows from there on.
pub async fn replay_from_any_position(opener: &impl Opener<dyn EventLog>) {
    let (_namespace, log) = open_fresh(opener).await;
    log.ensure_topic("events", 1).await.unwrap();
    let mut handed_out = Vec::new();
    for (start, len) in [(0, 1), (1, 5), (6, 30), (36, 2), (38, 12)] {
        let ack = log
            .append("events", 0, numbered(start..start + len))
            .await
            .unwrap();
        handed_out.push((ack.first, start));
        handed_out.push((ack.next, start + len));
    }
    for batch in log
        .read("events", 0, Position::START, usize::MAX)
        .await
        .unwrap()
    {
        let first = numbers([&batch.batch])[0];
        handed_out.push((batch.position, first));
        handed_out.push((batch.next, first + batch.batch.num_rows() as i64));
    }
    for (position, first_row) in handed_out {
        assert_eq!(
            read_all(log.as_ref(), "events", 0, position).await,
            (first_row..50).collect::<Vec<_>>(),
            "replay from {position}"
        );
    }
}

/// Acknowledged appends survive close and reopen, and appends continue after it.
pub async fn durable_across_reopen(opener: &impl Opener<dyn EventLog>) {
    let namespace = opener.fresh().await;
    let head = {
        let log = opener.open(&namespace).await;
        log.ensure_topic("events", 1).await.unwrap();
        log.append("events", 0, numbered(0..40)).await.unwrap();
        log.append("events", 0, numbered(40..41))
            .await
            .unwrap()
            .next
    };
    let log = opener.open(&namespace).await;
    assert_eq!(log.partitions("events").await.unwrap(), 1);
    assert_eq!(log.head("events", 0).await.unwrap(), head);
    log.append("events", 0, numbered(41..60)).await.unwrap();
    assert_eq!(
        read_all(log.as_ref(), "events", 0, Position::START).await,
        (0..60).collect::<Vec<_>>()
    );
}

/// Concurrent appenders each see their own batches in order, and every row lands once.
pub async fn concurrent_appends(opener: &impl Opener<dyn EventLog>) {
    let (_namespace, log) = open_fresh(opener).await;
    log.ensure_topic("events", 1).await.unwrap();
    let mut tasks = Vec::new();
    for writer in 0..8i64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for round in 0..25i64 {
                let base = writer * 1000 + round * 10;
                acks.push(
                    log.append("events", 0, numbered(base..base + 10))
                        .await
                        .unwrap(),
                );
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0].next <= w[1].first),
            "one writer's appends stay in order"
        );
        acks.extend(mine);
    }
    let mut all = read_all(log.as_ref(), "events", 0, Position::START).await;
    assert_eq!(all.len(), 8 * 25 * 10);
    all.sort_unstable();
    let expected: Vec<i64> = (0..8)
        .flat_map(|w| (0..250).map(move |i| w * 1000 + i))
        .collect();
    assert_eq!(all, expected);
}

/// A tail waiter wakes on the next append and not before.
pub async fn tail_wakes_on_append(opener: &impl Opener<dyn EventLog>) {
    let (_namespace, log) = open_fresh(opener).await;
    log.ensure_topic("events", 1).await.unwrap();
    let head = log.head("events", 0).await.unwrap();
    let waiter = {
        let log = log.clone();
        tokio::spawn(async move { log.wait_beyond("events", 0, head).await.unwrap() })
    };
    let ack = log.append("events", 0, numbered(0..3)).await.unwrap();
    assert_eq!(waiter.await.unwrap(), ack.next);
    let read = log.read("events", 0, head, 100).await.unwrap();
    assert_eq!(numbers(read.iter().map(|b| &b.batch)), vec![0, 1, 2]);
}

/// Unknown topics, partitions and positions are errors that name them.
pub async fn errors_name_the_item(opener: &impl Opener<dyn EventLog>) {
    let (_namespace, log) = open_fresh(opener).await;
    log.ensure_topic("events", 2).await.unwrap();
    assert!(
        matches!(log.append("nope", 0, numbered(0..1)).await, Err(StorageError::UnknownTopic(t)) if t == "nope")
    );
    let error = log.head("events", 2).await.unwrap_err();
    assert!(error.to_string().contains("partition 2"), "{error}");
    let error = log.ensure_topic("events", 3).await.unwrap_err();
    assert!(
        error.to_string().contains("2 partition(s), not 3"),
        "{error}"
    );
    let beyond = Position::from_parts(0, 1_000);
    assert!(log.read("events", 0, beyond, 1).await.is_err());
    assert!(log.ensure_topic("../escape", 1).await.is_err());
    assert!(
        log.append("events", 0, numbered(0..0)).await.is_err(),
        "empty batches are refused"
    );
}
