//! Object storage: what signing each body's SHA-256 costs the producer (the S3 client) and
//! the S3 server, signed and unsigned PUTs of the same sealed capture interleaved in one run.

use crate::pipeline::procstat::{self, Snapshot};
use crate::table::{ms, ratio, Table};
use anyhow::Context;
use liveness_capture::{seal, KeyId, PrivateKey};
use liveness_pipeline::config::StorageConfig;
use liveness_pipeline::storage::Storage;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// PUTs per mode, in rounds of 25 alternating between the modes.
    #[arg(long, default_value_t = 400)]
    puts: usize,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    #[arg(long, default_value = "http://127.0.0.1:8014")]
    s3: String,
}

#[derive(Default, Clone, Copy)]
struct Cost {
    client_ticks: u64,
    server_ticks: u64,
    wall_secs: f64,
    puts: usize,
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
    let storage = |sign_payload| {
        Storage::new(&StorageConfig {
            endpoint: args.s3.clone(),
            bucket: format!("bench-storage-{}", std::process::id()),
            sign_payload,
            ..base.clone()
        })
    };
    let modes = [
        ("signed payload", storage(true)),
        ("UNSIGNED-PAYLOAD", storage(false)),
    ];
    modes[0].1.ensure_bucket().await?;
    let server = procstat::pids_named("s3s-fs");
    let me = [std::process::id()];
    let mut costs = [Cost::default(); 2];
    let round = 25;
    let mut keys = Vec::new();
    for r in 0..args.puts.div_ceil(round) {
        for (m, (_, s)) in modes.iter().enumerate() {
            let (client0, server0, t0) = (Snapshot::of(&me), Snapshot::of(&server), Instant::now());
            for i in 0..round {
                let key = format!("m{m}/r{r}/{i}");
                s.put(&key, packet.clone()).await?;
                keys.push(key);
            }
            let c = &mut costs[m];
            c.wall_secs += t0.elapsed().as_secs_f64();
            c.client_ticks += Snapshot::of(&me).since(&client0);
            c.server_ticks += Snapshot::of(&server).since(&server0);
            c.puts += round;
        }
    }
    for key in &keys {
        let _ = modes[0].1.delete(key).await;
    }

    let tick_ms = 1e3 / procstat::ticks_per_second();
    let per_put = |c: &Cost| {
        [
            c.client_ticks as f64 * tick_ms / c.puts as f64,
            c.server_ticks as f64 * tick_ms / c.puts as f64,
            c.wall_secs * 1e3 / c.puts as f64,
        ]
    };
    let (signed, unsigned) = (per_put(&costs[0]), per_put(&costs[1]));
    let mut table = Table::new(&[
        &format!("PUT of a {} KiB sealed capture", packet.len() / 1024),
        "signed payload",
        "UNSIGNED-PAYLOAD",
        "unsigned / signed",
    ]);
    for (i, what) in [
        "client CPU ms per PUT",
        "S3 server CPU ms per PUT",
        "wall ms per PUT",
    ]
    .iter()
    .enumerate()
    {
        table.row(vec![
            what.to_string(),
            ms(signed[i]),
            ms(unsigned[i]),
            ratio(unsigned[i], signed[i]),
        ]);
    }
    print!(
        "\n### Object storage ({} PUTs per mode)\n\n{}",
        costs[0].puts,
        table.markdown()
    );
    Ok(())
}
