//! How a Flight ticket (a `GenerateTrainingSetRequest` as JSON) writes its inline
//! label rows, `labels_arrow_ipc`: base64 text, which is what clients send
//! (`{"labels_arrow_ipc": "QVJST1cx..."}`), or an array of byte values.

use base64::Engine;
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Bytes {
    Base64(String),
    Values(Vec<u8>),
}

/// Reads `labels_arrow_ipc` from either form; bad base64 is an error naming
/// the field and where the text goes wrong.
pub fn labels_arrow_ipc<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<u8>, D::Error> {
    match Bytes::deserialize(deserializer)? {
        Bytes::Values(bytes) => Ok(bytes),
        Bytes::Base64(text) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| {
                serde::de::Error::custom(format!("labels_arrow_ipc is not base64 text: {e}"))
            }),
    }
}

#[cfg(test)]
mod tests {
    use crate::proto::GenerateTrainingSetRequest;

    fn parse(json: &str) -> Result<GenerateTrainingSetRequest, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn inline_labels_are_base64_text_or_byte_values() {
        // "ARROW1" is QVJST1cx in base64 (RFC 4648, worked by hand).
        let text = parse(r#"{"label": "outcome", "labels_arrow_ipc": "QVJST1cx"}"#).unwrap();
        assert_eq!(text.labels_arrow_ipc, b"ARROW1");
        assert_eq!(text.label, "outcome");
        let values = parse(r#"{"labels_arrow_ipc": [65, 82, 82, 79, 87, 49]}"#).unwrap();
        assert_eq!(values.labels_arrow_ipc, b"ARROW1");
        assert!(parse("{}").unwrap().labels_arrow_ipc.is_empty());
    }

    #[test]
    fn bad_base64_is_refused_naming_the_field() {
        let error = parse(r#"{"labels_arrow_ipc": "QVJST1c*"}"#).unwrap_err();
        assert!(
            error.contains("labels_arrow_ipc is not base64 text") && error.contains("offset 7"),
            "{error}"
        );
    }
}
