"""Password hashes made by the real tools, for test/import (issue 14).

Reads {"password": "..."} on stdin, prints {"<format>": "<hash>", ...} on stdout: Django's
make_password with each of its hashers, the bcrypt, argon2-cffi and passlib libraries. Exits
with status 3 and a message naming the missing module when one is not installed.
"""
import base64
import hashlib
import json
import sys

try:
    import argon2
    import bcrypt
    import django
    from django.conf import settings
except ImportError as err:
    print(f"missing Python module: {err.name}", file=sys.stderr)
    sys.exit(3)

settings.configure(
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ]
    + (["django.contrib.auth.hashers.ScryptPasswordHasher"] if django.VERSION >= (4, 0) else []),
)
django.setup()
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

password = json.load(sys.stdin)["password"]
raw = password.encode()
out = {
    "django-pbkdf2_sha256": make_password(password, hasher="pbkdf2_sha256"),
    "django-pbkdf2_sha1": make_password(password, hasher="pbkdf2_sha1"),
    "django-argon2": make_password(password, hasher="argon2"),
    "django-bcrypt_sha256": make_password(password, hasher="bcrypt_sha256"),
    "django-bcrypt": make_password(password, hasher="bcrypt"),
    # An old Django's iteration count: accepted for the one sign-in that replaces it.
    "django-pbkdf2_sha256-1000": PBKDF2PasswordHasher().encode(password, get_random_string(12), iterations=1000),
    "bcrypt-2a": bcrypt.hashpw(raw, bcrypt.gensalt(rounds=6, prefix=b"2a")).decode(),
    "bcrypt-2b": bcrypt.hashpw(raw, bcrypt.gensalt(rounds=6, prefix=b"2b")).decode(),
    "argon2id": argon2.PasswordHasher().hash(password),
    "argon2i": argon2.PasswordHasher(type=argon2.Type.I).hash(password),
}
if django.VERSION >= (4, 0):
    out["django-scrypt"] = make_password(password, hasher="scrypt")
else:
    # Django 3 has no ScryptPasswordHasher: Django 4's encode() written out, on the same hashlib.scrypt.
    salt = get_random_string(22)
    key = hashlib.scrypt(raw, salt=salt.encode(), n=2**14, r=8, p=1, maxmem=0, dklen=64)
    out["django-scrypt"] = "scrypt$%d$%s$%d$%d$%s" % (2**14, salt, 8, 1, base64.b64encode(key).decode())
try:
    from passlib.hash import bcrypt as passlib_bcrypt
    from passlib.hash import scrypt as passlib_scrypt

    # python-bcrypt cannot write PHP's $2y$; passlib can.
    out["bcrypt-2y"] = passlib_bcrypt.using(ident="2y", rounds=6).hash(password)
    out["scrypt"] = passlib_scrypt.using(rounds=14).hash(password)
except ImportError:
    pass
json.dump(out, sys.stdout)
