"""Who is calling: the authenticated identity behind a request, and its tenancy rules."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_gateway.domain.names import DEFAULT_USERNAME, validate_username
from mcp_gateway.domain.records import Role
from mcp_gateway.errors import Forbidden


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``username`` is the bound tenant of a ``user`` key."""

    key_id: str
    name: str
    role: Role
    username: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def require_admin(self) -> None:
        """Raise :class:`Forbidden` unless this is an admin key."""
        if self.role is not Role.ADMIN:
            raise Forbidden("this operation needs an admin API key")

    def acting_username(self, requested: str | None) -> str:
        """The username a request acts for.

        ``user`` keys act for their bound username only (another one is 403); ``service`` and
        ``admin`` keys act for the requested username, ``"default"`` when omitted.
        Raises :class:`Forbidden` or :class:`~mcp_gateway.errors.InvalidRequest`.
        """
        if self.role is Role.USER:
            if requested is not None and requested != self.username:
                raise Forbidden("this API key may only act for its own username")
            return self.username or DEFAULT_USERNAME
        if requested is None:
            return DEFAULT_USERNAME
        return validate_username(requested)


ANONYMOUS_ADMIN = Principal(key_id="anonymous", name="auth-mode-none", role=Role.ADMIN)
