//! The one place errors become HTTP responses: `{"error":{"code","message","requestId","details"?}}`
//! with a stable `code`. Client errors carry a safe message; internal ones are logged with their
//! cause and answered with an opaque message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oms_core::ValidationErrors;
use oms_core::app::create_order::CreateOrderError;
use oms_core::ports::{ProviderError, StockShortage, StoreError};
use serde_json::{Value, json};

use crate::request_id::RequestId;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `400 validation_failed` listing the fields at fault; `details.omitted` counts those
    /// found beyond the listed ones (see [`oms_core::validation::MAX_FIELD_ERRORS`]).
    pub fn validation(errors: &ValidationErrors) -> Self {
        let fields: Vec<Value> = errors
            .fields()
            .iter()
            .map(|f| json!({"field": f.field, "message": f.message}))
            .collect();
        let message = match (errors.fields(), errors.omitted()) {
            ([one], 0) => format!("{}: {}", one.field, one.message),
            (listed, 0) => format!("{} fields are invalid; see details", listed.len()),
            (listed, _) => format!(
                "{} fields are invalid; the first {} are in details",
                errors.total(),
                listed.len()
            ),
        };
        let details = match errors.omitted() {
            0 => json!({ "fields": fields }),
            omitted => json!({ "fields": fields, "omitted": omitted }),
        };
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", message).with_details(details)
    }

    pub fn field(field: &str, message: &str) -> Self {
        Self::validation(&ValidationErrors::single(field, message))
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you are not allowed to do this",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this resource",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body must be at most {limit} bytes"),
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the request body must be JSON (Content-Type: application/json)",
        )
    }

    /// A webhook whose signature does not verify: changes nothing. The reason is logged, not sent.
    pub fn invalid_signature() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_signature",
            "the signature is missing, invalid or too old",
        )
    }

    pub fn insufficient_stock(shortages: &[StockShortage]) -> Self {
        let items: Vec<Value> = shortages
            .iter()
            .map(|s| json!({"sku": s.sku, "requested": s.requested, "available": s.available}))
            .collect();
        let skus: Vec<&str> = shortages.iter().map(|s| s.sku.as_str()).collect();
        Self::new(
            StatusCode::CONFLICT,
            "insufficient_stock",
            format!("not enough stock for {}", skus.join(", ")),
        )
        .with_details(json!({ "items": items }))
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
    }

    /// A failure that is ours, not the client's: logged with its cause, answered opaquely.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; it has been logged",
        )
    }

    /// A dependency is down for now: the client (or provider) should retry.
    pub fn unavailable(code: &'static str, cause: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %cause, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "a dependency is temporarily unavailable; retry shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = RequestId::current().map(|r| r.0);
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "requestId": request_id,
        });
        if let (Some(details), Value::Object(m)) = (self.details, &mut error) {
            m.insert("details".into(), details);
        }
        let mut res = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::unavailable("service_unavailable", &e),
            StoreError::InvalidCursor => Self::field("cursor", "is not a cursor this API returned"),
            StoreError::Corrupt(_) | StoreError::Backend(_) => Self::internal(&e),
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unavailable(_) => Self::unavailable("payment_provider_unavailable", &e),
            ProviderError::Rejected { .. } => {
                tracing::error!(error = %e, "payment provider rejected the request");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "payment_provider_error",
                    "the payment provider refused to open a payment for this order",
                )
            }
        }
    }
}

impl From<CreateOrderError> for ApiError {
    fn from(e: CreateOrderError) -> Self {
        match e {
            CreateOrderError::Validation(v) => Self::validation(&v),
            CreateOrderError::InsufficientStock(s) => Self::insufficient_stock(&s),
            CreateOrderError::IdempotencyKeyReused => Self::idempotency_key_reused(),
            CreateOrderError::Provider(p) => p.into(),
            CreateOrderError::Store(s) => s.into(),
            CreateOrderError::BadGeneratedId(_) => Self::internal(&e),
        }
    }
}

impl From<oms_core::app::outbox::OutboxError> for ApiError {
    fn from(e: oms_core::app::outbox::OutboxError) -> Self {
        use oms_core::app::outbox::OutboxError;
        match e {
            OutboxError::Store(s) => s.into(),
            OutboxError::Queue(_) | OutboxError::Contention => {
                Self::unavailable("service_unavailable", &e)
            }
            // A bug, not the client's doing: the log line names the order and the refusal.
            OutboxError::Refused(r) => Self::internal(&r),
        }
    }
}

impl From<oms_core::app::admin::AdminError> for ApiError {
    fn from(e: oms_core::app::admin::AdminError) -> Self {
        use oms_core::app::admin::AdminError;
        match e {
            AdminError::NotFound => Self::not_found(),
            AdminError::Outbox(o) => o.into(),
        }
    }
}

impl From<oms_core::app::catalog::CatalogError> for ApiError {
    fn from(e: oms_core::app::catalog::CatalogError) -> Self {
        use oms_core::app::catalog::CatalogError;
        match e {
            CatalogError::Validation(v) => Self::validation(&v),
            CatalogError::NotFound => Self::not_found(),
            CatalogError::InsufficientStock(s) => Self::insufficient_stock(&[s]),
            CatalogError::Contention => Self::unavailable("service_unavailable", &e),
            CatalogError::Store(s) => s.into(),
        }
    }
}

impl From<oms_core::app::checkout::CheckoutVerifyError> for ApiError {
    fn from(e: oms_core::app::checkout::CheckoutVerifyError) -> Self {
        use oms_core::app::checkout::CheckoutVerifyError;
        match e {
            CheckoutVerifyError::NotFound => Self::not_found(),
            CheckoutVerifyError::Invalid { field, message } => Self::field(field, message),
            CheckoutVerifyError::Signature(s) => {
                tracing::warn!(reason = %s, "checkout signature rejected");
                Self::invalid_signature()
            }
            CheckoutVerifyError::Store(s) => s.into(),
        }
    }
}

impl From<oms_core::app::cancel::CancelError> for ApiError {
    fn from(e: oms_core::app::cancel::CancelError) -> Self {
        use oms_core::app::cancel::CancelError;
        use oms_core::order::CancelRefusal;
        let conflict =
            |code, e: &dyn std::fmt::Display| Self::new(StatusCode::CONFLICT, code, e.to_string());
        match e {
            CancelError::NotFound => Self::not_found(),
            CancelError::Refused(r @ CancelRefusal::AlreadyShipped) => {
                conflict("already_shipped", &r)
            }
            CancelError::Refused(r @ CancelRefusal::UnderReview) => {
                conflict("order_under_review", &r)
            }
            CancelError::Refused(r @ CancelRefusal::FulfilmentInProgress) => {
                conflict("fulfilment_in_progress", &r)
            }
            CancelError::Refused(r @ CancelRefusal::Disputed) => conflict("order_disputed", &r),
            CancelError::PaymentInProgress => conflict("payment_in_progress", &e),
            CancelError::ProviderUnavailable(_) => {
                Self::unavailable("payment_provider_unavailable", &e)
            }
            CancelError::CarrierUnavailable(_) => Self::unavailable("service_unavailable", &e),
            CancelError::Store(s) => s.into(),
            CancelError::Contention => Self::unavailable("service_unavailable", &e),
        }
    }
}

impl From<oms_core::app::downloads::DownloadError> for ApiError {
    fn from(e: oms_core::app::downloads::DownloadError) -> Self {
        use oms_core::app::downloads::DownloadError;
        use oms_core::order::DownloadRefusal;
        match e {
            DownloadError::NotFound | DownloadError::Refused(DownloadRefusal::NotFound) => {
                Self::not_found()
            }
            DownloadError::Refused(r @ DownloadRefusal::NotPaid) => {
                Self::new(StatusCode::CONFLICT, "not_paid", r.to_string())
            }
            DownloadError::Refused(r @ DownloadRefusal::UnderReview) => {
                Self::new(StatusCode::LOCKED, "under_review", r.to_string())
            }
            DownloadError::Refused(r @ DownloadRefusal::LimitReached) => {
                Self::new(StatusCode::FORBIDDEN, "download_limit", r.to_string())
            }
            DownloadError::Link(_) | DownloadError::Contention => {
                Self::unavailable("service_unavailable", &e)
            }
            DownloadError::Store(s) => s.into(),
        }
    }
}

impl From<oms_core::app::refund::RefundError> for ApiError {
    fn from(e: oms_core::app::refund::RefundError) -> Self {
        use oms_core::app::refund::RefundError;
        use oms_core::order::RefundRefusal;
        // The refund as recorded: kept `requested` (provider down) or `failed` (refused).
        let refund_details = |order: &oms_core::Order, refund_id: &str| {
            json!({
                "refundId": refund_id,
                "status": order.refund_request(refund_id).map(|r| r.status.as_str()),
            })
        };
        match e {
            RefundError::NotFound => Self::not_found(),
            RefundError::KeyReused => Self::idempotency_key_reused(),
            RefundError::Refused(RefundRefusal::NotRefundable) => Self::new(
                StatusCode::CONFLICT,
                "not_refundable",
                "the order has no captured payment to refund",
            ),
            RefundError::Refused(RefundRefusal::Disputed) => Self::new(
                StatusCode::CONFLICT,
                "order_disputed",
                "the order's payment is disputed; refunds wait until the dispute is closed",
            ),
            RefundError::Refused(RefundRefusal::ExceedsBalance { requested, balance }) => {
                Self::new(
                    StatusCode::CONFLICT,
                    "refund_exceeds_balance",
                    format!("{requested} exceeds the refundable balance of {balance}"),
                )
                .with_details(json!({
                    "requested": requested,
                    "refundable": balance.minor(),
                    "currency": balance.currency(),
                }))
            }
            RefundError::ProviderUnavailable {
                ref order,
                ref refund_id,
                ..
            } => {
                let details = refund_details(order, refund_id);
                Self::unavailable("payment_provider_unavailable", &e).with_details(details)
            }
            RefundError::ProviderRejected {
                ref order,
                ref refund_id,
                ..
            } => {
                tracing::error!(error = %e, "payment provider refused a refund");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "payment_provider_error",
                    "the payment provider refused the refund; it is recorded as failed",
                )
                .with_details(refund_details(order, refund_id))
            }
            RefundError::Store(s) => s.into(),
            RefundError::Contention => Self::unavailable("service_unavailable", &e),
            RefundError::Invariant(r) => Self::internal(&r),
        }
    }
}

impl From<oms_core::app::ops::OpsError> for ApiError {
    fn from(e: oms_core::app::ops::OpsError) -> Self {
        use oms_core::app::ops::OpsError;
        match e {
            OpsError::NotFound => Self::not_found(),
            OpsError::NotReplayable(_) => {
                Self::new(StatusCode::CONFLICT, "not_replayable", e.to_string())
            }
            OpsError::Outbox(o) => o.into(),
            OpsError::Queue(_) => Self::unavailable("service_unavailable", &e),
        }
    }
}

impl From<oms_core::app::backfill::BackfillError> for ApiError {
    fn from(e: oms_core::app::backfill::BackfillError) -> Self {
        use oms_core::app::backfill::BackfillError;
        match e {
            BackfillError::NotConfigured(_) => Self::new(
                StatusCode::CONFLICT,
                "provider_not_configured",
                e.to_string(),
            ),
            BackfillError::Refused(_) => {
                Self::new(StatusCode::BAD_REQUEST, "backfill_refused", e.to_string())
            }
            BackfillError::Provider(p @ ProviderError::Unavailable(_)) => {
                Self::unavailable("payment_provider_unavailable", &p)
            }
            BackfillError::Provider(p @ ProviderError::Rejected { .. }) => {
                tracing::error!(error = %p, "payment provider refused to list its events");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "payment_provider_error",
                    "the payment provider refused to list its events; check its credentials",
                )
            }
            BackfillError::Outbox(o) => o.into(),
        }
    }
}
