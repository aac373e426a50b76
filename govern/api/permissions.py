"""The API checks the same Django permissions as the pages, per viewset action."""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class ActionPermission(BasePermission):
    """Requires ``view.action_permissions[view.action]``: a Django permission name, or a tuple
    of names of which any one suffices.

    An action missing from the map is refused, so a new endpoint cannot ship unguarded.
    """

    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        required = getattr(view, "action_permissions", {}).get(view.action)
        if not required:
            return False
        names = (required,) if isinstance(required, str) else required
        return any(user.has_perm(name) for name in names)
