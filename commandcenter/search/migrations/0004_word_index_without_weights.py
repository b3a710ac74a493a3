"""PostgreSQL's word index without weights (the owner's token is "@42" instead of an "o42" of
weight A): a weighted query made the index recheck each row it found, i.e. run the text
functions on it. SQLite's FTS5 table is unchanged."""

from django.db import migrations

from commandcenter.search import fulltext

OLD_DOCUMENT = (
    "(setweight(to_tsvector('simple', regexp_replace(subject || ' ' || body_text, '\\W+', ' ', "
    "'g')), 'D') || setweight(to_tsvector('simple', 'o' || owner_id::text), 'A'))"
)


def forwards(apps, schema_editor):
    fulltext.replace_postgres_index(schema_editor.connection, fulltext.PG_DOCUMENT.format(t=""))


def backwards(apps, schema_editor):
    fulltext.replace_postgres_index(schema_editor.connection, OLD_DOCUMENT)


class Migration(migrations.Migration):
    atomic = False  # the index is built CONCURRENTLY
    dependencies = [("search", "0003_engagement_index_in_email_order")]

    operations = [migrations.RunPython(forwards, backwards)]
