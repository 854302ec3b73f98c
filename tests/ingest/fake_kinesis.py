"""A recording fake of the three Kinesis calls the source makes, for what moto cannot show.

After a shard split, AWS closes the parent (it keeps its records and gets an ending sequence
number) and routes every new record to the child that owns its hash key. moto 5 keeps routing
new records to the closed parent, and its public API offers no way around that, so resharding
is tested here, against this fake, behind the same client interface (`list_shards`,
`get_shard_iterator`, `get_records`, as botocore returns them). Everything else about Kinesis
is tested against moto's server over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_HASH = 2**128 - 1


@dataclass
class FakeShard:
    id: str
    start_hash: int
    end_hash: int
    parent: str | None = None
    records: list[tuple[int, bytes]] = field(default_factory=list)
    ending_sequence: int | None = None

    def describe(self) -> dict[str, Any]:
        sequences: dict[str, str] = {"StartingSequenceNumber": str(self._first())}
        if self.ending_sequence is not None:
            sequences["EndingSequenceNumber"] = str(self.ending_sequence)
        shard: dict[str, Any] = {
            "ShardId": self.id,
            "HashKeyRange": {
                "StartingHashKey": str(self.start_hash),
                "EndingHashKey": str(self.end_hash),
            },
            "SequenceNumberRange": sequences,
        }
        if self.parent is not None:
            shard["ParentShardId"] = self.parent
        return shard

    def _first(self) -> int:
        return self.records[0][0] if self.records else 0


class FakeKinesis:
    """One stream; records calls in `calls` so a test can see what the source asked."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.shards: dict[str, FakeShard] = {
            "shardId-000000000000": FakeShard("shardId-000000000000", 0, MAX_HASH)
        }
        self.calls: list[str] = []
        self._sequence = 0

    def put(self, hash_key: int, data: bytes) -> str:
        """A record goes to the open shard whose hash range holds `hash_key`, as in AWS."""
        shard = next(
            s
            for s in self.shards.values()
            if s.ending_sequence is None and s.start_hash <= hash_key <= s.end_hash
        )
        self._sequence += 1
        shard.records.append((self._sequence, data))
        return shard.id

    def split(self, shard_id: str, new_starting_hash: int) -> tuple[str, str]:
        parent = self.shards[shard_id]
        parent.ending_sequence = self._sequence
        children = (
            FakeShard(self._next_id(), parent.start_hash, new_starting_hash - 1, parent.id),
            FakeShard(self._next_id(1), new_starting_hash, parent.end_hash, parent.id),
        )
        for child in children:
            self.shards[child.id] = child
        return children[0].id, children[1].id

    def _next_id(self, offset: int = 0) -> str:
        return f"shardId-{len(self.shards) + offset:012d}"

    # --- the client interface KinesisEventSource uses ---------------------------------------

    def list_shards(self, **request: Any) -> dict[str, Any]:
        self.calls.append("list_shards")
        assert request.get("StreamName", self.stream) == self.stream
        return {"Shards": [s.describe() for s in self.shards.values()]}

    def get_shard_iterator(self, **request: Any) -> dict[str, str]:
        self.calls.append("get_shard_iterator")
        kind = request["ShardIteratorType"]
        after = {
            "TRIM_HORIZON": 0,
            "AT_SEQUENCE_NUMBER": int(request.get("StartingSequenceNumber", 0)) - 1,
            "AFTER_SEQUENCE_NUMBER": int(request.get("StartingSequenceNumber", 0)),
        }[kind]
        return {"ShardIterator": f"{request['ShardId']}|{after}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        self.calls.append("get_records")
        shard_id, after = ShardIterator.split("|")
        shard = self.shards[shard_id]
        batch = [(n, data) for n, data in shard.records if n > int(after)][:Limit]
        last = batch[-1][0] if batch else int(after)
        closed_and_read = shard.ending_sequence is not None and not [
            n for n, _ in shard.records if n > last
        ]
        return {
            "Records": [
                {"SequenceNumber": str(n), "Data": data, "PartitionKey": "k"} for n, data in batch
            ],
            # a closed shard read to its end has no next iterator, as in AWS
            "NextShardIterator": None if closed_and_read else f"{shard_id}|{last}",
            "MillisBehindLatest": 0,
        }
