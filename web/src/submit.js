// Submits what <liveness-capture> fired, as the seed's multipart request, with the capture
// token the element sealed for. Resolves to the verdict JSON (or the error body, with
// `status`); rejects only when the server cannot be reached.

/**
 * @param {string} apiBase the liveness service's URL
 * @param {{ photo: Blob, encryptedFile: Blob, captureToken: string }} capture event.detail[0]
 * @param {Record<string, string>} fields more form fields (defaults: details, return_id)
 */
export async function submitCapture(apiBase, capture, fields = { details: "true", return_id: "true" }) {
  const form = new FormData();
  form.append("encrypted_file", capture.encryptedFile);
  form.append("selfie", capture.photo, "selfie.jpeg");
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const response = await fetch(`${apiBase.replace(/\/$/, "")}/api/v3/biometrics/liveness/`, {
    method: "POST",
    headers: { Authorization: `Bearer ${capture.captureToken}` },
    body: form,
  });
  const body = await response.json().catch(() => ({}));
  return response.ok ? body : { status: response.status, ...body };
}
