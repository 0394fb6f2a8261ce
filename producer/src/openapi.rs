//! The OpenAPI 3.1 description of the public API, served at /api/v3/openapi.json.

use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn list_of(field: &str, item: &str) -> Value {
    json!({ "type": "object", "required": [field],
            "properties": { field: { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } } } })
}

/// Webhook management and data-subject deletion: every answer can also be 401 (token) or 503.
fn management_paths(bearer: &Value) -> Value {
    let id =
        json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }]);
    let common = |mut responses: Value| {
        responses["401"] = error_response("Missing, invalid or expired token");
        responses["503"] = error_response("A dependency is down");
        responses
    };
    let endpoint = json!({ "$ref": "#/components/schemas/Endpoint" });
    let hosts = json!({ "type": "object", "required": ["hosts"],
                        "properties": { "hosts": { "type": "array", "items": { "type": "string" } } } });
    json!({
        "/api/v3/biometrics/liveness/{id}/selfie": { "get": {
            "summary": "The selfie the server chose (the middle sealed frame, exactly as judged), for face matching",
            "security": bearer, "parameters": id,
            "responses": common(json!({
                "200": { "description": "The frame", "content": { "image/jpeg": { "schema": { "type": "string", "format": "binary" } } } },
                "404": error_response("No such transaction for this client, or no selfie (the packet did not open)"),
                "409": error_response("Still being judged"),
                "410": error_response("Deleted with the capture (retention or on request)") })) } },
        "/api/v3/biometrics/liveness/{id}/capture": { "delete": {
            "summary": "Delete the sealed capture now (data-subject request); the verdict stays",
            "security": bearer, "parameters": id,
            "responses": common(json!({
                "200": ok("Purged", json!({ "type": "object", "required": ["id"], "properties": {
                    "id": { "type": "integer" }, "capture_purged_at": { "type": ["string", "null"], "format": "date-time" } } })),
                "404": error_response("No such transaction for this client"),
                "409": error_response("Still being judged") })) } },
        "/api/v3/webhooks/endpoints": {
            "get": { "summary": "This client's webhook endpoints", "security": bearer,
                     "responses": common(json!({ "200": ok("Endpoints", list_of("endpoints", "Endpoint")) })) },
            "post": { "summary": "Register an endpoint; the answer holds its signing secret, shown once", "security": bearer,
                      "requestBody": { "required": true, "content": { "application/json": { "schema": {
                          "type": "object", "required": ["url"], "properties": { "url": { "type": "string", "format": "uri" } } } } } },
                      "responses": common(json!({ "201": ok("Created", endpoint),
                          "400": error_response("Malformed body"), "409": error_response("Already registered"),
                          "415": error_response("Not JSON"), "422": error_response("URL refused") })) } },
        "/api/v3/webhooks/endpoints/{id}": { "delete": {
            "summary": "Disable an endpoint (its pending messages fail)", "security": bearer, "parameters": id,
            "responses": common(json!({ "204": { "description": "Disabled" }, "404": error_response("No such endpoint") })) } },
        "/api/v3/webhooks/endpoints/{id}/enable": { "post": {
            "summary": "Enable an endpoint again", "security": bearer, "parameters": id,
            "responses": common(json!({ "204": { "description": "Enabled" }, "404": error_response("No such endpoint") })) } },
        "/api/v3/webhooks/endpoints/{id}/rotate": { "post": {
            "summary": "New signing secret; the previous one keeps signing for a grace period", "security": bearer, "parameters": id,
            "responses": common(json!({ "200": ok("New secret", json!({ "type": "object", "required": ["secret"], "properties": {
                "id": { "type": "integer" }, "secret": { "type": "string" },
                "previous_expires_at": { "type": "string", "format": "date-time" } } })),
                "404": error_response("No such endpoint") })) } },
        "/api/v3/webhooks/allowed-hosts": {
            "get": { "summary": "Hosts a per-request webhook_url may name", "security": bearer,
                     "responses": common(json!({ "200": ok("Hosts", hosts.clone()) })) },
            "put": { "summary": "Replace the allowed hosts", "security": bearer,
                     "requestBody": { "required": true, "content": { "application/json": { "schema": hosts.clone() } } },
                     "responses": common(json!({ "200": ok("Hosts", hosts), "400": error_response("Malformed hosts"),
                                                 "415": error_response("Not JSON") })) } },
        "/api/v3/webhooks/messages": { "get": {
            "summary": "Webhook messages, newest first", "security": bearer,
            "parameters": [
                { "name": "transaction_id", "in": "query", "schema": { "type": "integer" } },
                { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } } ],
            "responses": common(json!({ "200": ok("Messages", list_of("messages", "Message")),
                                        "400": error_response("Malformed query") })) } },
        "/api/v3/webhooks/messages/{id}/attempts": { "get": {
            "summary": "Every delivery attempt of a message", "security": bearer, "parameters": id,
            "responses": common(json!({ "200": ok("Attempts", list_of("attempts", "Attempt")),
                                        "404": error_response("No such message") })) } },
        "/api/v3/webhooks/messages/{id}/redeliver": { "post": {
            "summary": "Send a message again (same webhook-id, fresh retry schedule)", "security": bearer, "parameters": id,
            "responses": common(json!({
                "202": ok("Scheduled", json!({ "type": "object", "properties": { "id": { "type": "string" }, "status": { "const": "pending" } } })),
                "404": error_response("No such message"), "409": error_response("Its endpoint is disabled") })) } }
    })
}

/// The routes a capture token may call, from a browser page of an allowed origin.
const CAPTURE_ROUTES: [&str; 2] = [
    "/api/v3/biometrics/liveness/",
    "/api/v3/biometrics/liveness/keys",
];

fn preflight() -> Value {
    json!({
        "summary": "CORS preflight: answered for web origins a tenant allows",
        "parameters": [
            { "name": "Origin", "in": "header", "schema": { "type": "string" } },
            { "name": "Access-Control-Request-Method", "in": "header", "schema": { "type": "string" } } ],
        "responses": {
            "204": { "description": "Allowed: Access-Control-Allow-Origin names the origin (never *, never credentials)" },
            "403": error_response("Origin not allowed by any tenant, or a method other than GET/POST (origin_not_allowed)"),
            "503": error_response("A dependency is down") } })
}

fn capture_paths(bearer: &Value) -> Value {
    let origins = json!({ "type": "object", "required": ["origins"],
        "properties": { "origins": { "type": "array", "maxItems": 32,
            "items": { "type": "string", "description": "scheme://host[:port]; https, or http on loopback" } } } });
    json!({ "/api/v3/biometrics/liveness/allowed-origins": {
        "get": { "summary": "Web origins whose pages may use this tenant's capture tokens (CORS)", "security": bearer,
                 "responses": { "200": ok("Origins", origins.clone()),
                                "401": error_response("Missing, invalid or expired token"),
                                "503": error_response("A dependency is down") } },
        "put": { "summary": "Replace the allowed origins (canonicalised: lower case, default port dropped)", "security": bearer,
                 "requestBody": { "required": true, "content": { "application/json": { "schema": origins.clone() } } },
                 "responses": { "200": ok("Origins", origins),
                                "400": error_response("Malformed body, or an origin that cannot be allowed (invalid_origins)"),
                                "401": error_response("Missing, invalid or expired token"),
                                "415": error_response("Not JSON"),
                                "503": error_response("A dependency is down") } } } })
}

pub fn spec() -> Value {
    let bearer = json!([{ "bearer": [] }]);
    let mut spec = core_spec(&bearer);
    for more in [management_paths(&bearer), capture_paths(&bearer)] {
        if let (Some(paths), Value::Object(more)) = (spec["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    // Every tenant route refuses a capture token; the capture routes answer preflights.
    let paths = spec["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        let capture_route = CAPTURE_ROUTES.contains(&path.as_str());
        for operation in item.as_object_mut().expect("path item").values_mut() {
            if operation.get("security").is_none() {
                continue;
            }
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

/// What load shedding may answer on every API route (README, "Load shedding"), and the
/// rate limits on submissions and token requests.
fn shedding_answers(paths: &mut serde_json::Map<String, Value>) {
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/") {
            continue;
        }
        for (method, operation) in item.as_object_mut().expect("path item").iter_mut() {
            let responses = &mut operation["responses"];
            responses["408"] = error_response(
                "The request, its upload included, did not complete in time (request_timeout)",
            );
            responses["503"] = error_response(
                "A dependency is down (service_unavailable) or this instance is at capacity \
                 (overloaded); retry after Retry-After seconds",
            );
            let rate_limited = method == "post"
                && (path == "/api/v3/auth/token"
                    || CAPTURE_ROUTES[0] == path
                    || path == "/api/v3/biometrics/nationals/");
            if rate_limited {
                responses["429"] = error_response(
                    "Over this client's rate (rate_limited); retry after Retry-After seconds",
                );
            }
        }
    }
}

fn core_spec(bearer: &Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Liveness", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Self-hosted face liveness with the Liveness Plus wire contract." },
        "paths": {
            "/api/v3/auth/token": { "post": {
                "summary": "Exchange client credentials for a short-lived access token",
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Credentials" } },
                    "application/x-www-form-urlencoded": { "schema": { "$ref": "#/components/schemas/Credentials" } } } },
                "responses": {
                    "200": { "description": "Token", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Token" } } } },
                    "400": error_response("Malformed body"),
                    "401": error_response("Unknown client or wrong secret"),
                    "503": error_response("A dependency is down") } } },
            "/api/v3/biometrics/liveness/sessions": { "post": {
                "summary": "Start a capture session (tenant token): a single-use nonce, the keys to seal to (first: the one to use) and a capture token for the browser",
                "security": bearer,
                "responses": {
                    "200": { "description": "Session", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Session" } } } },
                    "401": error_response("Missing, invalid or expired token"),
                    "503": error_response("A dependency is down") } } },
            "/api/v3/biometrics/liveness/keys": { "get": {
                "summary": "The capture public keys to seal to, the one to use first (newest activation); with a capture token also its session's nonce",
                "security": bearer,
                "responses": {
                    "200": { "description": "Keys", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["keys"],
                        "properties": { "keys": { "type": "array", "items": { "$ref": "#/components/schemas/PublicKey" } },
                            "nonce": { "type": "string", "description": "Capture token only: its session's nonce" },
                            "expires_at": { "type": "string", "format": "date-time", "description": "Capture token only" } } } } } },
                    "401": error_response("Missing, invalid or expired token"),
                    "503": error_response("A dependency is down") } } },
            "/api/v3/biometrics/liveness/": { "post": {
                "summary": "Submit a capture; waits for the verdict unless asked to respond asynchronously. With a capture token: once per session, and the verdict shows outcomes (scores 1/0) and the kind of problem only",
                "security": bearer,
                "parameters": [
                    { "name": "Prefer", "in": "header", "schema": { "type": "string", "examples": ["respond-async"] } },
                    { "name": "Idempotency-Key", "in": "header", "schema": { "type": "string", "minLength": 1, "maxLength": 255 } } ],
                "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": { "$ref": "#/components/schemas/Submission" } } } },
                "responses": {
                    "200": { "description": "Verdict", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Verdict" } } } },
                    "202": { "description": "Accepted; look the id up later", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } },
                    "400": error_response("Missing or empty encrypted_file, a malformed field, a file that is not a capture packet (invalid_packet) or one sealed to a key this service never issued (unknown_key); nothing was stored"),
                    "401": error_response("Missing, invalid or expired token"),
                    "413": error_response("Body too large"),
                    "409": error_response("This capture token already submitted its capture (capture_already_submitted); nothing was stored"),
                    "415": error_response("Not multipart/form-data"),
                    "422": error_response("Idempotency-Key reused for another request, or webhook_url refused"),
                    "503": error_response("A dependency is down; nothing was stored") } } },
            "/api/v3/biometrics/liveness/{id}": { "get": {
                "summary": "Status and verdict of a transaction",
                "security": bearer,
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": {
                    "200": { "description": "Transaction", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Lookup" } } } },
                    "401": error_response("Missing, invalid or expired token"),
                    "404": error_response("No such transaction for this client"),
                    "503": error_response("A dependency is down") } } },
            "/healthz": { "get": { "summary": "Process is up", "responses": { "200": { "description": "OK",
                "content": { "application/json": { "schema": { "type": "object" } } } } } } },
            "/readyz": { "get": { "summary": "Dependencies reachable", "responses": {
                "200": { "description": "Ready", "content": { "application/json": { "schema": { "type": "object" } } } },
                "503": { "description": "Not ready", "content": { "application/json": { "schema": { "type": "object" } } } } } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A tenant token (POST /api/v3/auth/token: every route) or a capture token (from a session: the keys and one submission)" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "message"],
                    "properties": { "error": { "type": "string" }, "message": { "type": "string" } } },
                "Credentials": { "type": "object", "required": ["client_id", "client_secret"],
                    "properties": { "client_id": { "type": "string" }, "client_secret": { "type": "string" } } },
                "Token": { "type": "object", "required": ["access_token", "token_type", "expires_in"],
                    "properties": { "access_token": { "type": "string" }, "token_type": { "const": "Bearer" }, "expires_in": { "type": "integer" } } },
                "PublicKey": { "type": "object", "required": ["key_id", "public_key"],
                    "properties": { "key_id": { "type": "string" }, "public_key": { "type": "string", "description": "X25519, base64url" }, "suite": { "type": "string" } } },
                "Session": { "type": "object", "required": ["nonce", "expires_at", "keys", "capture_token", "capture_token_expires_in"],
                    "properties": { "nonce": { "type": "string" }, "expires_at": { "type": "string", "format": "date-time" },
                        "keys": { "type": "array", "items": { "$ref": "#/components/schemas/PublicKey" } },
                        "capture_token": { "type": "string", "description": "For the browser: reads the keys and submits this session's one capture, nothing else; expires with the session" },
                        "capture_token_expires_in": { "type": "integer", "description": "seconds" } } },
                "Submission": { "type": "object", "required": ["encrypted_file"], "properties": {
                    "encrypted_file": { "type": "string", "format": "binary", "description": "Capture packet (docs/capture-packet.md)" },
                    "selfie": { "type": "string", "format": "binary",
                        "description": "Optional, for compatibility: must be byte for byte the packet's middle frame (index floor(n/2)); not stored" },
                    "details": { "type": "boolean" }, "return_id": { "type": "boolean" }, "async": { "type": "boolean" },
                    "citizen_id": { "type": "string", "maxLength": 256 }, "device": { "type": "string", "maxLength": 256 },
                    "webhook_url": { "type": "string", "format": "uri", "maxLength": 2048,
                        "description": "Send this transaction's events here instead (host must be allowed)" } } },
                "ApiResponse": { "type": "object", "properties": {
                    "face_liveness": { "type": "object", "properties": { "probability": { "type": "number", "minimum": 0, "maximum": 1 } } },
                    "capture_liveness": { "type": "object", "properties": { "score": { "type": "number" }, "probability": { "type": "number", "minimum": 0, "maximum": 1 } } } } },
                "Verdict": { "type": "object", "required": ["valid"], "properties": {
                    "valid": { "type": "boolean" },
                    "api_response": { "$ref": "#/components/schemas/ApiResponse" },
                    "error_code": { "type": "integer", "minimum": 700, "maximum": 715 },
                    "message": { "type": "string" },
                    "error_details": { "type": "object", "description": "Tenant token: the reason (for a capture attack, capture_signal names the failed check). Capture token: only problem (face_quality, attack, service) and advice for the user",
                        "properties": { "problem": { "type": "string", "enum": ["face_quality", "attack", "service"] }, "advice": { "type": "string" } } },
                    "id": { "type": "integer" } } },
                "Accepted": { "type": "object", "required": ["id", "status"], "properties": {
                    "id": { "type": "integer" }, "status": { "type": "string", "enum": ["queued", "processing", "done", "failed"] } } },
                "Lookup": { "allOf": [ { "$ref": "#/components/schemas/Accepted" }, { "type": "object", "properties": {
                    "valid": { "type": "boolean" }, "api_response": { "$ref": "#/components/schemas/ApiResponse" },
                    "error_code": { "type": "integer" }, "message": { "type": "string" }, "error_details": { "type": "object" },
                    "created_at": { "type": "string", "format": "date-time" },
                    "capture_purged_at": { "type": "string", "format": "date-time" }, "note": { "type": "string" } } } ] },
                "Endpoint": { "type": "object", "required": ["id", "url", "created_at"], "properties": {
                    "id": { "type": "integer" }, "url": { "type": "string" }, "created_at": { "type": "string", "format": "date-time" },
                    "disabled_at": { "type": ["string", "null"], "format": "date-time" }, "disabled_reason": { "type": ["string", "null"] },
                    "previous_expires_at": { "type": ["string", "null"], "format": "date-time" },
                    "secret": { "type": "string", "description": "whsec_...; only in the answer that creates the endpoint" } } },
                "Message": { "type": "object", "required": ["id", "transaction_id", "status", "attempts"], "properties": {
                    "id": { "type": "string", "description": "The webhook-id header" }, "transaction_id": { "type": "integer" },
                    "endpoint_id": { "type": "integer" }, "url": { "type": "string" }, "event_type": { "type": "string" },
                    "status": { "type": "string", "enum": ["pending", "delivered", "failed"] }, "attempts": { "type": "integer" },
                    "created_at": { "type": "string", "format": "date-time" }, "next_attempt_at": { "type": "string", "format": "date-time" },
                    "delivered_at": { "type": ["string", "null"], "format": "date-time" }, "last_error": { "type": ["string", "null"] } } },
                "Attempt": { "type": "object", "required": ["attempted_at", "outcome"], "properties": {
                    "attempted_at": { "type": "string", "format": "date-time" }, "url": { "type": "string" },
                    "status_code": { "type": ["integer", "null"] }, "latency_ms": { "type": "number" },
                    "error": { "type": ["string", "null"] },
                    "outcome": { "type": "string", "enum": ["delivered", "retry", "failed", "endpoint_disabled"] } } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_reference_resolves_and_management_routes_are_described() {
        let spec = spec();
        let mut found = Vec::new();
        refs(&spec, &mut found);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(spec["components"]["schemas"][name].is_object(), "{r}");
        }
        for path in [
            "/api/v3/biometrics/liveness/{id}/capture",
            "/api/v3/biometrics/liveness/{id}/selfie",
            "/api/v3/webhooks/endpoints",
            "/api/v3/webhooks/messages/{id}/redeliver",
            "/api/v3/biometrics/liveness/allowed-origins",
        ] {
            assert!(spec["paths"][path].is_object(), "{path}");
        }
        assert!(spec["paths"]["/api/v3/biometrics/liveness/"]["options"].is_object());
        assert!(
            spec["paths"]["/api/v3/biometrics/liveness/{id}"]["get"]["responses"]["403"]
                .is_object()
        );
        let submit = &spec["paths"]["/api/v3/biometrics/liveness/"]["post"]["responses"];
        let token = &spec["paths"]["/api/v3/auth/token"]["post"]["responses"];
        for status in ["408", "429", "503"] {
            assert!(
                submit[status].is_object() && token[status].is_object(),
                "{status}"
            );
        }
    }
}
