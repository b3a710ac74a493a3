"""PostgreSQL's word index also holds the email's human engagement as tokens ("!c1": clicked;
fulltext.ENGAGEMENT_LEVELS), so that a word search beside an engagement condition is
answered inside the index. SQLite's FTS5 table is unchanged."""

from django.db import migrations

from commandcenter.search import fulltext

WITHOUT_TOKENS = (
    "(to_tsvector('simple', regexp_replace(subject || ' ' || body_text, '\\W+', ' ', 'g')) || "
    "array_to_tsvector(ARRAY['@' || owner_id::text]))"
)


def forwards(apps, schema_editor):
    fulltext.replace_postgres_index(schema_editor.connection, fulltext.PG_DOCUMENT.format(t=""))


def backwards(apps, schema_editor):
    fulltext.replace_postgres_index(schema_editor.connection, WITHOUT_TOKENS)


class Migration(migrations.Migration):
    atomic = False  # the index is built CONCURRENTLY
    dependencies = [("search", "0004_word_index_without_weights")]

    operations = [migrations.RunPython(forwards, backwards)]
