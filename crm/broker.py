"""The Redis broker transport, with two fixes that keep a worker alive across a Redis restart.

With celery/kombu 5.7.0, a worker whose Redis restarts while it runs a task exits for good::

    consumer: Connection to broker lost. Trying to re-establish the connection...
    Restoring 1 unacknowledged message(s)
    CRITICAL ... Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")

How it happens (reproduced by ``crm/tests/test_broker.py``): on a lost connection the
consumer calls ``connection.collect()`` and then, new in celery 5.7.0,
``connection.close()``. ``collect()`` closes the channel, but the channel was waiting on a
BRPOP, so ``Channel.close()`` first reads the pending reply to not lose a popped message;
Redis is gone, that read raises ``ConnectionError`` and the close stops half way (the channel
stays open). ``collect()`` ignores the error and detaches the transport from the connection
(``transport.client = None``). ``close()`` then closes the channel a second time; now it
gets as far as restoring the unacknowledged message of the running task, which builds a
Redis client from ``transport.client`` — ``None`` — and the ``AttributeError`` is not one of
the connection errors the consumer ignores, so the worker stops. An idle worker has no
unacknowledged message to restore, which is why only a restart during a task kills it.

The fixes, both in the channel:

1. A BRPOP whose connection is already dead has nothing left to read: ``close()`` goes on
   closing (and tries to restore the unacknowledged messages while the transport is still
   attached) instead of stopping half way.
2. A channel whose transport was detached raises a Redis ``ConnectionError`` when it needs
   a new client, instead of the ``AttributeError``: every caller already handles that one
   (the consumer ignores it while reconnecting; a late acknowledgement logs it, and the
   message comes back after the visibility timeout).

Used through ``CELERY_BROKER_TRANSPORT`` in settings; remove once kombu/celery fix it.
"""

from __future__ import annotations

from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def close(self) -> None:
        if self._in_poll:
            try:
                self._brpop_read()
            except Empty:
                pass
            except self.connection_errors:
                pass  # the connection died with the BRPOP in flight: nothing to read
        super().close()

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
