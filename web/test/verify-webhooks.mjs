// Checks webhook requests with the official Standard Webhooks library for Node.js (npm
// `standardwebhooks`), independently of the service's own signing code; the same protocol as
// scripts/py/verify_webhooks.py, so the tests can ask both.
//
// stdin:  {"secrets": ["whsec_..."], "requests": [{"id", "timestamp", "signature", "body"}]}
// stdout: for each request, the indices of the secrets under which it verifies.
import { Webhook, WebhookVerificationError } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const verified = job.requests.map((request) => {
  const headers = {
    "webhook-id": request.id,
    "webhook-timestamp": request.timestamp,
    "webhook-signature": request.signature,
  };
  const ok = [];
  job.secrets.forEach((secret, index) => {
    try {
      new Webhook(secret).verify(request.body, headers);
      ok.push(index);
    } catch (e) {
      if (!(e instanceof WebhookVerificationError)) throw e;
    }
  });
  return ok;
});
process.stdout.write(JSON.stringify(verified));
