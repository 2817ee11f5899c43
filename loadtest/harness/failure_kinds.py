"""How a failed request is named in the fault suite's request log: what the client saw."""


def failure_kind(response, exception) -> str:
    """What a failed request saw, e.g. `503 store_unavailable retry-after` or
    `0 ConnectionResetError`: the status, the JSON error code, and whether `Retry-After` came."""
    status = getattr(response, "status_code", 0) or 0
    if not status:
        return f"0 {type(exception).__name__}"
    parts = [str(status)]
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 (any unparsable body simply has no error code)
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        parts.append(body["error"][:40])
    headers = getattr(response, "headers", None) or {}
    if headers.get("Retry-After") is not None:
        parts.append("retry-after")
    return " ".join(parts)
