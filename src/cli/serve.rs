//! `wirecheck serve`: the built-in reference target on loopback until Ctrl-C.

use super::{CliError, ServeArgs};
use crate::reference::{Reference, ReferenceOptions};

/// Serves until interrupted; returns the exit code.
pub async fn serve(args: &ServeArgs) -> Result<u8, CliError> {
    if args.list_faults {
        for (name, what) in crate::reference::faults() {
            println!("{name:28} {what}");
        }
        return Ok(super::exit::OK);
    }
    let opts = ReferenceOptions {
        faults: args.faults.clone(),
        mqtt_port: args.mqtt_port,
        xmpp_port: args.xmpp_port,
    };
    let reference = Reference::start_with(&opts)
        .await
        .map_err(|e| CliError::BadInput(e.to_string()))?;
    println!("MQTT      {}", reference.mqtt_endpoint());
    println!("MQTT/WS   {}", reference.mqtt_ws_url());
    println!(
        "XMPP/WS   {}  (domain {})",
        reference.xmpp_endpoint(),
        reference.domain()
    );
    for a in reference.accounts() {
        println!(
            "account   {}@{}  password {}",
            a.user,
            reference.domain(),
            a.password.expose()
        );
    }
    if !args.faults.is_empty() {
        println!("faults    {}", args.faults.join(", "));
    }
    println!("serving on loopback; Ctrl-C stops");
    let _ = tokio::signal::ctrl_c().await;
    Ok(super::exit::OK)
}
