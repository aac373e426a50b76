"""Django admin registrations (admins only); audit events are read-only there."""

from django.contrib import admin

from .models import AuditEvent, Identity, Owner


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "escalation_contact")
    search_fields = ("name", "email")


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("display_name", "login", "kind", "privilege_tier", "owner", "status")
    list_filter = ("kind", "privilege_tier", "status")
    search_fields = ("display_name", "login")
    raw_id_fields = ("owner",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_label", "verb", "object_repr", "client_ip")
    list_filter = ("verb",)
    search_fields = ("actor_label", "verb", "object_repr")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
