//! `template.yaml` lets each function read exactly the payment providers' secrets that the
//! function reads — and so that its production gate checks at cold start. A function denied a
//! secret its gate reads would refuse to start in production; one granted more than it reads
//! breaks least privilege.

use oms_app::Function;
use oms_core::ProviderKind;

fn resource(f: Function) -> &'static str {
    match f {
        Function::CreateOrder => "CreateOrderFunction",
        Function::OrdersApi => "OrdersApiFunction",
        Function::PaymentWebhook => "PaymentWebhookFunction",
        Function::PostPaymentWorker => "PostPaymentWorkerFunction",
        Function::Cleanup => "CleanupFunction",
    }
}

/// The lines of a top-level resource, from its name to the next resource.
fn section<'a>(template: &'a str, name: &str) -> &'a str {
    let start = template
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("{name} is not in template.yaml"))
        + 1;
    let rest = &template[start..];
    let end = rest[1..]
        .match_indices("\n  ")
        .find(|(i, _)| {
            let after = &rest[1 + i + 3..];
            after.starts_with(|c: char| c.is_ascii_alphanumeric())
        })
        .map(|(i, _)| i + 1)
        .unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn each_function_may_read_exactly_the_provider_secrets_its_gate_checks() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let body = section(&template, resource(f));
        assert!(body.contains("Policies:"), "{}: {body}", resource(f));
        for (kind, param) in [
            (ProviderKind::Stripe, "StripeSecretArn"),
            (ProviderKind::Razorpay, "RazorpaySecretArn"),
        ] {
            let granted = body.contains(&format!(
                "Action: secretsmanager:GetSecretValue, Resource: !Ref {param}"
            ));
            let read = f.reads_provider_secrets().contains(&kind);
            assert_eq!(
                granted,
                read,
                "{} {} {param} but its code {} it",
                resource(f),
                if granted { "may read" } else { "may not read" },
                if read { "reads" } else { "does not read" },
            );
        }
    }
}

/// The carrier's credentials: the worker ships with them and orders-api's cancel route cancels
/// shipments with them; no other function calls the carrier, so none other may read them.
#[test]
fn only_the_functions_that_call_the_carrier_may_read_its_secret() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let granted = section(&template, resource(f))
            .contains("Action: secretsmanager:GetSecretValue, Resource: !Ref ShiprocketSecretArn");
        let calls = matches!(f, Function::OrdersApi | Function::PostPaymentWorker);
        assert_eq!(granted, calls, "{}", resource(f));
    }
}

/// The tracking webhook's token: only the function serving `POST /webhooks/shiprocket` checks
/// it, so only it is told where it is and may read it.
#[test]
fn only_the_tracking_webhook_may_read_its_token() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let body = section(&template, resource(f));
        let serves = f == Function::PaymentWebhook;
        assert_eq!(
            body.contains(
                "Action: secretsmanager:GetSecretValue, Resource: !Ref ShiprocketWebhookSecretArn"
            ),
            serves,
            "{}",
            resource(f)
        );
        assert_eq!(
            body.contains("SHIPROCKET_WEBHOOK_SECRET_ARN: !Ref ShiprocketWebhookSecretArn"),
            serves,
            "{}",
            resource(f)
        );
    }
    let globals = &template[template.find("\nGlobals:").expect("Globals")
        ..template.find("\nResources:").expect("Resources")];
    assert!(
        !globals.contains("ShiprocketWebhookSecretArn"),
        "not a global: no other function may be told"
    );
}

/// The post-payment dead-letter queue: only the function whose ops routes list it and move its
/// jobs back is told where it is and may touch it — receive, make visible again, delete, and
/// nothing else; the jobs go back with the `sqs:SendMessage` on the main queue it already has.
#[test]
fn only_the_function_with_the_dead_letter_routes_may_read_the_dead_letter_queue() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let body = section(&template, resource(f));
        let reads = f.reads_dead_letter_queue();
        assert_eq!(
            body.contains("DEAD_LETTER_QUEUE_URL: !Ref PostPaymentDlq"),
            reads,
            "{}: DEAD_LETTER_QUEUE_URL",
            resource(f)
        );
        let grants: Vec<&str> = body
            .lines()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].trim() == "Resource: !GetAtt PostPaymentDlq.Arn")
            .map(|w| w[0].trim())
            .collect();
        let expected: &[&str] = if reads {
            &["Action: [sqs:ReceiveMessage, sqs:ChangeMessageVisibility, sqs:DeleteMessage]"]
        } else {
            &[]
        };
        assert_eq!(grants, expected, "{}", resource(f));
        assert_eq!(
            body.matches("PostPaymentDlq").count(),
            if reads { 2 } else { 0 },
            "{}: the dead-letter queue is named only in its variable and its one grant",
            resource(f)
        );
        if reads {
            assert!(
                body.contains(
                    "Action: sqs:SendMessage\n              Resource: !GetAtt PostPaymentQueue.Arn"
                ),
                "{}: the redrive sends to the main queue",
                resource(f)
            );
        }
    }
}

/// The downloads bucket: only the function that serves `GET /orders/{orderId}/downloads/{sku}`
/// is told where it is, and may read only its `downloads/*` objects (a pre-signed link carries
/// the signer's permissions, so this is all a link can ever reach); no function may write it.
#[test]
fn only_the_function_with_the_download_route_may_read_product_files() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let body = section(&template, resource(f));
        let serves = f.serves_downloads();
        assert_eq!(
            body.contains("DOWNLOADS_BUCKET: !Ref DownloadsBucket"),
            serves,
            "{}: DOWNLOADS_BUCKET",
            resource(f)
        );
        let grants: Vec<&str> = body
            .lines()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].contains("DownloadsBucket.Arn"))
            .map(|w| w[0].trim())
            .collect();
        let expected: &[&str] = if serves {
            &["Action: s3:GetObject"]
        } else {
            &[]
        };
        assert_eq!(grants, expected, "{}", resource(f));
        if serves {
            assert!(
                body.contains(r#"Resource: !Sub "${DownloadsBucket.Arn}/downloads/*""#),
                "{}: downloads/* only",
                resource(f)
            );
        }
    }
}

/// Deleting items: only the worker clears anything (the outbox entry of the job it received,
/// `docs/decisions.md`, "The fulfilment outbox"); every other function's writes are puts and
/// conditional updates. Whether each function is granted what its requests need is checked
/// against the requests themselves, counted at the SDK (`crates/aws/tests/cost.rs`).
#[test]
fn only_the_worker_may_delete_items() {
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .expect("template.yaml");
    for f in Function::ALL {
        let body = section(&template, resource(f));
        assert!(body.contains("dynamodb:GetItem"), "{}", resource(f));
        assert_eq!(
            body.contains("dynamodb:DeleteItem"),
            f == Function::PostPaymentWorker,
            "{}",
            resource(f)
        );
    }
}
