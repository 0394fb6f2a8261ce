//! The process's Prometheus recorder, shared by the producer and the worker.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// One recorder per process (the `metrics` facade is global); services built in the same
/// process, as in tests, share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .expect("static buckets are valid")
                .install_recorder()
                .expect("the first recorder installs")
        })
        .clone()
}
