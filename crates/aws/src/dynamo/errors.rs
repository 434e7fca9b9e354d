//! SDK failures and other errors mapped to the port's [`StoreError`]: which are transient
//! (retryable, 503), which are the backend's (500), and which mean a stored item cannot be read.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use oms_core::ports::StoreError;

/// A conditional single-item write's outcome: `Ok(true)` applied, `Ok(false)` its condition
/// did not hold (nothing written), any other failure mapped by [`sdk_error`].
pub(crate) fn applied<O, E: ProvideErrorMetadata + std::error::Error + 'static>(
    op: &str,
    res: Result<O, SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, StoreError> {
    match res {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error(op, e)),
    }
}

/// Maps an SDK failure to the port's error: throttling, timeouts and connection trouble are
/// transient (`Unavailable`, answered 503); anything else is a `Backend` error (500). Both make
/// a provider retry; neither is swallowed.
pub(crate) fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    op: &str,
    e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let transient_code = |code: Option<&str>| {
        matches!(
            code,
            Some(
                "ThrottlingException"
                    | "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
                    | "TransactionInProgressException"
            )
        )
    };
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{op}: {}", crate::error_text(&e)))
        }
        // Any 5xx answer is the service's trouble, not the request's: worth retrying.
        SdkError::ServiceError(se)
            if transient_code(se.err().code()) || se.raw().status().is_server_error() =>
        {
            StoreError::Unavailable(format!("{op}: {}", crate::error_text(&e)))
        }
        _ => StoreError::Backend(format!("{op}: {}", crate::error_text(&e))),
    }
}

/// A stored item (or cursor) that does not decode: the data, not the request, is wrong.
pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A request the SDK's builder refused (a required field missing): a bug here, so a `Backend`
/// error.
pub(super) fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("request construction: {e}")))
}
