"""Prepares the mixed workload wrk replays against a running dev server (scripts/bench-load).

Creates ORDERS guest orders over HTTP (Razorpay, offline stand-in), then writes requests.lua:
for each order, a read of it (X-Order-Token), a signed `payment.captured` webhook that pays it
(the first pass pays, later passes are the provider's redeliveries: deduplicated), a catalog
read and a new order. wrk's threads walk this list from different offsets.

Usage: python3 prepare.py BASE_URL ORDERS OUT.lua WEBHOOK_SECRET
"""

import hashlib
import hmac
import json
import sys
import urllib.request

base, count, out, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
prefix = "/api/v1"

ORDER = {
    "items": [{"sku": "CHAI-250G", "quantity": 1}],
    "currency": "INR",
    "paymentProvider": "razorpay",
    "customer": {"email": "load@example.in", "name": "Load Test", "phone": "+91 98765 43210"},
    "shippingAddress": {"name": "Load Test", "line1": "12 MG Road", "city": "Bengaluru",
                        "state": "Karnataka", "postalCode": "560001", "country": "IN"},
}
order_body = json.dumps(ORDER, separators=(",", ":"))


def create():
    req = urllib.request.Request(base + prefix + "/orders", data=order_body.encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as res:
        assert res.status == 201, res.status
        return json.load(res)


def captured(order, n):
    payment = {
        "id": f"pay_load{n:06d}", "entity": "payment", "amount": order["amount"],
        "currency": order["currency"], "status": "captured",
        "order_id": order["payment"]["providerOrderId"], "method": "upi", "captured": True,
        "email": "load@example.in", "contact": "+919876543210",
        "notes": {"orderId": order["orderId"]}, "created_at": 1800000000,
    }
    return json.dumps({"entity": "event", "account_id": "acc_load", "event": "payment.captured",
                       "contains": ["payment"], "payload": {"payment": {"entity": payment}},
                       "created_at": 1800000000}, separators=(",", ":"))


def lua(s):
    assert "]==]" not in s
    return "[==[" + s + "]==]"


requests = []
for n in range(count):
    order = create()
    body = captured(order, n)
    sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    requests.append(("GET", f"{prefix}/orders/{order['orderId']}",
                     {"X-Order-Token": order["accessToken"]}, ""))
    requests.append(("POST", f"{prefix}/webhooks/razorpay",
                     {"Content-Type": "application/json", "X-Razorpay-Signature": sig,
                      "X-Razorpay-Event-Id": f"evt_load{n:06d}"}, body))
    requests.append(("GET", f"{prefix}/products", {}, ""))
    requests.append(("POST", f"{prefix}/orders", {"Content-Type": "application/json"},
                     order_body))

with open(out, "w") as f:
    f.write("return {\n")
    for method, path, headers, body in requests:
        h = ", ".join(f"[ {lua(k)} ] = {lua(v)}" for k, v in headers.items())
        f.write(f"  {{ {lua(method)}, {lua(path)}, {{ {h} }}, {lua(body)} }},\n")
    f.write("}\n")
print(f"prepared {len(requests)} requests for {count} orders")
