"""A healthy stack logs no ERROR: the Kafka client's own reconnects become one-line warnings."""

from __future__ import annotations

import io
import logging

from services.common.runtime import _kafka_client_trouble_is_a_warning


def logged(name: str, level: int, exc: BaseException | None = None, message: str = "Cancelled") -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(_kafka_client_trouble_is_a_warning)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc is None:
            logger.log(level, "Metadata refresh: failed %s", message)
        else:
            try:
                raise exc
            except type(exc):
                logger.exception("Error receiving network data closing socket")
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_kafka_client_errors_are_logged_as_one_line_warnings_and_a_deliberate_close_not_at_all():
    assert logged("kafka.cluster", logging.ERROR) == ""  # "Metadata refresh: failed Cancelled": we closed it
    assert logged("kafka.cluster", logging.ERROR, message="KafkaConnectionError: 111 ECONNREFUSED") == (
        "WARNING kafka.cluster Metadata refresh: failed KafkaConnectionError: 111 ECONNREFUSED\n")
    text = logged("kafka.net.transport", logging.ERROR, ConnectionResetError(104, "Connection reset by peer"))
    assert text == ("WARNING kafka.net.transport Error receiving network data closing socket "
                    "(ConnectionResetError(104, 'Connection reset by peer'))\n")


def test_our_own_errors_stay_errors_with_their_traceback():
    assert logged("events.consumer", logging.ERROR).startswith("ERROR events.consumer")
    text = logged("events.relay", logging.ERROR, RuntimeError("boom"))
    assert text.startswith("ERROR events.relay") and "Traceback" in text
