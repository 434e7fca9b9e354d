//! `dev-server ship <orderId> --status …`: what Shiprocket's tracking webhook does for a real
//! parcel, for a local one. It reads the order's AWB from the running dev server, builds the
//! Shiprocket-shaped tracking body for the status asked (picked up, in transit, out for
//! delivery, delivered, undelivered, rto, returned, lost, damaged — or any raw status id) and
//! posts it to the server's tracking webhook with the configured `x-api-key` token, as
//! Shiprocket would.

use oms_app::system::SystemClock;
use oms_core::ports::Clock;
use oms_core::tracking::simulate;
use serde_json::Value;

use crate::{AdminRead, DevSettings, read_order_as_admin};

/// `dev-server ship`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ShipArgs {
    /// The order (its `orderId`); it must have been paid and shipped (it has an AWB)
    #[arg(value_name = "ORDER_ID")]
    pub order_id: String,
    /// Where the parcel is now
    #[arg(long, value_parser = simulate::NAMED.map(|(n, _, _)| n), required_unless_present = "status_id")]
    pub status: Option<String>,
    /// Send this raw Shiprocket status id instead (an id this service does not map is shown
    /// as sent and moves nothing)
    #[arg(long, value_name = "ID", conflicts_with = "status")]
    pub status_id: Option<u32>,
    /// The running dev server [default: http://127.0.0.1:$PORT]
    #[arg(long, value_name = "BASE")]
    pub url: Option<String>,
}

/// Runs the command; returns what to print.
pub async fn run(settings: &DevSettings, args: ShipArgs) -> Result<String, String> {
    let AdminRead {
        base,
        api,
        http,
        admin,
        order,
    } = read_order_as_admin(settings, args.url.as_deref(), &args.order_id, "dev-ship").await?;
    let awb = order
        .pointer("/shipment/awb")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            format!(
                "order {} has no shipment with an AWB yet (is it paid, and has the worker shipped it? digital goods have none)",
                args.order_id
            )
        })?;
    let (status_id, label) = match (&args.status, args.status_id) {
        (_, Some(id)) => (id, "STATUS"),
        (Some(name), None) => simulate::named(name).ok_or("unknown status")?,
        (None, None) => return Err("give --status or --status-id".into()),
    };
    let body = simulate::shiprocket_body(awb, &args.order_id, status_id, label, SystemClock.now());
    let token = settings
        .config
        .shipping
        .tracking_tokens
        .optional_field("token")
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no SHIPROCKET_WEBHOOK_TOKEN is configured")?;
    let res = http
        .post(format!("{api}/webhooks/shiprocket"))
        .header("content-type", "application/json")
        .header("x-api-key", token.expose())
        .body(body)
        .send()
        .await
        .map_err(|e| format!("is the dev server running at {base}? ({e})"))?;
    let status = res.status();
    let answer = res.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("the tracking webhook answered {status}: {answer}"));
    }
    let after: Value = http
        .get(format!("{api}/orders/{}", args.order_id))
        .bearer_auth(&admin)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "sent Shiprocket status {status_id} ({label}) for AWB {awb}: order {} is {}, its shipment {}",
        args.order_id,
        after["status"].as_str().unwrap_or("?"),
        after
            .pointer("/shipment/status")
            .and_then(Value::as_str)
            .unwrap_or("?"),
    ))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::{Cli, Command};

    fn parse(args: &[&str]) -> Result<super::ShipArgs, clap::Error> {
        let mut all = vec!["dev-server", "ship"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all)?.subcommand() {
            Command::Ship(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn ship_arguments_parse_and_refuse_nonsense() {
        let a = parse(&["ord_1", "--status", "delivered"]).unwrap();
        assert_eq!(a.status.as_deref(), Some("delivered"));
        assert_eq!(
            parse(&["ord_1", "--status-id", "99"]).unwrap().status_id,
            Some(99)
        );
        assert!(parse(&["ord_1"]).is_err(), "a status is required");
        assert!(parse(&["ord_1", "--status", "teleported"]).is_err());
        assert!(parse(&["ord_1", "--status", "rto", "--status-id", "9"]).is_err());
    }
}
