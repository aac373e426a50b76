"""Issue (or rotate, or revoke) a user's REST API token."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from govern.api.services import api_token_issue, api_token_revoke


class Command(BaseCommand):
    help = (
        "Create an API token for USER and print it (send it as 'Authorization: Token <key>'). "
        "The token carries USER's role: it can do exactly what USER can in the UI."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--rotate", action="store_true", help="Replace an existing token.")
        group.add_argument("--revoke", action="store_true", help="Delete the user's token.")

    def handle(self, *args, username: str, rotate: bool, revoke: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        label = "system:create_api_token"
        if revoke:
            if not api_token_revoke(user=user, actor_label=label):
                raise CommandError(f"User {username} has no API token.")
            self.stdout.write(self.style.SUCCESS(f"API token of {username} revoked."))
            return
        try:
            key = api_token_issue(user=user, actor_label=label, rotate=rotate)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(key)
