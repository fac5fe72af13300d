"""Carry the keys of DRF's authtoken table over as hashes, then empty that table.

The old keys keep working (their SHA-256 becomes an ApiToken); no key stays in clear. The
table is read with SQL because rest_framework.authtoken is no longer an installed app; a
database that never had it has nothing to convert.
"""

import hashlib

from django.db import migrations


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("annotation", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        token = ApiToken.objects.create(
            user_id=user_id,
            name="converted",
            prefix=key[:8],
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
        )
        # created_at is auto_now_add: keep the original date with an update.
        ApiToken.objects.filter(pk=token.pk).update(created_at=created)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_api_tokens_hashed")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
