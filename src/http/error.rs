//! The API's error answers: a status, a stable code, a message and the fields at fault.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api_keys::ApiKeyError;
use crate::service::ServiceError;
use crate::settings::{SettingsError, SettingsErrors};
use crate::store::StoreError;

/// An error answer of the API.
///
/// Its body is `{"error": {"code": "...", "message": "...", "fields": [{"path", "message"}]}}`:
/// `code` is one of [`ErrorCode`]'s stable names, `message` is for people (it never holds a key,
/// a secret or a server path) and `fields` names each input field at fault (empty when the
/// error is not about one field).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    fields: Vec<FieldError>,
}

impl ApiError {
    /// An error with `code` and `message` and no field.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The same error naming `path` as a field at fault.
    #[must_use]
    pub fn with_field(mut self, path: impl Into<String>, message: impl Into<String>) -> Self {
        self.fields.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
        self
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The message for people.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The fields at fault.
    #[must_use]
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// The JSON body.
    #[must_use]
    pub fn to_json(&self) -> String {
        let body = Body {
            error: Inner {
                code: self.code.as_str(),
                message: &self.message,
                fields: &self.fields,
            },
        };
        // Strings and a list of string pairs always serialize.
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// A 422 (or 400 for a syntax error) listing every problem of a rejected document.
    pub(crate) fn from_settings_errors(errors: &SettingsErrors) -> Self {
        let slice = errors.as_slice();
        if let [SettingsError::Syntax { .. }] = slice {
            return Self::new(ErrorCode::MalformedJson, errors.to_string());
        }
        let mut error = Self::new(ErrorCode::ValidationFailed, errors.to_string());
        for e in slice {
            error = error.with_field(e.path(), field_message(e));
        }
        error
    }

    /// The answer to an internal failure: logged in full, answered without detail.
    pub(crate) fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "request failed");
        Self::new(
            ErrorCode::Internal,
            "the server could not complete the request",
        )
    }
}

impl From<SettingsError> for ApiError {
    fn from(e: SettingsError) -> Self {
        Self::from_settings_errors(&SettingsErrors::from(e))
    }
}

impl From<SettingsErrors> for ApiError {
    fn from(errors: SettingsErrors) -> Self {
        Self::from_settings_errors(&errors)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Store(e) => e.into(),
            ServiceError::Rejected(errors) => {
                if let Some(SettingsError::EntryNotFound { id }) = errors
                    .as_slice()
                    .iter()
                    .find(|e| matches!(e, SettingsError::EntryNotFound { .. }))
                {
                    return Self::new(
                        ErrorCode::EntryNotFound,
                        format!("no allowlist entry has id `{id}`"),
                    );
                }
                Self::from_settings_errors(&errors)
            }
            ServiceError::WouldLockOut { .. } => Self::new(ErrorCode::WouldLockOut, e.to_string()),
            ServiceError::Key(e) => e.into(),
            ServiceError::WouldBlockActor(_) => {
                Self::new(ErrorCode::WouldBlockActor, e.to_string())
            }
            ServiceError::Contended { .. } => Self::new(ErrorCode::VersionConflict, e.to_string()),
            ServiceError::DuplicateMember { .. } => {
                Self::new(ErrorCode::ValidationFailed, e.to_string())
            }
            ServiceError::Entropy(_) | ServiceError::Totp(_) | ServiceError::Password(_) => {
                Self::internal(&e)
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } | StoreError::KeyChanged { .. } => {
                Self::new(ErrorCode::VersionConflict, e.to_string())
            }
            StoreError::NotFound { .. } => Self::new(ErrorCode::StoreNotFound, e.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl From<ApiKeyError> for ApiError {
    fn from(e: ApiKeyError) -> Self {
        let code = match e {
            ApiKeyError::UnknownPrefix
            | ApiKeyError::Length { .. }
            | ApiKeyError::Alphabet { .. }
            | ApiKeyError::Unknown => ErrorCode::InvalidApiKey,
            ApiKeyError::Expired { .. } => ErrorCode::ApiKeyExpired,
            ApiKeyError::NotYetValid { .. } => ErrorCode::InvalidApiKey,
            ApiKeyError::Revoked { .. } => ErrorCode::ApiKeyRevoked,
            ApiKeyError::NothingToRotate { .. } => ErrorCode::NothingToRotate,
            ApiKeyError::GraceForCompromisedKey { .. } => {
                return Self::new(ErrorCode::ValidationFailed, e.to_string())
                    .with_field("grace_period_hours", e.to_string());
            }
            _ => return Self::internal(&e),
        };
        Self::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.to_json()).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

/// One input field at fault.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct FieldError {
    /// The field's path: dots between keys, `[i]` for list positions
    /// (`ip_allowlist.entries[2].cidr`); a header's name for a header; empty for the whole body.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// The stable codes of error answers, each with its HTTP status.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not JSON.
    MalformedJson,
    /// 400: a header (such as `If-Match`) cannot be read.
    InvalidHeader,
    /// 400: a path parameter (store id, entry id) is not a valid id.
    InvalidPath,
    /// 401: no `Authorization: Bearer` key.
    MissingApiKey,
    /// 401: the key is not a key, or no store has it.
    InvalidApiKey,
    /// 401: the key's grace period is over.
    ApiKeyExpired,
    /// 401: the key was revoked.
    ApiKeyRevoked,
    /// 403: the key is valid, for another store.
    ApiKeyWrongStore,
    /// 403: the store's allowlist denies the client address.
    IpNotAllowed,
    /// 403: the client address could not be determined (malformed forwarding header).
    ClientIpUnresolved,
    /// 404: no such route.
    NotFound,
    /// 404: the store has no settings.
    StoreNotFound,
    /// 404: no allowlist entry has the id.
    EntryNotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the settings changed since the version named in `If-Match`.
    VersionConflict,
    /// 409: the change would make the allowlist deny the calling client; retry with
    /// `?force=true` to apply it anyway.
    WouldLockOut,
    /// 409: the 2FA change would block the member making it; retry with `?force=true` to apply
    /// it anyway.
    WouldBlockActor,
    /// 409: the store has no active key to rotate.
    NothingToRotate,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 422: the body is JSON, but a field is unknown, missing, of the wrong type or out of range.
    ValidationFailed,
    /// 500: the server failed (storage); the detail is in the server's log.
    Internal,
}

impl ErrorCode {
    /// The code as the body writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidHeader => "invalid_header",
            Self::InvalidPath => "invalid_path",
            Self::MissingApiKey => "missing_api_key",
            Self::InvalidApiKey => "invalid_api_key",
            Self::ApiKeyExpired => "api_key_expired",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::ApiKeyWrongStore => "api_key_wrong_store",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::ClientIpUnresolved => "client_ip_unresolved",
            Self::NotFound => "not_found",
            Self::StoreNotFound => "store_not_found",
            Self::EntryNotFound => "entry_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::VersionConflict => "version_conflict",
            Self::WouldLockOut => "would_lock_out",
            Self::WouldBlockActor => "would_block_actor",
            Self::NothingToRotate => "nothing_to_rotate",
            Self::PayloadTooLarge => "payload_too_large",
            Self::ValidationFailed => "validation_failed",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status answered with this code.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedJson | Self::InvalidHeader | Self::InvalidPath => {
                StatusCode::BAD_REQUEST
            }
            Self::MissingApiKey
            | Self::InvalidApiKey
            | Self::ApiKeyExpired
            | Self::ApiKeyRevoked => StatusCode::UNAUTHORIZED,
            Self::ApiKeyWrongStore | Self::IpNotAllowed | Self::ClientIpUnresolved => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound | Self::StoreNotFound | Self::EntryNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::VersionConflict
            | Self::WouldLockOut
            | Self::WouldBlockActor
            | Self::NothingToRotate => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'static str,
    message: &'a str,
    fields: &'a [FieldError],
}

/// The message of one settings error without its path (the path is its own field).
fn field_message(e: &SettingsError) -> String {
    let text = e.to_string();
    let path = e.path();
    match text.strip_prefix(path).and_then(|t| t.strip_prefix(": ")) {
        Some(rest) if !path.is_empty() => rest.to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_carries_code_message_and_fields() {
        let e = ApiError::new(ErrorCode::ValidationFailed, "bad")
            .with_field("ip_allowlist.entries[0].cidr", "not a network");
        let body: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["message"], "bad");
        assert_eq!(
            body["error"]["fields"][0]["path"],
            "ip_allowlist.entries[0].cidr"
        );
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn a_settings_error_path_is_a_field_and_not_repeated_in_its_message() {
        let e = crate::settings::SettingsUpdate::from_json(
            r#"{"password_policy": {"require_upercase": false}}"#,
        )
        .unwrap_err();
        let api = ApiError::from(e);
        assert_eq!(api.code(), ErrorCode::ValidationFailed);
        assert_eq!(api.fields()[0].path, "password_policy.require_upercase");
        assert_eq!(api.fields()[0].message, "unknown field");
    }

    #[test]
    fn a_syntax_error_is_malformed_json_with_status_400() {
        let e = crate::settings::SettingsUpdate::from_json("{").unwrap_err();
        let api = ApiError::from(e);
        assert_eq!(api.code(), ErrorCode::MalformedJson);
        assert_eq!(api.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn key_rejections_have_distinct_codes_and_no_key_text() {
        let now = crate::time::parse("2026-03-10T10:00:00Z").unwrap();
        let key_id = crate::id::KeyId::new("key_abc").unwrap();
        let expired = ApiError::from(ApiKeyError::Expired {
            key_id: key_id.clone(),
            expired_at: now,
            now,
        });
        let revoked = ApiError::from(ApiKeyError::Revoked {
            key_id,
            revoked_at: now,
        });
        assert_eq!(expired.code(), ErrorCode::ApiKeyExpired);
        assert_eq!(revoked.code(), ErrorCode::ApiKeyRevoked);
        assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            ApiError::from(ApiKeyError::Unknown).code(),
            ErrorCode::InvalidApiKey
        );
    }
}
