"""Checks webhook requests with the official Standard Webhooks library (PyPI
`standardwebhooks`), independently of the service's own signing code.

stdin:  {"secrets": ["whsec_..."], "requests": [{"id", "timestamp", "signature", "body"}]}
stdout: for each request, the indices of the secrets under which it verifies.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

job = json.load(sys.stdin)
verified = []
for request in job["requests"]:
    headers = {
        "webhook-id": request["id"],
        "webhook-timestamp": request["timestamp"],
        "webhook-signature": request["signature"],
    }
    ok = []
    for index, secret in enumerate(job["secrets"]):
        try:
            Webhook(secret).verify(request["body"], headers)
            ok.append(index)
        except WebhookVerificationError:
            pass
    verified.append(ok)
json.dump(verified, sys.stdout)
