//! Object storage: what signing each body's SHA-256, and the SDK's per-request CRCs, cost the
//! S3 client (producer and worker) and the S3 server: PUTs and GETs of the same sealed
//! capture in each mode, interleaved in one run.

use crate::pipeline::procstat::{self, Snapshot};
use crate::table::{ms, ratio, Table};
use anyhow::Context;
use liveness_capture::{seal, KeyId, PrivateKey};
use liveness_pipeline::config::{Checksums, StorageConfig};
use liveness_pipeline::storage::Storage;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// PUTs (then GETs of the same keys) per mode, in rounds of 25 alternating between modes.
    #[arg(long, default_value_t = 400)]
    puts: usize,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// S3 servers to compare, each as PROCESS_NAME@ENDPOINT (the name counts its CPU), e.g.
    /// liveness-s3-dev@http://127.0.0.1:8014,s3s-fs@http://127.0.0.1:8015.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "liveness-s3-dev@http://127.0.0.1:8014"
    )]
    servers: Vec<String>,
}

#[derive(Default, Clone, Copy)]
struct Cost {
    client_ticks: u64,
    server_ticks: u64,
    wall_secs: f64,
    requests: usize,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let t1 = std::fs::read(args.models.join("silentface_image_T1.jpg"))
        .context("run scripts/fetch-models")?;
    let rgb = liveness_models::decode::decode_rgb(&t1)?;
    let burst = liveness_capture::simulate::noisy_burst(&rgb, 3, 1);
    let payload = liveness_capture::simulate::burst_payload("bench-nonce", &burst, "bench", 0)?;
    let packet = seal(
        &payload,
        &PrivateKey::generate(KeyId::parse("bench")?).public(),
    )?;

    let base = StorageConfig::from_env()?;
    let bucket = format!("bench-storage-{}", std::process::id());
    let modes = [
        ("signed payload, CRC", true, Checksums::WhenSupported),
        ("UNSIGNED-PAYLOAD, CRC", false, Checksums::WhenSupported),
        ("UNSIGNED-PAYLOAD, no CRC", false, Checksums::WhenRequired),
    ];
    // One client per server and mode, each with its own connections, all kept alive.
    let mut setups = Vec::new();
    for server in &args.servers {
        let (process, endpoint) = server
            .split_once('@')
            .context("--servers takes PROCESS_NAME@ENDPOINT")?;
        let pids = procstat::pids_named(process);
        anyhow::ensure!(!pids.is_empty(), "no process named {process} runs");
        for (mode, sign_payload, checksums) in modes {
            let storage = Storage::new(&StorageConfig {
                endpoint: endpoint.to_string(),
                bucket: bucket.clone(),
                sign_payload,
                checksums,
                ..base.clone()
            });
            storage.ensure_bucket().await?;
            setups.push((format!("{process}: {mode}"), storage, pids.clone()));
        }
    }
    let me = [std::process::id()];
    // [setup][put, get]
    let mut costs = vec![[Cost::default(); 2]; setups.len()];
    let round = 25;
    for r in 0..args.puts.div_ceil(round) {
        for (m, (_, s, server)) in setups.iter().enumerate() {
            let keys: Vec<String> = (0..round).map(|i| format!("m{m}/r{r}/{i}")).collect();
            for (op, cost) in costs[m].iter_mut().enumerate() {
                let (client0, server0, t0) =
                    (Snapshot::of(&me), Snapshot::of(server), Instant::now());
                for key in &keys {
                    if op == 0 {
                        s.put(key, packet.clone()).await?;
                    } else {
                        let body = s.get(key).await?;
                        anyhow::ensure!(body == packet, "GET returned another body");
                    }
                }
                cost.wall_secs += t0.elapsed().as_secs_f64();
                cost.client_ticks += Snapshot::of(&me).since(&client0);
                cost.server_ticks += Snapshot::of(server).since(&server0);
                cost.requests += round;
            }
            for key in &keys {
                s.delete(key).await?;
            }
        }
    }

    for (_, storage, _) in setups.iter() {
        storage.remove_bucket().await?;
    }

    let tick_ms = 1e3 / procstat::ticks_per_second();
    let per_request = |c: &Cost| {
        [
            c.client_ticks as f64 * tick_ms / c.requests as f64,
            c.server_ticks as f64 * tick_ms / c.requests as f64,
            c.wall_secs * 1e3 / c.requests as f64,
        ]
    };
    let mut table = Table::new(&[
        &format!("{} KiB sealed capture, ms per request", packet.len() / 1024),
        "PUT client CPU",
        "PUT server CPU",
        "PUT wall",
        "GET client CPU",
        "GET server CPU",
        "GET wall",
        "GET wall / first row",
    ]);
    let first_get_wall = per_request(&costs[0][1])[2];
    for ((name, _, _), cost) in setups.iter().zip(&costs) {
        let (put, get) = (per_request(&cost[0]), per_request(&cost[1]));
        let mut cells = vec![name.clone()];
        cells.extend(put.iter().chain(&get).map(|v| ms(*v)));
        cells.push(ratio(get[2], first_get_wall));
        table.row(cells);
    }
    print!(
        "\n### Object storage ({} PUTs and GETs per row, interleaved in rounds of {round}, kept-alive connections)\n\n{}",
        costs[0][0].requests,
        table.markdown()
    );
    Ok(())
}
