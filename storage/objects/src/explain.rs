//! [`explain_store_error`]: an object store's refusal in words a user can act on.

use std::error::Error;

/// What an S3 (or other object store) answer anywhere in `error`'s chain of
/// causes means for the user, when it is one they can act on: refused
/// credentials, or no such object. `None` for any other error, whose own text
/// then says best what happened. Never holds a secret: object_store's errors
/// hold none.
///
/// ```
/// # use freshet_objects::explain_store_error;
/// let missing = object_store::Error::NotFound { path: "lake/a.csv".into(), source: "404".into() };
/// assert!(explain_store_error(&missing).unwrap().contains("no such object"));
/// let other = std::io::Error::other("disk full");
/// assert!(explain_store_error(&other).is_none());
/// ```
pub fn explain_store_error(error: &(dyn Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if let Some(store_error) = current.downcast_ref::<object_store::Error>() {
            match store_error {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. } => {
                    return Some(
                        "S3 refused the request: check the credentials (AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or the instance's role) and \
                         that they may use this bucket"
                            .to_string(),
                    )
                }
                object_store::Error::NotFound { .. } => {
                    return Some("no such object (or no such bucket)".to_string())
                }
                _ => {}
            }
        }
        cause = current.source();
    }
    None
}
