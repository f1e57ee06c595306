//! The hub's request extractors: the shared ones (`api-kit`: JSON body, path,
//! bearer token, all answering bad input with the JSON error) and the admin
//! check.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub use api_kit::extract::{JsonBody, Path, bearer};

use super::error::ApiError;
use crate::hub::Hub;

/// Proof that the request carries the admin token (compared in constant time).
pub struct Admin;

impl FromRequestParts<Arc<Hub>> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, hub: &Arc<Hub>) -> Result<Self, ApiError> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "send the admin token as Authorization: Bearer <token>",
            ));
        };
        if hub.is_admin(token) {
            Ok(Admin)
        } else {
            Err(ApiError::unauthorized(
                "bad_token",
                "the admin token is not valid",
            ))
        }
    }
}
