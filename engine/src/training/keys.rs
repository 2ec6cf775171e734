//! [`KeyIds`]: dense numbers for the entity keys of one training-set build, so
//! events and labels are partitioned and sorted by a small integer.

use foldhash::HashMap;

use crate::value::Value;

/// Entity keys numbered in the order they were first seen, in maps with a
/// fast seeded hash (a build looks a key up once per event).
#[derive(Debug, Default)]
pub struct KeyIds {
    ints: HashMap<i64, u32>,
    others: HashMap<Vec<u8>, u32>,
}

impl KeyIds {
    /// The number of `key`, numbering it if it is new.
    pub fn intern(&mut self, key: &Value) -> u32 {
        match key {
            Value::Int(v) => self.intern_int(*v),
            other => {
                let next = self.len();
                *self.others.entry(other.key_bytes()).or_insert(next)
            }
        }
    }

    /// [`KeyIds::intern`] for an integer key, without building a [`Value`].
    pub fn intern_int(&mut self, key: i64) -> u32 {
        let next = self.len();
        *self.ints.entry(key).or_insert(next)
    }

    /// The number of `key`, if any event had it.
    pub fn get(&self, key: &Value) -> Option<u32> {
        match key {
            Value::Int(v) => self.ints.get(v).copied(),
            other => self.others.get(&other.key_bytes()).copied(),
        }
    }

    /// How many keys are numbered.
    pub fn len(&self) -> u32 {
        (self.ints.len() + self.others.len()) as u32
    }

    /// Whether no key is numbered.
    pub fn is_empty(&self) -> bool {
        self.ints.is_empty() && self.others.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_first_number_and_types_stay_apart() {
        let mut ids = KeyIds::default();
        assert_eq!(ids.intern_int(7), 0);
        assert_eq!(ids.intern(&Value::Str("7".into())), 1);
        assert_eq!(ids.intern(&Value::Int(7)), 0);
        assert_eq!(ids.get(&Value::Str("7".into())), Some(1));
        assert_eq!(ids.get(&Value::Int(8)), None);
        assert_eq!(ids.len(), 2);
    }
}
