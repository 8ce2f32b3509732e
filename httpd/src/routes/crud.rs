//! The CRUD endpoints every kind of object shares (`GET/POST /<kind>`,
//! `GET/PUT/DELETE /<kind>/{key}`): list paging, body parsing that names the bad field,
//! and rendering that never shows passwords, API key hashes or secret payloads.

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::Value;
use sftpgo_core::catalog::{Catalog, Stored};
use sftpgo_core::kms::Kms;
use sftpgo_core::store::{Kind, ListQuery};

use crate::response::{ApiError, HttpResponse, json_response, message};

/// The JSON field holding an object's key.
pub fn key_field(kind: Kind) -> &'static str {
    match kind {
        Kind::User | Kind::Admin => "username",
        Kind::ApiKey | Kind::Share => "id",
        Kind::IpListEntry => "ipornet",
        _ => "name",
    }
}

/// `offset`, `limit` (default 100, at most 500) and `order` (`ASC`/`DESC`).
pub fn list_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        offset: 0,
        limit: 100,
        descending: false,
    };
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad_request(format!("invalid {what}: {v:?}")))
        };
        match k {
            "offset" => q.offset = number("offset")?,
            "limit" => q.limit = number("limit")?.min(500),
            "order" => match v {
                "ASC" => q.descending = false,
                "DESC" => q.descending = true,
                _ => return Err(ApiError::bad_request(format!("invalid order: {v:?}"))),
            },
            _ => {}
        }
    }
    Ok(q)
}

/// One page of `items` (already in ascending key order) as `q` asks.
pub fn page<T>(mut items: Vec<T>, q: ListQuery) -> Vec<T> {
    if q.descending {
        items.reverse();
    }
    items
        .into_iter()
        .skip(usize::try_from(q.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(q.limit).unwrap_or(0))
        .collect()
}

/// An object as the API shows it.
pub fn render<T: Stored>(obj: &T) -> Value {
    let mut v = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("password");
        if T::KIND == Kind::ApiKey {
            map.remove("key");
        }
    }
    Kms::hide_all(&mut v);
    v
}

/// Parses a request body into `T`, naming the offending field on error.
pub fn parse_body<T: Stored>(body: &Bytes, key: Option<&str>) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    if let (Some(key), Some(map)) = (key, value.as_object_mut()) {
        // The path names the object: the body cannot rename it.
        map.insert(key_field(T::KIND).into(), Value::String(key.to_string()));
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::bad_request(format!("invalid field {}: {}", e.path(), e.inner())))
}

/// What one endpoint family needs to know.
pub struct Crud<'a> {
    /// The catalog.
    pub catalog: &'a Catalog,
    /// Label used in messages ("User", "Group", ...).
    pub label: &'static str,
}

impl Crud<'_> {
    /// Serves `method` on the collection (`key` None) or one object.
    pub async fn serve<T: Stored>(
        &self,
        method: &Method,
        key: Option<&str>,
        query: Option<&str>,
        body: &Bytes,
    ) -> Result<HttpResponse, ApiError> {
        let c = self.catalog;
        match (method, key) {
            (&Method::GET, None) => {
                let list: Vec<Value> = c
                    .list::<T>(list_query(query)?)
                    .await?
                    .iter()
                    .map(render)
                    .collect();
                Ok(json_response(StatusCode::OK, &list))
            }
            (&Method::POST, None) => {
                let obj: T = parse_body(body, None)?;
                let created = c.add(&obj).await?;
                Ok(json_response(StatusCode::CREATED, &render(&created)))
            }
            (&Method::GET, Some(k)) => {
                let obj = c.get::<T>(k).await?.ok_or_else(ApiError::not_found)?;
                Ok(json_response(StatusCode::OK, &render(&obj)))
            }
            (&Method::PUT, Some(k)) => {
                let obj: T = parse_body(body, Some(k))?;
                c.update(&obj).await?;
                Ok(message(&format!("{} updated", self.label)))
            }
            (&Method::DELETE, Some(k)) => {
                c.delete::<T>(k).await?;
                Ok(message(&format!("{} deleted", self.label)))
            }
            _ => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
            )),
        }
    }
}
