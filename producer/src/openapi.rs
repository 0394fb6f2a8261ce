//! The OpenAPI 3.1 description of the public API, served at /api/v3/openapi.json.

use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

pub fn spec() -> Value {
    let bearer = json!([{ "bearer": [] }]);
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
                "summary": "Start a capture session: a single-use nonce and the server's public keys",
                "security": bearer,
                "responses": {
                    "200": { "description": "Session", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Session" } } } },
                    "401": error_response("Missing, invalid or expired token"),
                    "503": error_response("A dependency is down") } } },
            "/api/v3/biometrics/liveness/keys": { "get": {
                "summary": "The server's current capture public keys",
                "security": bearer,
                "responses": {
                    "200": { "description": "Keys", "content": { "application/json": { "schema": {
                        "type": "object", "required": ["keys"],
                        "properties": { "keys": { "type": "array", "items": { "$ref": "#/components/schemas/PublicKey" } } } } } } },
                    "401": error_response("Missing, invalid or expired token") } } },
            "/api/v3/biometrics/liveness/": { "post": {
                "summary": "Submit a capture; waits for the verdict unless asked to respond asynchronously",
                "security": bearer,
                "parameters": [
                    { "name": "Prefer", "in": "header", "schema": { "type": "string", "examples": ["respond-async"] } },
                    { "name": "Idempotency-Key", "in": "header", "schema": { "type": "string", "minLength": 1, "maxLength": 255 } } ],
                "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": { "$ref": "#/components/schemas/Submission" } } } },
                "responses": {
                    "200": { "description": "Verdict", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Verdict" } } } },
                    "202": { "description": "Accepted; look the id up later", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Accepted" } } } },
                    "400": error_response("Missing or empty encrypted_file, or a malformed field"),
                    "401": error_response("Missing, invalid or expired token"),
                    "413": error_response("Body too large"),
                    "415": error_response("Not multipart/form-data"),
                    "422": error_response("Idempotency-Key reused for another request"),
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
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "message"],
                    "properties": { "error": { "type": "string" }, "message": { "type": "string" } } },
                "Credentials": { "type": "object", "required": ["client_id", "client_secret"],
                    "properties": { "client_id": { "type": "string" }, "client_secret": { "type": "string" } } },
                "Token": { "type": "object", "required": ["access_token", "token_type", "expires_in"],
                    "properties": { "access_token": { "type": "string" }, "token_type": { "const": "Bearer" }, "expires_in": { "type": "integer" } } },
                "PublicKey": { "type": "object", "required": ["key_id", "public_key"],
                    "properties": { "key_id": { "type": "string" }, "public_key": { "type": "string", "description": "X25519, base64url" }, "suite": { "type": "string" } } },
                "Session": { "type": "object", "required": ["nonce", "expires_at", "keys"],
                    "properties": { "nonce": { "type": "string" }, "expires_at": { "type": "string", "format": "date-time" },
                        "keys": { "type": "array", "items": { "$ref": "#/components/schemas/PublicKey" } } } },
                "Submission": { "type": "object", "required": ["encrypted_file"], "properties": {
                    "encrypted_file": { "type": "string", "format": "binary", "description": "Capture packet (docs/capture-packet.md)" },
                    "selfie": { "type": "string", "format": "binary" },
                    "details": { "type": "boolean" }, "return_id": { "type": "boolean" }, "async": { "type": "boolean" },
                    "citizen_id": { "type": "string", "maxLength": 256 }, "device": { "type": "string", "maxLength": 256 } } },
                "ApiResponse": { "type": "object", "properties": {
                    "face_liveness": { "type": "object", "properties": { "probability": { "type": "number", "minimum": 0, "maximum": 1 } } },
                    "capture_liveness": { "type": "object", "properties": { "score": { "type": "number" }, "probability": { "type": "number", "minimum": 0, "maximum": 1 } } } } },
                "Verdict": { "type": "object", "required": ["valid"], "properties": {
                    "valid": { "type": "boolean" },
                    "api_response": { "$ref": "#/components/schemas/ApiResponse" },
                    "error_code": { "type": "integer", "minimum": 700, "maximum": 715 },
                    "message": { "type": "string" },
                    "error_details": { "type": "object" },
                    "id": { "type": "integer" } } },
                "Accepted": { "type": "object", "required": ["id", "status"], "properties": {
                    "id": { "type": "integer" }, "status": { "type": "string", "enum": ["queued", "processing", "done", "failed"] } } },
                "Lookup": { "allOf": [ { "$ref": "#/components/schemas/Accepted" }, { "type": "object", "properties": {
                    "valid": { "type": "boolean" }, "api_response": { "$ref": "#/components/schemas/ApiResponse" },
                    "error_code": { "type": "integer" }, "message": { "type": "string" }, "error_details": { "type": "object" },
                    "created_at": { "type": "string", "format": "date-time" } } } ] }
            }
        }
    })
}
