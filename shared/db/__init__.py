"""The authoritative store: models, engine/session, migrations."""
