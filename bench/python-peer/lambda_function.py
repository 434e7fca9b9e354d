"""Stripe webhook as the seed shops' Python Lambdas do it: the `stripe` library checks the
signature and parses the event, then boto3 writes DynamoDB conditionally (an event-dedupe item
that must not exist yet, and the order's status flip from pending_payment to paid).

The Python peer of the Rust `payment-webhook` in the cold-start benchmark
(scripts/bench-coldstart). It writes to the same single table (ORDER#<id>/ORDER,
EVENT#stripe#<eventId>/EVENT) on the same local AWS API server. Like those shops, clients and
secrets are set up at import time, once per cold start.
"""

import base64
import json
import os
import time

import boto3
import stripe
from botocore.exceptions import ClientError

TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
WEBHOOK_SECRET = os.environ["STRIPE_WEBHOOK_SECRET"]
EVENT_TTL_SECONDS = 4 * 24 * 60 * 60


def _answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _conditional_failed(err):
    return err.response["Error"]["Code"] == "ConditionalCheckFailedException"


def handler(event, context):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8")
    signature = (event.get("headers") or {}).get("stripe-signature")
    try:
        stripe_event = stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError):
        return _answer(400, {"error": {"code": "invalid_signature"}})

    if stripe_event["type"] != "checkout.session.completed":
        return _answer(200, {"received": True})
    # Stripe objects are no longer dicts (stripe >= 12): read the session as one.
    session = stripe_event["data"]["object"].to_dict()
    order_id = session["metadata"]["orderId"]
    now = int(time.time())

    try:
        TABLE.put_item(
            Item={
                "PK": f"EVENT#stripe#{stripe_event['id']}",
                "SK": "EVENT",
                "eventType": stripe_event["type"],
                "orderId": order_id,
                "receivedAt": now,
                "ttl": now + EVENT_TTL_SECONDS,
            },
            ConditionExpression="attribute_not_exists(PK)",
        )
    except ClientError as err:
        if _conditional_failed(err):
            return _answer(200, {"received": True})  # a redelivery: already handled
        raise

    if session.get("payment_status") == "paid":
        try:
            TABLE.update_item(
                Key={"PK": f"ORDER#{order_id}", "SK": "ORDER"},
                UpdateExpression="SET #status = :paid, paidAt = :now, paymentIntentId = :pi",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":paid": "paid",
                    ":pending": "pending_payment",
                    ":now": now,
                    ":pi": session.get("payment_intent") or "",
                },
            )
        except ClientError as err:
            if not _conditional_failed(err):
                raise
    return _answer(200, {"received": True})
