// Revokes one RCS message through the rcs-revoker API, signed with SigV4 by the AWS SDK for JavaScript v3's
// signer (docs/callers.md). Usage: REVOKER_API_URL=<the ApiUrl output> node revoke.mjs <message_uuid>
// Credentials: the SDK's default chain (environment, profile, SSO, IAM Roles Anywhere's credential_process...).
import { Sha256 } from "@aws-crypto/sha256-js";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";

const apiUrl = process.env.REVOKER_API_URL; // e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/v1
const messageUuid = process.argv[2];
if (!apiUrl || !messageUuid) {
  console.error("usage: REVOKER_API_URL=https://.../v1 node revoke.mjs <message_uuid>");
  process.exit(2);
}
const url = new URL(`${apiUrl.replace(/\/$/, "")}/messages/${encodeURIComponent(messageUuid)}/revoke`);
const body = JSON.stringify({ region: "eu" });

const signer = new SignatureV4({
  service: "execute-api",
  region: process.env.AWS_REGION ?? "eu-west-1", // the API's region
  credentials: defaultProvider(),
  sha256: Sha256,
});
const signed = await signer.sign(
  new HttpRequest({
    method: "POST",
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    // host is signed: it must be the one fetch sends.
    headers: { host: url.host, "content-type": "application/json" },
    body,
  }),
);

const response = await fetch(url, { method: signed.method, headers: signed.headers, body: signed.body });
console.log(response.status, await response.text());
process.exitCode = response.ok ? 0 : 1;
