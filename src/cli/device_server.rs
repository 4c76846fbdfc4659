//! `argen device-server`: host this machine's devices (`--device`/`--devices`, the CPU by
//! default) for other machines, through burn's remote backend over WebSocket. A client uses
//! them with `--device remote:ws://HOST:PORT`.
//!
//! The token is read from the environment variable `ARGEN_REMOTE_TOKEN` on both sides, never
//! from the command line. Without a token the server listens on loopback only.

use std::net::SocketAddr;

use anyhow::Result;
use clap::Args;

use crate::cli::args::DeviceArgs;

/// Options of `argen device-server`.
#[derive(Args, Debug)]
pub struct DeviceServerArgs {
    /// Address to listen on. The default, loopback, serves this machine only; any other address
    /// needs a token in ARGEN_REMOTE_TOKEN. Port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The devices served (`--device` for one, `--devices` for several).
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// Whether a server on `addr` may run without a token: only on loopback.
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
pub fn needs_token(addr: &SocketAddr) -> bool {
    !addr.ip().is_loopback()
}

/// Runs `argen device-server`.
#[cfg(feature = "remote")]
pub fn run(args: DeviceServerArgs) -> Result<()> {
    use std::io::Write;

    use anyhow::{Context, bail};
    use burn::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};

    use argen::device::TOKEN_VARIABLE;

    let token = std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty());
    if token.is_none() && needs_token(&args.listen) {
        bail!(
            "refusing to serve on {} without a token: set {TOKEN_VARIABLE} (clients set the same), \
             or listen on loopback (127.0.0.1)",
            args.listen
        );
    }
    let devices = args.devices.connect("device-server", true)?;
    let listener = std::net::TcpListener::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut server = RemoteServer::new(devices.devices.clone());
    match &token {
        Some(token) => {
            let authorizer = TokenAuthorizer::new(token.clone())
                .map_err(|_| anyhow::anyhow!("{TOKEN_VARIABLE} is empty"))?;
            server = server.with_authorizer(authorizer);
        }
        None => eprintln!(
            "warning: no {TOKEN_VARIABLE} set; any process on this machine may use these devices"
        ),
    }
    println!(
        "serving {devices} on ws://{addr} ({}); stop with Ctrl+C",
        if token.is_some() {
            "token required"
        } else {
            "no token"
        }
    );
    std::io::stdout().flush()?;
    server
        .serve(WebSocketTransport::from_listener(listener))
        .map_err(|e| anyhow::anyhow!("the device server stopped: {e}"))
}

/// Runs `argen device-server` (an argen built without the `remote` feature).
#[cfg(not(feature = "remote"))]
pub fn run(args: DeviceServerArgs) -> Result<()> {
    let _ = args;
    anyhow::bail!(
        "this argen was built without remote devices: build it with `cargo build --release --features remote`"
    )
}

#[cfg(test)]
mod tests {
    use super::needs_token;

    #[test]
    fn only_loopback_goes_without_a_token() {
        for (addr, needs) in [
            ("127.0.0.1:3000", false),
            ("[::1]:3000", false),
            ("0.0.0.0:3000", true),
            ("192.168.1.5:3000", true),
        ] {
            assert_eq!(needs_token(&addr.parse().unwrap()), needs, "{addr}");
        }
    }
}
