"""Word search (SQLite FTS5 / PostgreSQL GIN), the engagement triggers, and the index that
serves most filters from the index alone: a rep's emails newest first (the first page stops
after 50 matches, no sort), with the columns engagement and status filters test (counts
never read the table)."""

from django.db import migrations

from commandcenter.search import engagement, fulltext

COUNTS_INDEX = (
    "CREATE INDEX IF NOT EXISTS search_email_engagement ON outbox_email "
    "(owner_id, sort_at, id, status, opens, clicks, replies, sent_at, person_id)"
)


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    fulltext.install(connection)
    engagement.install_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_INDEX)
    if connection.vendor == "sqlite":
        # Emails written before this migration get into the word index too.
        with connection.cursor() as cursor:
            for statement in fulltext.SQLITE_REBUILD:
                cursor.execute(statement)
    engagement.rebuild(connection)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    fulltext.uninstall(connection)
    engagement.drop_triggers(connection)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS search_email_engagement")


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_saved_searches_and_engagement"),
        ("outbox", "0007_merge_campaigns_and_rendered_content"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
