"""Database routing: writes to the primary; reads to the replica only where a request asks.

``crm.replica.ReplicaReadsMiddleware`` decides per request (list and report pages, the user
has no write the replica has not replayed yet, the replica is up) and sets
``crm.replica.read_alias`` for the duration of the view; everything else — every write,
every Celery task, every other page — reads the primary (docs/scaling.md).
"""

from crm.replica import read_alias


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        return read_alias.get()

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
