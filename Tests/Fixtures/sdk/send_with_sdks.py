"""Sends events to `coffer serve` with the real Segment and RudderStack Python SDKs.

Usage: send_with_sdks.py HOST_URL WRITE_KEY RUN_ID
Prints one line per SDK with the calls it made; exits 1 if an SDK reported an error.
The collector test (CollectorSDKTests) runs it and then drains the inbox.
"""
import sys

import rudderstack.analytics as rudder
import segment.analytics as segment

host, key, run = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []


def failed(error, items):
    errors.append(f"{error} ({len(items)} events)")


# Segment's analytics-python: HTTP Basic key, JSON batches to HOST/v1/batch.
segment.write_key = key
segment.host = host
segment.on_error = failed
segment.identify(f"sdk-{run}", {"email": f"sdk.{run}@example.com", "firstName": "Sam"})
segment.track(f"sdk-{run}", "Order Completed", {"revenue": 12.5, "currency": "EUR"})
segment.page(f"sdk-{run}", "Docs", "Getting started", {"url": "https://shop.example/docs"})
segment.screen(f"sdk-{run}", "App", "Basket")
segment.group(f"sdk-{run}", f"group-{run}", {"name": "Cafe"})
segment.alias(f"sdk-{run}-old", f"sdk-{run}")
segment.flush()
segment.shutdown()
print("segment: 6 calls")

# RudderStack's Python SDK: gzipped JSON batches to dataPlaneUrl/v1/batch.
rudder.write_key = key
rudder.dataPlaneUrl = host
rudder.on_error = failed
rudder.identify(f"rudder-{run}", {"email": f"rudder.{run}@example.com"})
rudder.track(f"rudder-{run}", "Product Viewed", {"sku": "SKU-1", "price": 3.5})
rudder.track(f"rudder-{run}", "Order Completed", {"revenue": 7})
rudder.flush()
rudder.shutdown()
print("rudderstack: 3 calls")

if errors:
    print("SDK errors: " + "; ".join(errors), file=sys.stderr)
    sys.exit(1)
