"""Target guard: load goes to loopback only, unless the operator explicitly allows a remote host
(running locust from another machine against a deployed balancer, as the course asks)."""

import ipaddress
import socket
import urllib.parse


class TargetError(ValueError):
    """The target URL is malformed or not allowed."""


def check_target(url: str, allow_remote: bool) -> str:
    """Returns the URL without a trailing slash, or raises TargetError."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise TargetError(f"{url!r} is not an http(s)://host[:port] URL")
    if not allow_remote:
        try:
            infos = socket.getaddrinfo(parsed.hostname, parsed.port or 80, proto=socket.IPPROTO_TCP)
        except socket.gaierror as error:
            raise TargetError(f"cannot resolve {parsed.hostname}: {error}") from error
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
        if not all(address.is_loopback for address in addresses):
            raise TargetError(
                f"{parsed.hostname} is not a loopback address; pass --allow-remote to load a "
                "deployed host you operate")
    return url.rstrip("/")
