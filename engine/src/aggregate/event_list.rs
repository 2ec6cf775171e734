//! How a windowed feature stores one entity's events: a storage timed list
//! ([`freshet_storage::timed_list`]) with one record per event, its event time
//! and the value's [`Value::key_bytes`]. A micro-batch appends the events it
//! brings (the store merges them in without reading the list), and the
//! expiry it carries drops every event no read at `t >= watermark - lateness`
//! can need. Reads fold the events of `(t - W, t]` with [`fold_until`], the
//! fold training sets use.

use freshet_storage::timed_list::{self, TimedList};

use super::{fold_until, slice_width, Aggregation, Retention, SlicedState};
use crate::value::Value;
use crate::{EngineError, Result};

/// A micro-batch's new events for one key, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct NewEvents {
    list: TimedList,
}

impl NewEvents {
    /// Adds an event.
    pub fn push(&mut self, event_time: i64, value: &Value) {
        self.list
            .push_with(event_time, |out| value.write_key_bytes(out));
    }

    /// The timed list to append: the events by time, with the expiry the
    /// watermark `watermark` sets (nothing older than it is kept).
    pub fn encode(self, retention: &Retention, watermark: i64) -> Vec<u8> {
        let expire_through = retention.expire_through(watermark).unwrap_or(i64::MIN);
        self.list.encode(expire_through)
    }
}

/// The aggregate over `(at - W, at]` of a stored list (`None`: no events).
pub fn evaluate(
    stored: Option<&[u8]>,
    aggregation: &Aggregation,
    at: i64,
) -> Result<Option<Value>> {
    let Some(stored) = stored else {
        return Ok(fold_until(
            None,
            aggregation,
            std::iter::empty::<(i64, Value)>(),
            at,
        ));
    };
    let records = timed_list::decode(stored)?.records;
    let start = match aggregation.retention.window {
        Some(window) => {
            let lower = at.saturating_sub(window);
            records.partition_point(|(t, _)| *t <= lower)
        }
        None => 0,
    };
    let events = records[start..]
        .iter()
        .take_while(|(t, _)| *t <= at)
        .map(|(t, payload)| Ok((*t, decode_value(payload)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(fold_until(None, aggregation, events.into_iter(), at))
}

/// The stored events in slices ([`SlicedState`]), for an operator that
/// evaluates its feature at each new event (value statistics).
pub fn sliced_state(stored: &[u8], aggregation: &Aggregation) -> Result<SlicedState> {
    let decoded = timed_list::decode(stored)?;
    let events = decoded
        .records
        .into_iter()
        .map(|(t, payload)| Ok((t, decode_value(payload)?)))
        .collect::<Result<Vec<_>>>()?;
    let width = aggregation.retention.window.map_or(1, slice_width);
    Ok(SlicedState::from_events(
        aggregation,
        width,
        events,
        decoded.expire_through,
    ))
}

fn decode_value(payload: &[u8]) -> Result<Value> {
    Value::from_key_bytes(payload).ok_or_else(|| {
        EngineError::Corrupt(format!(
            "stored event value: {} bytes that encode no value",
            payload.len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use freshet_sql::aggregate::AggregateFunction;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn appends_merge_into_what_a_read_folds() {
        let aggregation = Aggregation {
            function: AggregateFunction::Sum,
            integer_input: true,
            retention: Retention {
                window: Some(HOUR),
                lateness: 0,
            },
        };
        let mut first = NewEvents::default();
        first.push(0, &Value::Int(1));
        first.push(HOUR / 2, &Value::Int(2));
        let mut second = NewEvents::default();
        second.push(2 * HOUR, &Value::Int(4));
        second.push(HOUR, &Value::Int(8));
        let first = first.encode(&aggregation.retention, HOUR / 2);
        let second = second.encode(&aggregation.retention, 2 * HOUR);
        let stored = timed_list::merge([first.as_slice(), second.as_slice()]).unwrap();
        // Watermark 2h expires through 1h: the events at 0 and 30 min are gone,
        // the one at 1h too (no read at t >= 2h reaches it).
        let kept = sliced_state(&stored, &aggregation).unwrap();
        assert_eq!(kept.kept(), 1);
        assert_eq!(
            evaluate(Some(&stored), &aggregation, 2 * HOUR).unwrap(),
            Some(Value::Int(4))
        );
        // Before the second batch, a read at 30 min saw 1 + 2.
        assert_eq!(
            evaluate(Some(&first), &aggregation, HOUR / 2).unwrap(),
            Some(Value::Int(3))
        );
        assert_eq!(evaluate(None, &aggregation, HOUR).unwrap(), None);
    }

    #[test]
    fn an_undecodable_value_is_an_error() {
        let mut list = TimedList::default();
        list.push(1, &[9, 9]);
        let aggregation = Aggregation {
            function: AggregateFunction::Count,
            integer_input: false,
            retention: Retention {
                window: Some(HOUR),
                lateness: 0,
            },
        };
        let error = evaluate(Some(&list.encode(i64::MIN)), &aggregation, 1).unwrap_err();
        assert!(error.to_string().contains("encode no value"), "{error}");
    }
}
