"""The login of `vsr ui`: both GRADIO_USERNAME and GRADIO_PASSWORD, or none and loopback only."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from vsr.errors import VsrError


def make_auth(env: dict[str, str], local_only: bool) -> Callable[[str, str], bool] | None:
    """The login check from GRADIO_USERNAME/GRADIO_PASSWORD; None only when run --local-only."""
    user, password = env.get("GRADIO_USERNAME", ""), env.get("GRADIO_PASSWORD", "")
    if bool(user) != bool(password):
        missing = "GRADIO_PASSWORD" if user else "GRADIO_USERNAME"
        raise VsrError(missing, "not set (set both GRADIO_USERNAME and GRADIO_PASSWORD)")
    if not user:
        if local_only:
            return None
        raise VsrError(
            "GRADIO_USERNAME",
            "not set: set GRADIO_USERNAME and GRADIO_PASSWORD for the login, "
            "or run `vsr ui --local-only` (no login, bound to 127.0.0.1)",
        )

    def check(given_user: str, given_password: str) -> bool:
        # Constant-time comparisons; both are evaluated so timing does not tell which was wrong.
        ok_user = hmac.compare_digest(given_user.encode(), user.encode())
        ok_password = hmac.compare_digest(given_password.encode(), password.encode())
        return ok_user and ok_password

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
