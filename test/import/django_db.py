"""A Django database for test/import/django.test.ts (issue 14), made by Django itself.

Reads {"url": "postgres://...", "users": [...]} on stdin. Runs Django's own `migrate` for
django.contrib.auth against that (empty) database, so auth_user has exactly the DDL Django
creates, then saves each user with its password hashed by make_password and the named hasher
(or an unusable one when "password" is null). Prints {"<username>": {"id": n, "password": "..."}}.
"""
import json
import sys
from urllib.parse import unquote, urlparse

try:
    import django
    from django.conf import settings
except ImportError as err:
    print(f"missing Python module: {err.name}", file=sys.stderr)
    sys.exit(3)

spec = json.load(sys.stdin)
url = urlparse(spec["url"])
settings.configure(
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": unquote(url.username or ""),
            "PASSWORD": unquote(url.password or ""),
            "HOST": url.hostname,
            "PORT": str(url.port or 5432),
        }
    },
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ],
    USE_TZ=True,
)
django.setup()
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402

if spec.get("migrate", True):
    call_command("migrate", verbosity=0, interactive=False)
out = {}
for u in spec["users"]:
    user = User(
        username=u["username"],
        email=u.get("email", ""),
        first_name=u.get("first_name", ""),
        last_name=u.get("last_name", ""),
        is_active=u.get("is_active", True),
        is_staff=u.get("is_staff", False),
    )
    if u.get("password") is None:
        user.set_unusable_password()
    else:
        user.password = make_password(u["password"], hasher=u.get("hasher", "default"))
    user.save()
    out[u["username"]] = {"id": user.id, "password": user.password, "date_joined": user.date_joined.isoformat()}
json.dump(out, sys.stdout)
