// The API's errors as the page shows them: its own message, and the status, field and code beside it.

/** {message, detail} of a failed response: the API's `{"error": {...}}`, or the text a proxy sent. */
export async function apiError(response) {
  const text = await response.text();
  let error = null;
  try {
    error = JSON.parse(text).error ?? null;
  } catch { /* not the API's JSON: shown as it came */ }
  if (!error) return { message: text || response.statusText, detail: `HTTP ${response.status}` };
  return { message: error.message, detail: describe(response.status, error) };
}

/** "HTTP 400 · field width · invalid_value" (no status for a stream's `error` event). */
export function describe(status, error) {
  return [status && `HTTP ${status}`, error.param && `field ${error.param}`, error.code].filter(Boolean).join(" · ");
}
