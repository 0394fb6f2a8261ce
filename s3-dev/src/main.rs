//! The S3-compatible server of the local stack (`scripts/stack`): the s3s-fs implementation
//! over a folder, with SigV4 authentication, served with TCP_NODELAY; deletions also remove
//! the per-object files s3s-fs leaves behind (`store.rs`).
//!
//! Why not the `s3s-fs` binary itself: it leaves Nagle's algorithm on. On a kept-alive
//! connection the tail of every GET response then waits for the client's delayed ACK, and
//! each fetch of a 240 KiB capture took 38-44 ms instead of 2 (`bench storage`; curl shows
//! the same). Production servers (MinIO, AWS) disable Nagle; so does this one.

mod store;

use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::path::PathBuf;
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[arg(long, env = "S3_DEV_LISTEN", default_value = "127.0.0.1:8014")]
    listen: String,
    #[arg(long, env = "S3_ACCESS_KEY", default_value = "liveness")]
    access_key: String,
    #[arg(long, env = "S3_SECRET_KEY", default_value = "liveness-secret")]
    secret_key: String,
    /// Folder holding the buckets (created if missing).
    root: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    std::fs::create_dir_all(&args.root)?;
    let mut builder = S3ServiceBuilder::new(store::DevStore::new(args.root.clone())?);
    builder.set_auth(SimpleAuth::from_single(args.access_key, args.secret_key));
    let service = builder.build();

    let listener = TcpListener::bind(&args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, root = %args.root.display(), "serving S3");
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.as_mut() => break,
        };
        socket.set_nodelay(true)?;
        let connection = http.serve_connection(TokioIo::new(socket), service.clone());
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
    }
    Ok(())
}
