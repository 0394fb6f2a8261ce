//! The producer: the HTTP face of the service (Liveness Plus wire contract).

pub mod auth;
mod bounded;
pub mod config;
mod cors;
pub mod error;
pub mod form;
pub mod jwt_keys;
mod metrics_layer;
mod openapi;
mod revocation;
mod routes;
mod serve;
mod shedding;
mod waiter;

pub use config::ProducerConfig;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use liveness_pipeline::queue::Publisher;
use liveness_pipeline::storage::Storage;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ProducerConfig>,
    pub db: PgPool,
    pub storage: Storage,
    publisher: Arc<Mutex<Option<Arc<Publisher>>>>,
    waiters: waiter::Waiters,
    pub disabled_tenants: revocation::DisabledTenants,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    shedding: Arc<shedding::Shedding>,
    /// What an unknown client id's secret is verified against: a hash of a random secret
    /// made at start-up, with the parameters of every stored one.
    unknown_client_hash: Arc<str>,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    header_read_timeout: std::time::Duration,
}

impl Application {
    /// Migrates the database (which must be reachable now), binds the port. The broker and
    /// object storage are connected lazily: the service starts while they are down and
    /// answers 503 until they are back; so does a database that goes away later.
    pub async fn build(config: ProducerConfig) -> anyhow::Result<Self> {
        let db = liveness_pipeline::db::connect(&config.database).await?;
        liveness_pipeline::db::migrate(&db).await?;
        liveness_webhooks::secrets::seal_plaintext_rows(&db, &config.webhook_keys).await?;
        let storage = Storage::new(&config.storage);
        if let Err(e) = storage.ensure_bucket().await {
            tracing::warn!(error = %e, "bucket not ready yet");
        }
        let waiters = waiter::Waiters::default();
        tokio::spawn(waiters.clone().listen(db.clone()));
        let disabled_tenants = revocation::DisabledTenants::default();
        tokio::spawn(disabled_tenants.clone().follow(db.clone()));
        let listener = TcpListener::bind(&config.listen_addr).await?;
        let max_body = config.max_body_bytes;
        let web_dir = config.web_dir.clone();
        let header_read_timeout = config.shedding.header_read_timeout;
        let unknown_client_hash = tokio::task::spawn_blocking(|| {
            let random = uuid::Uuid::new_v4().to_string();
            liveness_pipeline::db::tenants::hash_secret(&random)
        })
        .await?
        .into();
        let state = AppState {
            shedding: shedding::Shedding::new(&config.shedding),
            unknown_client_hash,
            config: Arc::new(config),
            db,
            storage,
            publisher: Arc::new(Mutex::new(None)),
            waiters,
            disabled_tenants,
            metrics: metrics_layer::handle(),
        };
        let routes::Api {
            capture,
            tenant,
            operations,
        } = routes::api();
        let capture_routes: Router<AppState> = Router::from(capture)
            // Inside the CORS check (the layer added last runs first), so a page can read a 429.
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                shedding::limit_submissions,
            ))
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                cors::actual,
            ));
        let api = Router::new()
            .merge(capture_routes)
            .merge(Router::from(tenant))
            .route(
                "/demo",
                get(|| async { axum::response::Redirect::permanent("/demo/") }),
            )
            .nest_service("/demo/", tower_http::services::ServeDir::new(&web_dir))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                shedding::limit_in_flight,
            ));
        // Health, readiness and metrics stay answerable when the API is at its limit.
        let router = Router::new()
            .merge(api)
            .merge(Router::from(operations))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                shedding::limit_duration,
            ))
            .layer(DefaultBodyLimit::max(max_body))
            .layer(axum::middleware::from_fn(metrics_layer::record))
            .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(),
                    tenant_id = tracing::field::Empty, transaction_id = tracing::field::Empty)
            }))
            .with_state(state);
        Ok(Self {
            listener,
            router,
            header_read_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("bound socket has an address")
            .port()
    }

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve::serve(
            self.listener,
            self.router,
            self.header_read_timeout,
            shutdown,
        )
        .await
    }
}
