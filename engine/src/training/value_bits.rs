//! A [`Value`] as a one-byte type tag and 64 bits, its text held aside: the
//! fixed-width form a training-set build keeps values in, in memory
//! ([`super::output::ValueColumn`]) and in spill files ([`super::spill`]).

use crate::value::Value;

/// No value.
pub const NONE: u8 = 0;
/// [`Value::Int`]; the bits are the integer's.
pub const INT: u8 = 1;
/// [`Value::Float`]; the bits are the float's (`f64::to_bits`).
pub const FLOAT: u8 = 2;
/// [`Value::Bool`]; the bits are 0 or 1.
pub const BOOL: u8 = 3;
/// [`Value::Timestamp`]; the bits are the microseconds'.
pub const TIMESTAMP: u8 = 4;
/// [`Value::Str`]; the text is held aside and the bits are for its holder.
pub const STRING: u8 = 5;

/// A value's tag and bits; a text's bits are 0, its holder keeps the text.
pub fn tag_bits(value: Option<&Value>) -> (u8, u64) {
    match value {
        None => (NONE, 0),
        Some(Value::Int(v)) => (INT, *v as u64),
        Some(Value::Float(v)) => (FLOAT, v.to_bits()),
        Some(Value::Bool(v)) => (BOOL, *v as u64),
        Some(Value::Timestamp(v)) => (TIMESTAMP, *v as u64),
        Some(Value::Str(_)) => (STRING, 0),
    }
}

/// The value of a tag and its bits; `text` gives a [`STRING`]'s text from its
/// bits. `None` for [`NONE`]; `Err` with the tag for one this module does not
/// define.
pub fn join(tag: u8, bits: u64, text: impl FnOnce(u64) -> String) -> Result<Option<Value>, u8> {
    Ok(Some(match tag {
        NONE => return Ok(None),
        INT => Value::Int(bits as i64),
        FLOAT => Value::Float(f64::from_bits(bits)),
        BOOL => Value::Bool(bits != 0),
        TIMESTAMP => Value::Timestamp(bits as i64),
        STRING => Value::Str(text(bits)),
        other => return Err(other),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_joins_back_to_itself_bit_for_bit() {
        let values = [
            Some(Value::Int(i64::MIN)),
            Some(Value::Float(-0.0)),
            Some(Value::Float(f64::NAN)),
            Some(Value::Bool(true)),
            Some(Value::Bool(false)),
            Some(Value::Timestamp(-1)),
            Some(Value::Str("é".into())),
            None,
        ];
        for value in values {
            let (tag, bits) = tag_bits(value.as_ref());
            let text = || match &value {
                Some(Value::Str(text)) => text.clone(),
                _ => unreachable!("only a text's tag asks for it"),
            };
            let back = join(tag, bits, |_| text()).unwrap();
            match (back, value) {
                (Some(Value::Float(a)), Some(Value::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits())
                }
                (back, value) => assert_eq!(back, value),
            }
        }
        assert_eq!(join(9, 0, |_| String::new()), Err(9));
    }
}
