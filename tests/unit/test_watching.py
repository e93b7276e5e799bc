"""Reading watch streams (kodama.k8s.watching): lines split across chunks, ERROR events."""

from __future__ import annotations

import json

import pytest

from kodama.errors import ClusterError
from kodama.k8s.watching import WatchExpired, WatchHandle, parse_event, split_lines


def test_lines_are_whole_whatever_the_chunks() -> None:
    a = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "a"}}}).encode()
    b = json.dumps({"type": "DELETED", "object": {"metadata": {"name": "b"}}}).encode()
    stream = a + b"\n" + b + b"\n"
    for size in (1, 3, 7, len(stream)):
        chunks = iter([stream[i : i + size] for i in range(0, len(stream), size)])
        assert list(split_lines(chunks)) == [a, b]
    assert list(split_lines(iter([b"\n\n", a]))) == [a]  # blank lines and no final newline


def test_events_and_errors() -> None:
    kind, obj = parse_event(b'{"type":"MODIFIED","object":{"metadata":{"name":"p"}}}', "watch")
    assert kind == "MODIFIED" and obj["metadata"]["name"] == "p"
    gone = b'{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}'
    with pytest.raises(WatchExpired, match="too old"):
        parse_event(gone, "watch pods")
    other = b'{"type":"ERROR","object":{"kind":"Status","code":500,"message":"boom"}}'
    with pytest.raises(ClusterError, match="boom") as info:
        parse_event(other, "watch pods")
    assert not isinstance(info.value, WatchExpired)
    with pytest.raises(ClusterError, match="unreadable"):
        parse_event(b"{not json", "watch pods")


class _Response:
    def __init__(self) -> None:
        self.shut = 0

    def shutdown(self) -> None:
        self.shut += 1


def test_a_stopped_handle_ends_its_stream_even_when_attached_late() -> None:
    early, late = _Response(), _Response()
    h = WatchHandle()
    h.attach(early)
    h.stop()
    assert early.shut == 1 and h.stopped
    h.attach(late)  # the watch thread opened its next stream after stop()
    assert late.shut == 1
