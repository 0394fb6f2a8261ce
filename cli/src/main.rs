//! `liveness`: command-line entry to the engine (and, later, the capture and operations tools).

mod analyze;
mod capture;
mod database;
mod evaluate;
mod jobs;
mod keys;
mod purge;
mod report;
mod tenant;
mod webhook;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "liveness",
    version,
    about = "Self-hosted face liveness: command-line tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse images: one JSON verdict per line, in input order.
    Analyze(analyze::Args),
    /// Generate a server key pair for capture packets.
    Keygen(capture::KeygenArgs),
    /// Stop offering a capture key: it keeps opening packets for the grace period.
    KeyRetire(capture::RetireArgs),
    /// Make a burst of JPEG frames from one photo, with simulated sensor noise (demos, tests).
    Burst(capture::BurstArgs),
    /// Seal JPEG frames into a capture packet for a server public key.
    Seal(capture::SealArgs),
    /// Manage tenants (API clients) in the database at DATABASE_URL.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Measure detection on labelled folders (bona fide, attacks by type): ISO/IEC 30107-3
    /// APCER, BPCER, ACER, EER per model set, full-pipeline outcomes, a DET curve.
    Evaluate(evaluate::Args),
    /// Open a capture packet and print its capture-liveness assessment.
    Assess(capture::AssessArgs),
    /// Report on verdicts (fraud attempts, outcomes, attack rate, capture signals, latency)
    /// from the database at DATABASE_URL; optionally chart attack rate and volume per day.
    Report(report::Args),
    /// Manage a tenant's webhook endpoints and deliveries in the database at DATABASE_URL.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Dead letters and stuck transactions: list them, or send them through the pipeline again.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Delete captures past retention (for cron), or one transaction's capture on request.
    Purge(purge::Args),
    /// The service's own keys: generate an entry, re-encrypt after a rotation.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Keygen(args) => capture::keygen(args).map(|()| ExitCode::SUCCESS),
        Command::KeyRetire(args) => capture::retire(args).map(|()| ExitCode::SUCCESS),
        Command::Burst(args) => capture::burst(args).map(|()| ExitCode::SUCCESS),
        Command::Seal(args) => capture::seal(args).map(|()| ExitCode::SUCCESS),
        Command::Tenant(command) => tenant::run(command).map(|()| ExitCode::SUCCESS),
        Command::Assess(args) => capture::assess_packet(args).map(|()| ExitCode::SUCCESS),
        Command::Evaluate(args) => evaluate::run(args).map(|()| ExitCode::SUCCESS),
        Command::Report(args) => report::run(args).map(|()| ExitCode::SUCCESS),
        Command::Webhook(command) => webhook::run(command).map(|()| ExitCode::SUCCESS),
        Command::Jobs(command) => jobs::run(command).map(|()| ExitCode::SUCCESS),
        Command::Purge(args) => purge::run(args).map(|()| ExitCode::SUCCESS),
        Command::Keys(command) => keys::run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("liveness: {e:#}");
            ExitCode::from(2)
        }
    }
}
