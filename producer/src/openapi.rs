//! The OpenAPI 3.1 description of the API, served at /api/v3/openapi.json. It is generated
//! from the handlers' `#[utoipa::path]` annotations and the `liveness_contract` types they
//! take and return (see `crate::routes`); what every route may answer whatever it does
//! (401, 403, 408, 429, 500, 503) and the preflights are added here, once.

use crate::routes::{self, liveness::SUBMIT_ALIASES, CAPTURE_ROUTES};
use axum::Json;
use liveness_contract::{ErrorBody, ErrorCode};
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Liveness",
        description = "Self-hosted face liveness with the Liveness Plus wire contract."
    ),
    components(schemas(ErrorBody, ErrorCode))
)]
struct Base;

#[utoipa::path(get, path = "/api/v3/openapi.json", tag = "operations",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn document() -> Json<Value> {
    Json(spec().clone())
}

/// The document, built once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> Value {
    let routes::Api {
        capture,
        tenant,
        operations,
    } = routes::api();
    let generated = utoipa_axum::router::OpenApiRouter::with_openapi(Base::openapi())
        .merge(capture)
        .merge(tenant)
        .merge(operations)
        .into_openapi();
    let mut spec = serde_json::to_value(generated).expect("the document is JSON");
    spec["openapi"] = json!("3.1.0");
    spec["components"]["securitySchemes"] = json!({ "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "A tenant token (POST /api/v3/auth/token: every route) or a capture token (from a session: the keys and one submission)" } });
    spec["components"]["schemas"]["ErrorCode"]["description"] = json!(ErrorCode::ALL
        .iter()
        .map(|c| format!("`{}` ({}): {}", c.as_str(), c.status(), c.meaning()))
        .collect::<Vec<_>>()
        .join("\n"));
    let paths = spec["paths"].as_object_mut().expect("paths");
    for alias in SUBMIT_ALIASES {
        let mut item = paths[CAPTURE_ROUTES[0]].clone();
        item["post"]["operationId"] = json!(format!(
            "submit_at_{}",
            alias.trim_matches('/').replace('/', "_")
        ));
        paths.insert(alias.to_owned(), item);
    }
    for (path, item) in paths.iter_mut() {
        let capture_route =
            CAPTURE_ROUTES.contains(&path.as_str()) || SUBMIT_ALIASES.contains(&path.as_str());
        for operation in item.as_object_mut().expect("path item").values_mut() {
            if operation.get("security").is_none() || operation.get("responses").is_none() {
                continue;
            }
            operation["responses"]["401"] = error_response(
                "No token, a bad one (unauthorized), or an expired one (token_expired)",
            );
            operation["responses"]["403"] = if capture_route {
                error_response("The page's web origin is not on the token's tenant list (origin_not_allowed), or a capture token set webhook_url (insufficient_scope)")
            } else {
                error_response(
                    "A capture token: this route needs the tenant's own token (insufficient_scope)",
                )
            };
        }
        if capture_route {
            item["options"] = preflight();
        }
    }
    shedding_answers(paths);
    spec
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } })
}

/// An error answer that tells the client when to try again.
fn retry_response(description: &str) -> Value {
    let mut response = error_response(description);
    response["headers"] = json!({ "Retry-After": { "description": "Seconds to wait before retrying",
        "schema": { "type": "integer", "minimum": 1 } } });
    response
}

fn preflight() -> Value {
    json!({
        "summary": "CORS preflight: answered for web origins a tenant allows",
        "parameters": [
            { "name": "Origin", "in": "header", "schema": { "type": "string" } },
            { "name": "Access-Control-Request-Method", "in": "header", "schema": { "type": "string" } } ],
        "responses": {
            "204": { "description": "Allowed: Access-Control-Allow-Origin names the origin (never *, never credentials)" },
            "403": error_response("Origin not allowed by any tenant, or a method other than GET/POST (origin_not_allowed)"),
            "503": error_response("A dependency is down (service_unavailable)") } })
}

/// What load shedding may answer on every API route (README, "Load shedding"), and the
/// rate limits on submissions and token requests.
fn shedding_answers(paths: &mut serde_json::Map<String, Value>) {
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object_mut().expect("path item").iter_mut() {
            let Some(responses) = operation.get_mut("responses") else {
                continue;
            };
            responses["408"] = error_response(
                "The request, its upload included, did not complete in time (request_timeout)",
            );
            responses["500"] = error_response("A fault of the service, logged (internal_error)");
            responses["503"] = retry_response(
                "A dependency is down (service_unavailable) or this instance is at capacity \
                 (overloaded); retry after Retry-After seconds",
            );
            let rate_limited = method == "post"
                && (path == "/api/v3/auth/token"
                    || CAPTURE_ROUTES[0] == path
                    || SUBMIT_ALIASES.contains(&path.as_str()));
            if rate_limited {
                responses["429"] = retry_response(
                    "Over this client's rate (rate_limited); retry after Retry-After seconds",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_route_is_described() {
        let spec = spec();
        let mut found = Vec::new();
        refs(spec, &mut found);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(spec["components"]["schemas"][name].is_object(), "{r}");
        }
        for path in CAPTURE_ROUTES.iter().chain(&SUBMIT_ALIASES) {
            assert!(spec["paths"][path]["options"].is_object(), "{path}");
        }
        for path in SUBMIT_ALIASES {
            assert_eq!(
                spec["paths"][path]["post"]["requestBody"],
                spec["paths"][CAPTURE_ROUTES[0]]["post"]["requestBody"]
            );
        }
        assert!(
            spec["paths"]["/api/v3/biometrics/liveness/{id}"]["get"]["responses"]["403"]
                .is_object()
        );
        let submit = &spec["paths"][CAPTURE_ROUTES[0]]["post"]["responses"];
        let token = &spec["paths"]["/api/v3/auth/token"]["post"]["responses"];
        for status in ["408", "429", "500", "503"] {
            assert!(
                submit[status].is_object() && token[status].is_object(),
                "{status}"
            );
        }
        assert!(submit["429"]["headers"]["Retry-After"].is_object());
        assert!(submit["202"]["headers"]["Location"].is_object());
    }

    /// `(method, path)` of every documented operation but preflights.
    fn documented_routes() -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in spec()["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if method != "options" {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        routes
    }

    fn readme() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
    }

    /// The rows of the README's table that starts with `header`.
    fn table(readme: &str, header: &str) -> Vec<Vec<String>> {
        let start = readme
            .find(header)
            .unwrap_or_else(|| panic!("the README has a table headed {header}"));
        readme[start..]
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                line.trim_matches('|')
                    .split(" | ")
                    .map(|cell| cell.trim().to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_readme_route_table_lists_exactly_the_documented_routes() {
        let readme = readme();
        let mut listed = BTreeSet::new();
        for row in table(&readme, "| method | path | what |") {
            for method in row[0].split(", ") {
                listed.insert((
                    method.trim_matches('`').to_owned(),
                    row[1].trim_matches('`').to_owned(),
                ));
            }
        }
        let documented = documented_routes();
        assert_eq!(
            listed.difference(&documented).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "in the README but not in the OpenAPI document"
        );
        assert_eq!(
            documented.difference(&listed).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "in the OpenAPI document but not in the README"
        );
    }

    #[test]
    fn the_readme_error_table_is_the_documented_codes() {
        let expected: Vec<Vec<String>> = ErrorCode::ALL
            .iter()
            .map(|c| {
                vec![
                    c.status().to_string(),
                    format!("`{}`", c.as_str()),
                    c.meaning().to_owned(),
                ]
            })
            .collect();
        let listed = table(&readme(), "| status | error | when |");
        let as_markdown = |rows: &[Vec<String>]| {
            rows.iter()
                .map(|r| format!("| {} |", r.join(" | ")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            listed == expected,
            "the README's error table should read (from liveness_contract::ErrorCode):\n{}",
            as_markdown(&expected)
        );
        let documented: BTreeSet<&str> = spec()["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let codes: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, codes);
    }
}
