//! `herald-sandbox`: serves the social-network stand-in until SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use clap::Parser;
use herald_sandbox::Sandbox;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "herald-sandbox",
    about = "Local stand-in for the social networks Herald publishes to"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "HERALD_SANDBOX_ADDR", default_value = "127.0.0.1:8700")]
    addr: SocketAddr,
    /// Worker threads.
    #[arg(long, env = "HERALD_SANDBOX_WORKERS", default_value_t = 2)]
    workers: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Colour codes only help a person at a terminal; they garble collected log files.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let args = Args::parse();
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("binding {}", args.addr))?;
    let sandbox = Sandbox::new().workers(args.workers).start(listener).await?;
    tracing::info!(sandbox.base_url = sandbox.base_url(), "sandbox listening");
    shutdown_signal().await?;
    tracing::info!("sandbox stopping");
    sandbox.stop().await.context("stopping the sandbox")?;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
