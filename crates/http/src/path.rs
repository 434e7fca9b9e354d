//! `PathParam<T>`: how the API's handlers read a path parameter such as `{orderId}`. A segment
//! that cannot be decoded into `T` (a percent-escape that is not UTF-8, `/orders/%FF`) names no
//! resource, so it is answered like any other id that does not parse: `404 not_found` in the
//! envelope, never axum's plain-text 400.

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct PathParam<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|rejection| rejected(&rejection))
    }
}

/// axum answers 4xx for what the client sent and 5xx for a route whose parameters do not fit
/// `T`, which is our bug and is logged as one.
fn rejected(rejection: &PathRejection) -> ApiError {
    if rejection.status().is_client_error() {
        ApiError::not_found()
    } else {
        ApiError::internal(rejection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn echo(PathParam(id): PathParam<String>) -> String {
        id
    }

    async fn get_path(uri: &str) -> (StatusCode, String, serde_json::Value) {
        let app = Router::new()
            .route("/orders/{orderId}", get(echo))
            .route(
                "/pairs/{a}",
                get(|PathParam((a, b)): PathParam<(String, String)>| async move { a + &b }),
            )
            .layer(axum::middleware::from_fn_with_state(
                crate::request_id::testing::minter(),
                crate::request_id::middleware,
            ));
        let res = app
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            rid,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn an_undecodable_path_parameter_is_a_json_404_like_any_unknown_id() {
        for uri in ["/orders/%FF", "/orders/%C3%28", "/orders/ok%80"] {
            let (status, rid, body) = get_path(uri).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(body["error"]["code"], "not_found", "{uri}");
            assert_eq!(body["error"]["message"], "no such resource", "{uri}");
            assert_eq!(body["error"]["requestId"], rid.as_str(), "{uri}");
        }
    }

    #[tokio::test]
    async fn a_decodable_path_parameter_reaches_the_handler_decoded() {
        let app = Router::new().route("/orders/{orderId}", get(echo));
        let res = app
            .oneshot(
                Request::get("/orders/ord%5F1%C3%A9")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], "ord_1é".as_bytes());
    }

    #[tokio::test]
    async fn a_route_whose_parameters_do_not_fit_the_type_is_our_500_not_a_404() {
        let (status, _, body) = get_path("/pairs/x").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
    }
}
