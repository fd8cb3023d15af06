"""Staff roles as auth groups, and the permissions each role holds.

The groups are created by a data migration; their permissions are (re)applied after every
``migrate`` because apps that land later bring permissions of their own.
"""

from __future__ import annotations

from typing import Any

from .models import Staff

ROLE_GROUPS: dict[str, str] = {
    Staff.Role.HQ_OPERATOR: "HQ operator",
    Staff.Role.STORE_MANAGER: "Store manager",
    Staff.Role.CLERK: "Clerk",
    Staff.Role.GUIDE: "Shopping guide",
}

# "app_label.*" grants every permission of an app; "app_label.codename" grants one.
# Permissions of apps not installed yet are skipped.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Staff.Role.HQ_OPERATOR: (
        "core.*",
        "stores.*",
        "catalog.*",
        "members.*",
        "loyalty.*",
        "orders.*",
        "insights.*",
        "campaigns.*",
        "django_celery_beat.*",
    ),
    Staff.Role.STORE_MANAGER: ("stores.use_store_pages",),
    Staff.Role.CLERK: ("stores.use_store_pages",),
    Staff.Role.GUIDE: ("stores.use_store_pages",),
}


def role_groups_sync(sender: Any = None, using: str = "default", **kwargs: Any) -> None:
    """Give each role's group exactly the permissions the policy names (idempotent)."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    for role, group_name in ROLE_GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=group_name)
        condition = Q(pk__in=[])
        for spec in ROLE_PERMISSIONS[role]:
            app_label, codename = spec.split(".", 1)
            if codename == "*":
                condition |= Q(content_type__app_label=app_label)
            else:
                condition |= Q(content_type__app_label=app_label, codename=codename)
        wanted = set(Permission.objects.using(using).filter(condition).values_list("pk", flat=True))
        current = set(group.permissions.values_list("pk", flat=True))
        if wanted != current:
            group.permissions.set(wanted)
