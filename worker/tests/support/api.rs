//! The stack as a client sees it: tenants, tokens, sessions, submissions and lookups over
//! HTTP, and the rows behind them.
#![allow(dead_code)]

use super::*;

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new tenant with a fresh access token.
    pub async fn client(&self, name: &str) -> Client {
        let created = liveness_pipeline::db::tenants::create(&self.db, &unique(name), 0.5)
            .await
            .unwrap();
        let (status, response) = token_at(
            &self.client,
            &self.base,
            &created.tenant.client_id,
            &created.client_secret,
        )
        .await;
        assert_eq!(status, 200, "{response}");
        Client {
            tenant_id: created.tenant.id,
            token: response["access_token"].as_str().unwrap().to_string(),
        }
    }

    pub async fn nonce(&self, client: &Client) -> String {
        let session: Value = self
            .client
            .post(self.url("/api/v3/biometrics/liveness/sessions"))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session["keys"][0]["key_id"], self.key.key_id.as_str());
        session["nonce"].as_str().unwrap().to_string()
    }

    /// A capture session made by the client's back end: nonce, keys and capture token.
    pub async fn capture_session(&self, client: &Client) -> Value {
        let response = self
            .client
            .post(self.url("/api/v3/biometrics/liveness/sessions"))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The client's capture session as a browser holds it: only its capture token.
    pub async fn browser(&self, client: &Client) -> Client {
        let session = self.capture_session(client).await;
        Client {
            tenant_id: client.tenant_id,
            token: session["capture_token"].as_str().unwrap().to_string(),
        }
    }

    /// A packet of a 3-frame burst made from a sample image, sealed to this stack's key.
    pub fn packet(&self, image: &str, nonce: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
        let frames = burst(image);
        (
            seal(&payload(nonce, &frames), &self.key.public()).unwrap(),
            frames,
        )
    }

    pub async fn submit(
        &self,
        client: &Client,
        form: Form,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/api/v3/biometrics/liveness/"))
            .bearer_auth(&client.token)
            .multipart(form);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Submits `n` live captures asynchronously (each with its own nonce); their ids.
    pub async fn submit_live_async(&self, client: &Client, n: usize) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let nonce = self.nonce(client).await;
            let (packet, _) = self.packet("silentface_image_T1.jpg", &nonce);
            let (status, body) = self
                .submit(client, form(packet), &[("prefer", "respond-async")])
                .await;
            assert_eq!(status, 202, "{body}");
            ids.push(body["id"].as_i64().unwrap());
        }
        ids
    }

    pub async fn lookup(&self, client: &Client, id: i64) -> (u16, Value) {
        self.call(client, "GET", &format!("/api/v3/biometrics/liveness/{id}"))
            .await
    }

    /// A bodiless request with the client's token: status and JSON body (null if none).
    pub async fn call(&self, client: &Client, method: &str, path: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&client.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers a webhook endpoint through the API; its id and secret.
    pub async fn add_endpoint(&self, client: &Client, url: &str) -> (i64, String) {
        let response = self
            .client
            .post(self.url("/api/v3/webhooks/endpoints"))
            .bearer_auth(&client.token)
            .json(&serde_json::json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (
            body["id"].as_i64().unwrap(),
            body["secret"].as_str().unwrap().to_string(),
        )
    }

    pub async fn verdict_count(&self, id: i64) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM verdicts WHERE transaction_id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

/// `POST {base}/api/v3/auth/token` with client credentials: status and body.
pub async fn token_at(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    client_secret: &str,
) -> (u16, Value) {
    let response = http
        .post(format!("{base}/api/v3/auth/token"))
        .json(&serde_json::json!({ "client_id": client_id, "client_secret": client_secret }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
