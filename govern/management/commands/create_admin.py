"""Create the first admin, non-interactively from the environment or interactively."""

from __future__ import annotations

import getpass
import os

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from govern.roles import ADMIN
from govern.services import user_create


class Command(BaseCommand):
    help = (
        "Create an admin user. With --no-input, reads GOVERN_ADMIN_USERNAME, "
        "GOVERN_ADMIN_PASSWORD and optionally GOVERN_ADMIN_EMAIL; otherwise asks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-input", action="store_true", help="Read from the environment.")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Succeed without changes when the username already exists.",
        )

    def handle(self, *args, no_input: bool, if_missing: bool, **options):
        if no_input:
            username = os.environ.get("GOVERN_ADMIN_USERNAME", "")
            password = os.environ.get("GOVERN_ADMIN_PASSWORD", "")
            email = os.environ.get("GOVERN_ADMIN_EMAIL", "")
            if not username or not password:
                raise CommandError(
                    "Set GOVERN_ADMIN_USERNAME and GOVERN_ADMIN_PASSWORD (and optionally "
                    "GOVERN_ADMIN_EMAIL) when using --no-input."
                )
        else:
            username = input("Username: ").strip()
            email = input("Email (optional): ").strip()
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            if if_missing:
                self.stdout.write(f"User {username} already exists; nothing changed.")
                return
            raise CommandError(f"User {username} already exists.")
        try:
            password_validation.validate_password(password, user_model(username=username))
        except ValidationError as exc:
            raise CommandError("Password rejected: " + " ".join(exc.messages)) from exc
        user_create(username=username, password=password, email=email, role=ADMIN)
        self.stdout.write(self.style.SUCCESS(f"Admin {username} created."))
